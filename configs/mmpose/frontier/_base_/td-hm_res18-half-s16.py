# Frontier pose model: SimpleBaseline on a ResNet-18 at half width (32-channel
# stem and first stage, 256 output channels) whose last stage keeps stride 16
# (strides 1, 2, 2, 1), so that a 64x48 input gives a 4x3 feature map; two
# 64-channel deconvolutions (instead of three of 256) bring it to the 16x12
# heatmaps of td-hm_coco-64x48.py. The deconvolutions dominate the cost at
# this size, hence their width. No pretrained weights (offline).
_base_ = './td-hm_coco-64x48.py'
quick = dict(
    model=dict(
        backbone=dict(
            depth=18,
            stem_channels=32,
            base_channels=32,
            strides=(1, 2, 2, 1),
            init_cfg=None),
        head=dict(
            in_channels=256,
            deconv_out_channels=(64, 64),
            deconv_kernel_sizes=(4, 4))))
