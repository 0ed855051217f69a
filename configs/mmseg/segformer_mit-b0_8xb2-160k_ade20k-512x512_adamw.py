# Baseline: the model-zoo config as published (AdamW, lr 6e-5, head lr x10,
# no decay on norms and positional blocks). custom_imports only loads
# arsam_mm's compatibility layer (mmcv-lite); training is unchanged.
_base_ = 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
