# Quick CPU run on the digits, plain SGD.
_base_ = ['./_base_/resnet18-w16_1xb16_digits.py']
custom_imports = {{_base_.classification_custom_imports}}
