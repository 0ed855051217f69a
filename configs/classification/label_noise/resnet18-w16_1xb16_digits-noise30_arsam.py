# 30%-noisy digits, ARSAM around the same SGD; rho 0.1 as in the report.
# The warm-up is the authors' 1.5% of the run (54 iterations); the window
# is 20, not 50: n grows by at most 26% per window, and 3600 iterations
# hold only 71 windows of 50 (ARSAM then stays near 4% SAM steps).
_base_ = ['./_base_/resnet18-w16_1xb16_digits-noise30.py']
custom_imports = {{_base_.classification_custom_imports}}
optim_wrapper = dict(
    type='ARSAMOptimWrapper', rho=0.1, window=20, warmup_iters=54)
