# What the quick CPU runs shrink, shared by every pose family: the generated
# COCO person-keypoints data (`python tools/generate_data.py coco --out
# data/quick/coco`), batch 4, 20 iterations (an iteration-based loop instead
# of 210 epochs) with validation and a checkpoint at the end, no worker
# processes, validation on ground-truth boxes (the real configs read a
# person detector's boxes, which the generator does not write). The input
# size, codec and pipelines come from the codec fragments
# (td-hm_coco-128x96.py, simcc_coco-128x96.py); the model from the family
# fragments. A quick config copies each `quick.<key>` into its real variant
# (see configs/README.md).
# Names starting with `__` stay local to this file (mmengine drops them), so
# they cannot clash with the real config's own `data_root`.
__data_root = 'data/quick/coco/'
__max_iters = 20
__val_loader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=__data_root, bbox_file=None))
__evaluator = dict(
    ann_file=__data_root + 'annotations/person_keypoints_val2017.json')
quick = dict(
    train_dataloader=dict(
        batch_size=4,
        num_workers=0,
        persistent_workers=False,
        # InfiniteSampler: mmengine's iteration loop sleeps 2 s at every
        # epoch end of a DefaultSampler.
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(data_root=__data_root)),
    val_dataloader=__val_loader,
    test_dataloader=__val_loader,
    val_evaluator=__evaluator,
    test_evaluator=__evaluator,
    train_cfg=dict(
        _delete_=True,
        type='IterBasedTrainLoop',
        max_iters=__max_iters,
        val_interval=__max_iters),
    # The real warm-up (500 iterations) shrunk to the run; the real
    # MultiStepLR counts epochs (170, 200 of 210), which this loop has not.
    param_scheduler=[
        dict(
            type='LinearLR',
            begin=0,
            end=4,
            start_factor=0.001,
            by_epoch=False)
    ],
    default_hooks=dict(
        logger=dict(interval=5, log_metric_by_epoch=False),
        checkpoint=dict(by_epoch=False, interval=__max_iters)),
    log_processor=dict(by_epoch=False))
