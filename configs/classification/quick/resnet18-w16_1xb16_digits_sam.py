# Quick CPU run on the digits, SAM (rho 0.05) around the same SGD.
_base_ = ['./_base_/resnet18-w16_1xb16_digits.py', '../../_base_/sam.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = {{_base_.sam_optim_wrapper}}
custom_hooks = {{_base_.sam_custom_hooks}}
