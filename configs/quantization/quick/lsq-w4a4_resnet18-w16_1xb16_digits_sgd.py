# Quick CPU run of LSQ W4A4 (first and last layer W8A8) with SGD on
# the UCI digits (data/digits): the float quick config of _base_ below with
# its model converted by LSQQuantizedModel (see ../_base_/lsq.py).
_base_ = [
    '../../classification/quick/resnet18-w16_1xb16_digits_sgd.py',
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
optim_wrapper = dict(paramwise_cfg={{_base_.lsq_paramwise_cfg}})
