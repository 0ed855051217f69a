# SAM around the model-zoo config's own optimizer (SGD): the two keys
# of the switch. Its optimizer, paramwise_cfg, clip_grad and hooks stay.
_base_ = 'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
