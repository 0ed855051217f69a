# SimpleBaseline quick model: ResNet-18 (512 output channels) instead of
# ResNet-50, no pretrained weights (offline).
_base_ = './td-hm_coco-128x96.py'
quick = dict(
    model=dict(
        backbone=dict(depth=18, init_cfg=None),
        head=dict(in_channels=512)))
