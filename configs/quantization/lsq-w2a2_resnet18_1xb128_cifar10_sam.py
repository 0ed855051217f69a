# LSQ W2A2 of ResNet-18 (CIFAR stem) on CIFAR-10 with SAM:
# the float config ../classification/resnet18_1xb128_cifar10_sam.py
# with its model converted by LSQQuantizedModel; first and last layers
# W8A8 (see _base_/lsq.py).
_base_ = [
    '../classification/resnet18_1xb128_cifar10_sam.py',
    './_base_/lsq.py'
]
custom_imports = dict(
    _base_.custom_imports,
    imports=[*_base_.custom_imports.imports, 'arsam_mm.quantization'])
model = dict(
    _delete_=True,
    type='LSQQuantizedModel',
    model={{_base_.model}},
    w_bits=2,
    a_bits=2,
    first_last_bits=8)
optim_wrapper = dict(paramwise_cfg={{_base_.lsq_paramwise_cfg}})
