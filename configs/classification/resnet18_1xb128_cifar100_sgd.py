# ResNet-18 (CIFAR stem) on CIFAR-100, the SAM papers' recipe with plain SGD.
_base_ = ['./_base_/resnet18_1xb128_cifar100.py']
# `import arsam_mm` registers LocalCIFAR* and the CIFAR backbones.
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
