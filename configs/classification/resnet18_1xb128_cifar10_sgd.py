# ResNet-18 (CIFAR stem) on CIFAR-10, the SAM papers' recipe with plain SGD.
_base_ = ['./_base_/resnet18_1xb128_cifar10.py']
# `import arsam_mm` registers LocalCIFAR* and the CIFAR backbones.
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
