# Quick CPU run of ../simcc_res50_8xb64-210e_coco-256x192_arsam.py
# (the real variant; _base_/simcc_res18.py says what shrinks).
_base_ = [
    '../simcc_res50_8xb64-210e_coco-256x192_arsam.py',
    './_base_/simcc_res18.py'
]
model = {{_base_.quick.model}}
train_dataloader = {{_base_.quick.train_dataloader}}
val_dataloader = {{_base_.quick.val_dataloader}}
test_dataloader = {{_base_.quick.test_dataloader}}
val_evaluator = {{_base_.quick.val_evaluator}}
test_evaluator = {{_base_.quick.test_evaluator}}
train_cfg = {{_base_.quick.train_cfg}}
param_scheduler = {{_base_.quick.param_scheduler}}
default_hooks = {{_base_.quick.default_hooks}}
log_processor = {{_base_.quick.log_processor}}
# ARSAM sized for 20 iterations: the real variant's window of 50 and 1.5%
# warm-up
# (0 iterations here) would leave the run inside one window, likely without
# a single SAM step. Instead: 4 warm-up SAM steps, then windows of 4
# iterations (1 SAM step each at first), so both kinds of step occur.
optim_wrapper = dict(warmup_iters=4, warmup_ratio=None, window=4)
