# Quick CPU run on the digits, SAM (rho 0.05) around the same SGD.
_base_ = ['./_base_/resnet18-w16_1xb16_digits.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.05)
