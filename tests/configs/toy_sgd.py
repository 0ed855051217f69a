# A tiny iteration-based config on the toy model (tests/_toy.py), used by the
# benchmark tests.
custom_imports = dict(imports=['tests._toy'], allow_failed_imports=False)
model = dict(type='ToyModel', noise=0.05)
train_dataloader = dict(
    batch_size=8, num_workers=0,
    dataset=dict(type='ToyDataset', size=64, seed=0),
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'))
val_dataloader = dict(
    batch_size=16, num_workers=0,
    dataset=dict(type='ToyDataset', size=48, seed=0, sample_seed=1),
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
val_evaluator = dict(type='ToyAccuracy')
val_cfg = dict()
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
train_cfg = dict(by_epoch=False, max_iters=20, val_interval=10)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=10))
randomness = dict(seed=0)
log_level = 'WARNING'
