# Quick CPU run of LSQ W4A4 (first and last layer W8A8) with Adam of
# SimpleBaseline ResNet-18 on the generated COCO keypoints (data/quick/coco):
# the float quick config of _base_ below with its model converted by
# LSQQuantizedModel (see ../_base_/lsq.py).
_base_ = [
    '../../mmpose/quick/td-hm_res18_1xb4-20iter_coco-128x96_adam.py',
    '../_base_/lsq.py'
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
