# ARSAM around the model-zoo config's own optimizer (SGD): the two keys
# of the switch, plus the authors' warm-up (3 of 200 epochs, 1.5% of the
# run) and window 50 (the default). Its optimizer, paramwise_cfg,
# clip_grad and hooks stay.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='ARSAMOptimWrapper', rho=0.05, warmup_ratio=0.015)
