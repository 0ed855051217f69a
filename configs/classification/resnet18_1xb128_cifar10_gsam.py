# GSAM (Zhuang et al., ICLR 2022): SAM's gradient minus alpha times
# the part of g orthogonal to it, on every step,
# around the SAM papers' CIFAR recipe's SGD;
# everything else as the baseline.
_base_ = ['./_base_/resnet18_1xb128_cifar10.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(type='GSAMOptimWrapper', rho=0.05, alpha=0.1)
