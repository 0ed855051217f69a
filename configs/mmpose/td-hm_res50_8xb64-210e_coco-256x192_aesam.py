# AE-SAM (Jiang et al., ICLR 2023): a SAM step when ||g||^2 is high
# against its running statistics (the paper's defaults),
# around the model-zoo config's own optimizer (Adam);
# everything else as the baseline.
_base_ = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_res50_8xb64-210e_coco-256x192.py')
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='AESAMOptimWrapper', rho=0.05)
