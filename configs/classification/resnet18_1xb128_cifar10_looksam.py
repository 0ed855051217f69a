# LookSAM (Liu et al., CVPR 2022): a SAM step every 5th step, its
# g_v (the part of g_s orthogonal to g) reused between with weight 0.7,
# around the SAM papers' CIFAR recipe's SGD;
# everything else as the baseline.
_base_ = ['./_base_/resnet18_1xb128_cifar10.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(
    type='LookSAMOptimWrapper', rho=0.05, interval=5, alpha=0.7)
