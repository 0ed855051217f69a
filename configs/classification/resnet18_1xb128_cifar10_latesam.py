# Late-phase SAM (Zhou et al., ICLR 2025): plain steps, then SAM on the
# last 10% of the optimizer steps,
# around the SAM papers' CIFAR recipe's SGD;
# everything else as the baseline.
_base_ = ['./_base_/resnet18_1xb128_cifar10.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(type='LateSAMOptimWrapper', rho=0.05, target_ratio=0.1)
