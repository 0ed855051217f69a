# What the quick CPU runs shrink, shared by every segmentation family: the
# generated Cityscapes-layout data (`python tools/generate_data.py cityscapes
# --out data/quick/cityscapes`, 256x512 images) resized to half size (the
# real configs keep Cityscapes' 1024x2048), 128x128 crops, batch 2, 20
# iterations with validation and a checkpoint at the end, no worker
# processes. A family fragment (fcn_r18-d8.py, ...) inherits this and adds
# `quick.model`; a quick config copies each `quick.<key>` into its real
# variant (see configs/README.md).
# Names starting with `__` stay local to this file (mmengine drops them), so
# they cannot clash with the real config's own `data_root`, `crop_size`...
__data_root = 'data/quick/cityscapes'
__crop_size = (128, 128)
__scale = (256, 128)  # (w, h): half the generated images
__max_iters = 20
quick = dict(
    train_dataloader=dict(
        batch_size=2,
        num_workers=0,
        persistent_workers=False,
        # InfiniteSampler: mmengine's iteration loop sleeps 2 s at every
        # epoch end of a DefaultSampler.
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='CityscapesDataset',
            data_root=__data_root,
            data_prefix=dict(
                img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(
                    type='RandomResize',
                    scale=__scale,
                    ratio_range=(0.5, 2.0),
                    keep_ratio=True),
                dict(
                    type='RandomCrop', crop_size=__crop_size,
                    cat_max_ratio=0.75),
                dict(type='RandomFlip', prob=0.5),
                dict(type='PhotoMetricDistortion'),
                dict(type='PackSegInputs')
            ])),
    val_dataloader=dict(
        batch_size=1,
        num_workers=0,
        persistent_workers=False,
        dataset=dict(
            type='CityscapesDataset',
            data_root=__data_root,
            data_prefix=dict(
                img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=__scale, keep_ratio=True),
                dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')
            ])),
    train_cfg=dict(
        type='IterBasedTrainLoop', max_iters=__max_iters,
        val_interval=__max_iters),
    default_hooks=dict(
        logger=dict(interval=5),
        checkpoint=dict(by_epoch=False, interval=__max_iters)))
quick['test_dataloader'] = quick['val_dataloader']
