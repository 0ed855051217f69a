# Quick CPU run on generated CIFAR-10, ARSAM around the same SGD.
_base_ = ['./_base_/resnet18-w16_1xb16_cifar10.py']
custom_imports = {{_base_.classification_custom_imports}}
# 20 iterations, not 200 epochs: the authors' warm-up ratio (1.5%) would be
# 0 iterations and a window of 50 longer than the run, so the warm-up is
# explicit (4 SAM steps) and windows are 8 iterations (2 after warm-up,
# about one SAM step each; n grows by at most 26% per window).
optim_wrapper = dict(
    type='ARSAMOptimWrapper', rho=0.05, warmup_iters=4, window=8)
