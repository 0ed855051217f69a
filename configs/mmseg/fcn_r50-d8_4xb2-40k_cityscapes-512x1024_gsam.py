# GSAM (Zhuang et al., ICLR 2022): SAM's gradient minus alpha times
# the part of g orthogonal to it, on every step,
# around the model-zoo config's own optimizer (SGD);
# everything else as the baseline.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='GSAMOptimWrapper', rho=0.05, alpha=0.1)
