# HRNet quick model: the W32 architecture (same stages, modules and blocks)
# at half width, branches (16, 32, 64, 128) instead of (32, 64, 128, 256)
# and a 32-channel first stage instead of 64; the head reads the
# 16-channel branch. No pretrained weights (offline).
_base_ = './td-hm_coco-128x96.py'
quick = dict(
    model=dict(
        backbone=dict(
            extra=dict(
                stage1=dict(num_channels=(32, )),
                stage2=dict(num_channels=(16, 32)),
                stage3=dict(num_channels=(16, 32, 64)),
                stage4=dict(num_channels=(16, 32, 64, 128))),
            init_cfg=None),
        head=dict(in_channels=16)))
