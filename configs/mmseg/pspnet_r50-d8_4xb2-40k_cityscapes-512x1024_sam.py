# SAM around the model-zoo config's own optimizer (SGD).
_base_ = [
    'mmseg::pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py',
    '../_base_/sam.py'
]
optim_wrapper = {{_base_.sam_optim_wrapper}}
custom_hooks = {{_base_.sam_custom_hooks}}
