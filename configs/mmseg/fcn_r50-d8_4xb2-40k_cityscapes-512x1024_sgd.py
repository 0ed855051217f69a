# Baseline: the model-zoo config as published (SGD). custom_imports only
# loads arsam_mm's compatibility layer (mmcv-lite); training is unchanged.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
