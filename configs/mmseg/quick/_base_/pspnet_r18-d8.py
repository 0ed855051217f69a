# PSPNet quick model: ResNetV1c-18 (dilated, output stride 8) with the head
# widths of mmseg's pspnet_r18-d8 configs, BN instead of SyncBN (one process
# without torch.distributed), no pretrained weights (offline).
_base_ = './cityscapes-128x128_quick.py'
__norm = dict(type='BN', requires_grad=True)
quick = dict(
    model=dict(
        data_preprocessor=dict(size=(128, 128)),
        pretrained=None,
        backbone=dict(depth=18, norm_cfg=__norm, init_cfg=None),
        decode_head=dict(in_channels=512, channels=128, norm_cfg=__norm),
        auxiliary_head=dict(in_channels=256, channels=64, norm_cfg=__norm)))
