# AE-SAM (Jiang et al., ICLR 2023): a SAM step when ||g||^2 is high
# against its running statistics (the paper's defaults),
# around the model-zoo config's own optimizer (SGD);
# everything else as the baseline.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='AESAMOptimWrapper', rho=0.05)
