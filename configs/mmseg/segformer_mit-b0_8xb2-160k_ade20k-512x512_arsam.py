# ARSAM around the model-zoo config's own optimizer (AdamW with its
# paramwise_cfg): the two keys of the switch, plus the authors' warm-up (3
# of 200 epochs, 1.5% of the run) and window 50 (the default). Its
# optimizer, paramwise_cfg, clip_grad and hooks stay.
_base_ = 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='ARSAMOptimWrapper', rho=0.05, warmup_ratio=0.015)
