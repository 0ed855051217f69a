# Quick CPU run on the digits, plain SGD.
_base_ = ['./_base_/resnet18-w16_1xb16_digits.py']
custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
