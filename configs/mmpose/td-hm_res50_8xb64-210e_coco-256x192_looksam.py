# LookSAM (Liu et al., CVPR 2022): a SAM step every 5th step, its
# g_v (the part of g_s orthogonal to g) reused between with weight 0.7,
# around the model-zoo config's own optimizer (Adam);
# everything else as the baseline.
_base_ = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_res50_8xb64-210e_coco-256x192.py')
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='LookSAMOptimWrapper', rho=0.05, interval=5, alpha=0.7)
