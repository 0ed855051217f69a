# SAM around the model-zoo config's own optimizer (Adam).
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_res50_8xb64-210e_coco-256x192.py',
    '../_base_/sam.py'
]
optim_wrapper = {{_base_.sam_optim_wrapper}}
# mmpose's default_runtime.py already has custom_hooks: keep them.
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='ARSAMHook')]
