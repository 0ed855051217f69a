# Quick CPU run of ../td-hm_res50_8xb64-210e_coco-256x192_sam.py
# (the real variant; _base_/td-hm_res18.py says what shrinks).
_base_ = [
    '../td-hm_res50_8xb64-210e_coco-256x192_sam.py',
    './_base_/td-hm_res18.py'
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
