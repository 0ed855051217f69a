# AE-SAM (Jiang et al., ICLR 2023): a SAM step when ||g||^2 is high
# against its running statistics (the paper's defaults),
# around the SAM papers' CIFAR recipe's SGD;
# everything else as the baseline.
_base_ = ['./_base_/resnet18_1xb128_cifar10.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(type='AESAMOptimWrapper', rho=0.05)
