# Quick CPU run on generated CIFAR-10, SAM (rho 0.05) around the same SGD.
_base_ = ['./_base_/resnet18-w16_1xb16_cifar10.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
