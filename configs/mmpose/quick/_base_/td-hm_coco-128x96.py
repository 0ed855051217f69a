# Top-down heatmap codec and pipelines at 128x96 input (the real 256x192
# halved), 32x24 heatmaps (the real 64x48 halved); otherwise the real
# configs' pipelines.
_base_ = './coco-128x96_quick.py'
__codec = dict(
    type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)
__val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=__codec['input_size']),
    dict(type='PackPoseInputs')
]
quick = dict(
    model=dict(head=dict(decoder=__codec)),
    train_dataloader=dict(
        dataset=dict(pipeline=[
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale'),
            dict(type='RandomFlip', direction='horizontal'),
            dict(type='RandomHalfBody'),
            dict(type='RandomBBoxTransform'),
            dict(type='TopdownAffine', input_size=__codec['input_size']),
            dict(type='GenerateTarget', encoder=__codec),
            dict(type='PackPoseInputs')
        ])),
    val_dataloader=dict(dataset=dict(pipeline=__val_pipeline)),
    test_dataloader=dict(dataset=dict(pipeline=__val_pipeline)))
