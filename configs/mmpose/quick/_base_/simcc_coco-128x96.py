# SimCC codec and pipelines at 128x96 input (the real 256x192 halved);
# otherwise the real config's pipelines and head geometry.
_base_ = './coco-128x96_quick.py'
__codec = dict(
    type='SimCCLabel', input_size=(96, 128), sigma=6.0, simcc_split_ratio=2.0)
__val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=__codec['input_size']),
    dict(type='PackPoseInputs')
]
quick = dict(
    model=dict(
        head=dict(
            input_size=__codec['input_size'],
            in_featuremap_size=tuple(s // 32 for s in __codec['input_size']),
            decoder=__codec)),
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
