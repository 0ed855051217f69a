# Late-phase SAM (Zhou et al., ICLR 2025): plain steps, then SAM on the
# last 10% of the optimizer steps,
# around the model-zoo config's own optimizer (SGD);
# everything else as the baseline.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='LateSAMOptimWrapper', rho=0.05, target_ratio=0.1)
