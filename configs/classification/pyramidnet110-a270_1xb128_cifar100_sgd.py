# PyramidNet-110 (alpha=270) on CIFAR-100, the SAM papers' recipe with plain
# SGD.
_base_ = ['./_base_/pyramidnet110-a270_1xb128_cifar100.py']
# `import arsam_mm` registers LocalCIFAR* and the CIFAR backbones.
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
