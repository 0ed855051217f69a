# Randomized SAM (Zhao et al. 2022): each step a SAM step with
# probability 0.5,
# around the model-zoo config's own optimizer (SGD);
# everything else as the baseline.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='RandomSAMOptimWrapper', rho=0.05, prob=0.5)
