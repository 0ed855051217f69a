# Quick CPU run of ../fcn_r50-d8_4xb2-40k_cityscapes-512x1024_arsam.py
# (the real variant; _base_/fcn_r18-d8.py says what shrinks).
_base_ = [
    '../fcn_r50-d8_4xb2-40k_cityscapes-512x1024_arsam.py',
    './_base_/fcn_r18-d8.py'
]
model = {{_base_.quick.model}}
train_dataloader = {{_base_.quick.train_dataloader}}
val_dataloader = {{_base_.quick.val_dataloader}}
test_dataloader = {{_base_.quick.test_dataloader}}
train_cfg = {{_base_.quick.train_cfg}}
default_hooks = {{_base_.quick.default_hooks}}
# ARSAM sized for 20 iterations: the real variant's window of 50 and 1.5%
# warm-up
# (0 iterations here) would leave the run inside one window, likely without
# a single SAM step. Instead: 4 warm-up SAM steps, then windows of 4
# iterations (1 SAM step each at first), so both kinds of step occur.
optim_wrapper = dict(warmup_iters=4, warmup_ratio=None, window=4)
