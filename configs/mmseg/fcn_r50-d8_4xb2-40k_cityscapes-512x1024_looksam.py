# LookSAM (Liu et al., CVPR 2022): a SAM step every 5th step, its
# g_v (the part of g_s orthogonal to g) reused between with weight 0.7,
# around the model-zoo config's own optimizer (SGD);
# everything else as the baseline.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='LookSAMOptimWrapper', rho=0.05, interval=5, alpha=0.7)
