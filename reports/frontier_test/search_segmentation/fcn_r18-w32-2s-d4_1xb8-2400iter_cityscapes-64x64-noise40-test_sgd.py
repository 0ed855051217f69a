# ./fcn_r18-w32-2s-d4_1xb8-1200iter_cityscapes-64x64-noise40-test_sgd.py
# (label noise 0.4), run for 2400 iterations with `--iters 2400`: at 1200
# the base optimizer's val mIoU is still rising on every seed, so it never
# reaches the memorising regime where SAM's gain appeared at noise 0.2.
# Same data.
_base_ = ['./fcn_r18-w32-2s-d4_1xb8-1200iter_cityscapes-64x64-noise40-test_sgd.py']
