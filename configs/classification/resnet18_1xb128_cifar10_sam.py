# ResNet-18 (CIFAR stem) on CIFAR-10, the SAM papers' recipe with SAM (rho
# 0.05) around the same SGD.
_base_ = ['./_base_/resnet18_1xb128_cifar10.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
