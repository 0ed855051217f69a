# Late-phase SAM (Zhou et al., ICLR 2025): plain steps, then SAM on the
# last 10% of the optimizer steps,
# around the model-zoo config's own optimizer (Adam);
# everything else as the baseline.
_base_ = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_res50_8xb64-210e_coco-256x192.py')
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
optim_wrapper = dict(type='LateSAMOptimWrapper', rho=0.05, target_ratio=0.1)
