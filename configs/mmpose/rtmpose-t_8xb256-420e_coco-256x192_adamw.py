# Baseline: the model-zoo config as published (AdamW, no decay on norms and
# biases; CSPNeXt-t backbone, SimCC head, PipelineSwitchHook at epoch 390).
# custom_imports only loads arsam_mm's compatibility layer (mmcv-lite,
# torchvision); training is unchanged.
_base_ = ('mmpose::body_2d_keypoint/rtmpose/coco/'
          'rtmpose-t_8xb256-420e_coco-256x192.py')
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
