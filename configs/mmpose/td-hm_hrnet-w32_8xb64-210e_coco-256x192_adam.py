# Baseline: the model-zoo config as published (Adam). custom_imports only
# loads arsam_mm's compatibility layer (mmcv-lite, torchvision); training is
# unchanged.
_base_ = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py')
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
