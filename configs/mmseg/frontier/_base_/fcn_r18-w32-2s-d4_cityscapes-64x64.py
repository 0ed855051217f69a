# The frontier segmentation model and data pipeline, a delta of the quick
# FCN (../../quick/_base_/fcn_r18-d8.py) small enough for CPU runs of
# about half a minute:
# - model: ResNetV1c-18 cut to its first two stages ("2s"), width 32
#   (stem and first stage 32 channels, second stage 64), no striding in the
#   stages and dilation 2 in the second, so the output stride is the stem's
#   4 ("d4"); FCN head of 64 channels, no dropout; auxiliary head on the
#   first stage. With the full R18-d8 (or width 16, or dropout 0.1) the
#   model stays at predicting background for hundreds of iterations at
#   64x64 (reports/frontier/search_segmentation.md);
# - data: 64x64 generated Cityscapes-layout images (`--size 64x64`),
#   RandomResize (0.5-2.0) + 64x64 RandomCrop + flip, no
#   PhotoMetricDistortion (the classes differ by colour), batch 8;
#   validation on the images as they are.
# A config inheriting this sets the data_root and the length.
_base_ = '../../quick/_base_/fcn_r18-d8.py'
__crop_size = (64, 64)
__scale = (64, 64)  # (w, h): the generated images
__norm = dict(type='BN', requires_grad=True)
quick = dict(
    model=dict(
        data_preprocessor=dict(size=__crop_size),
        backbone=dict(
            stem_channels=32,
            base_channels=32,
            num_stages=2,
            strides=(1, 1),
            dilations=(1, 2),
            out_indices=(0, 1)),
        decode_head=dict(
            in_index=1, in_channels=64, channels=64, dropout_ratio=0.0),
        auxiliary_head=dict(in_index=0, in_channels=32, channels=32)),
    train_dataloader=dict(
        batch_size=8,
        dataset=dict(pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(
                type='RandomResize',
                scale=__scale,
                ratio_range=(0.5, 2.0),
                keep_ratio=True),
            dict(type='RandomCrop', crop_size=__crop_size, cat_max_ratio=0.75),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputs')
        ])),
    val_dataloader=dict(
        dataset=dict(pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=__scale, keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')
        ])))
quick['test_dataloader'] = quick['val_dataloader']
