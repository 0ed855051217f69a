# Randomized SAM (Zhao et al. 2022): each step a SAM step with
# probability 0.5,
# around the model-zoo config's own optimizer (Adam);
# everything else as the baseline.
_base_ = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_res50_8xb64-210e_coco-256x192.py')
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='RandomSAMOptimWrapper', rho=0.05, prob=0.5)
