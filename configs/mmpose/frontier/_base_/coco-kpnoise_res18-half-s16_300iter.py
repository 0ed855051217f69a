# Data, batch and schedule of the frontier pose task: the generated COCO
# person keypoints with noisy training annotations (see the task config's
# header for the command), batch 16, 300 iterations (a quick version of
# the task may run a third of them), validation at the end.
_base_ = './td-hm_res18-half-s16.py'
__data_root = 'data/frontier/coco-kpnoise/'
__max_iters = 300
__evaluator = dict(
    ann_file=__data_root + 'annotations/person_keypoints_val2017.json')
quick = dict(
    train_dataloader=dict(batch_size=16, dataset=dict(data_root=__data_root)),
    val_dataloader=dict(batch_size=32, dataset=dict(data_root=__data_root)),
    test_dataloader=dict(batch_size=32, dataset=dict(data_root=__data_root)),
    val_evaluator=__evaluator,
    test_evaluator=__evaluator,
    train_cfg=dict(max_iters=__max_iters, val_interval=__max_iters),
    default_hooks=dict(checkpoint=dict(interval=__max_iters)))
