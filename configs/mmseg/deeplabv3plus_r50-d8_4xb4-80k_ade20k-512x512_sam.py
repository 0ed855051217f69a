# SAM around the model-zoo config's own optimizer (SGD).
_base_ = [
    'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512.py',
    '../_base_/sam.py'
]
optim_wrapper = {{_base_.sam_optim_wrapper}}
custom_hooks = {{_base_.sam_custom_hooks}}
