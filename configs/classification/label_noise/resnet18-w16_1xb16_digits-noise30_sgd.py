# 30%-noisy digits, random crop only, 3600 iterations, plain SGD.
_base_ = ['./_base_/resnet18-w16_1xb16_digits-noise30.py']
custom_imports = {{_base_.classification_custom_imports}}
