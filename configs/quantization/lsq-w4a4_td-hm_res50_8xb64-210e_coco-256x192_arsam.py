# LSQ W4A4 of SimpleBaseline ResNet-50 on COCO 256x192 with ARSAM:
# the float config ../mmpose/td-hm_res50_8xb64-210e_coco-256x192_arsam.py
# with its model converted by LSQQuantizedModel; first and last layers
# W8A8 (see _base_/lsq.py).
_base_ = [
    '../mmpose/td-hm_res50_8xb64-210e_coco-256x192_arsam.py',
    './_base_/lsq.py'
]
custom_imports = dict(
    _base_.custom_imports,
    imports=[*_base_.custom_imports.imports, 'arsam_mm.quantization'])
model = dict(
    _delete_=True,
    type='LSQQuantizedModel',
    model={{_base_.model}},
    w_bits=4,
    a_bits=4,
    first_last_bits=8)
# No paramwise_cfg: the optimizer (Adam) has no weight decay.
