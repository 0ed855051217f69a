# GSAM (Zhuang et al., ICLR 2022): SAM's gradient minus alpha times
# the part of g orthogonal to it, on every step,
# around the model-zoo config's own optimizer (Adam);
# everything else as the baseline.
_base_ = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_res50_8xb64-210e_coco-256x192.py')
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='GSAMOptimWrapper', rho=0.05, alpha=0.1)
