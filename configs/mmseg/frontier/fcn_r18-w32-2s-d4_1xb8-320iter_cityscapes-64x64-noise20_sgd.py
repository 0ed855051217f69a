# Frontier segmentation task, plain SGD: FCN on a two-stage width-32
# ResNetV1c-18, 64x64 generated Cityscapes-layout images with 20%-noisy
# train masks, 320 iterations (what and why: ./_base_/). Data:
#   python tools/generate_data.py cityscapes \
#       --out data/frontier/cityscapes-64x64-noise20 --size 64x64 \
#       --num-train 64 --num-val 32 --label-noise 0.2
# The zoo config's SGD (momentum 0.9, weight decay 5e-4, PolyLR) with lr
# 0.1 instead of 0.01: at 0.01 this model learns nothing but background in
# the budget (reports/frontier/search_segmentation.md).
_base_ = [
    '../fcn_r50-d8_4xb2-40k_cityscapes-512x1024_sgd.py',
    './_base_/fcn_r18-w32-2s-d4_1xb8-320iter_cityscapes-64x64-noise20.py'
]
model = {{_base_.quick.model}}
train_dataloader = {{_base_.quick.train_dataloader}}
val_dataloader = {{_base_.quick.val_dataloader}}
test_dataloader = {{_base_.quick.test_dataloader}}
train_cfg = {{_base_.quick.train_cfg}}
param_scheduler = {{_base_.quick.param_scheduler}}
default_hooks = {{_base_.quick.default_hooks}}
optim_wrapper = dict(optimizer=dict(lr=0.1))
