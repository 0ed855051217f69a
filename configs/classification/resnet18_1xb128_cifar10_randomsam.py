# Randomized SAM (Zhao et al. 2022): each step a SAM step with
# probability 0.5,
# around the SAM papers' CIFAR recipe's SGD;
# everything else as the baseline.
_base_ = ['./_base_/resnet18_1xb128_cifar10.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(type='RandomSAMOptimWrapper', rho=0.05, prob=0.5)
