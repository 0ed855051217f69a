# Baseline: the model-zoo config as published (SGD). custom_imports only
# loads arsam_mm's compatibility layer (mmcv-lite); training is unchanged.
_base_ = 'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
