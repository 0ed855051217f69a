# ARSAM on SegFormer-B5 (82M parameters) trained sharded: mmengine's
# FlexibleRunner with SAMFSDPStrategy (FSDPStrategy that keeps the SAM
# state in checkpoints and gives the AMP twins the sharded grad scaler).
# The two keys of the switch plus the sharding keys; the zoo config's
# AdamW, paramwise_cfg and schedule stay. Launch with torchrun / dist_train
# (launcher 'pytorch'): the family needs use_orig_params=True (the
# optimizer steps the original parameters' local shards). For less memory
# per GPU, wrap blocks separately with an auto_wrap_policy in model_wrapper.
_base_ = 'mmseg::segformer/segformer_mit-b5_8xb2-160k_ade20k-640x640.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
runner_type = 'FlexibleRunner'
strategy = dict(
    type='SAMFSDPStrategy',
    model_wrapper=dict(use_orig_params=True))
optim_wrapper = dict(
    type='ARSAMOptimWrapper', rho=0.05, warmup_ratio=0.015)
