# ARSAM around the model-zoo config's own optimizer (Adam).
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py',
    '../_base_/arsam.py'
]
optim_wrapper = {{_base_.arsam_optim_wrapper}}
# mmpose's default_runtime.py already has custom_hooks: keep them, then the
# fragment's ARSAMHook (warm-up 1.5% of the run, as _base_/arsam.py).
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='ARSAMHook', warmup_ratio=0.015)
]
