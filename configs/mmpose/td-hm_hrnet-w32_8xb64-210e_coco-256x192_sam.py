# SAM around the model-zoo config's own optimizer (Adam): the two keys
# of the switch. Its optimizer, paramwise_cfg, clip_grad and hooks stay.
_base_ = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py')
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
