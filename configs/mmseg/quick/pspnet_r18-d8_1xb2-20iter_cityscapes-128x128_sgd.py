# Quick CPU run of ../pspnet_r50-d8_4xb2-40k_cityscapes-512x1024_sgd.py
# (the real variant; _base_/pspnet_r18-d8.py says what shrinks).
_base_ = [
    '../pspnet_r50-d8_4xb2-40k_cityscapes-512x1024_sgd.py',
    './_base_/pspnet_r18-d8.py'
]
model = {{_base_.quick.model}}
train_dataloader = {{_base_.quick.train_dataloader}}
val_dataloader = {{_base_.quick.val_dataloader}}
test_dataloader = {{_base_.quick.test_dataloader}}
train_cfg = {{_base_.quick.train_cfg}}
default_hooks = {{_base_.quick.default_hooks}}
