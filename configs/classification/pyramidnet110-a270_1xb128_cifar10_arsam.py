# PyramidNet-110 (alpha=270) on CIFAR-10, the SAM papers' recipe with ARSAM
# (rho 0.05; the authors' window of 50 and warm-up of 3 of 200 epochs) around
# the same SGD.
_base_ = ['./_base_/pyramidnet110-a270_1xb128_cifar10.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(
    type='ARSAMOptimWrapper', rho=0.05, warmup_ratio=0.015)
