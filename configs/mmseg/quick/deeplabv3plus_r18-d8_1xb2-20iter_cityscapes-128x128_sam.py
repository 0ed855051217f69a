# Quick CPU run of ../deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512_sam.py
# (the real variant; _base_/deeplabv3plus_r18-d8.py says what shrinks).
_base_ = [
    '../deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512_sam.py',
    './_base_/deeplabv3plus_r18-d8.py'
]
model = {{_base_.quick.model}}
train_dataloader = {{_base_.quick.train_dataloader}}
val_dataloader = {{_base_.quick.val_dataloader}}
test_dataloader = {{_base_.quick.test_dataloader}}
train_cfg = {{_base_.quick.train_cfg}}
default_hooks = {{_base_.quick.default_hooks}}
