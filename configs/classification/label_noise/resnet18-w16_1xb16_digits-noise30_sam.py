# 30%-noisy digits, SAM around the same SGD; rho 0.1 as in the report.
_base_ = ['./_base_/resnet18-w16_1xb16_digits-noise30.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(type='SAMOptimWrapper', rho=0.1)
