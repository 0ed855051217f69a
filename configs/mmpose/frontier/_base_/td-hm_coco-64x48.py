# Top-down heatmap codec and pipelines at 64x48 input (the real 256x192
# quartered), 16x12 heatmaps (the real 64x48 quartered), sigma 1 (the
# real 2, scaled with the heatmap). Otherwise the quick fragment's
# pipelines, data loading and schedule.
_base_ = '../../quick/_base_/td-hm_coco-128x96.py'
__codec = dict(
    type='MSRAHeatmap', input_size=(48, 64), heatmap_size=(12, 16), sigma=1)
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
