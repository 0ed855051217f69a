# SAM around the model-zoo config's own optimizer (AdamW with its
# paramwise_cfg): the two keys of the switch. Its optimizer, paramwise_cfg,
# clip_grad and hooks (PipelineSwitchHook) stay.
_base_ = ('mmpose::body_2d_keypoint/rtmpose/coco/'
          'rtmpose-t_8xb256-420e_coco-256x192.py')
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
