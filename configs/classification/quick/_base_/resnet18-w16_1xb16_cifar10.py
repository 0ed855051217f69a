# CPU smoke run of ../../_base_/resnet18_1xb128_cifar10.py on generated
# data: write it first with
#   python tools/generate_data.py cifar10 --out data/quick/cifar10
# Only what must shrink is overridden: a ResNet-18 with 16 instead of 64
# base channels (1/16 of the compute), batch 16, 20 iterations in an
# iteration-based loop (InfiniteSampler: mmengine's iteration loop sleeps
# 2 s at each epoch end of a DefaultSampler) with the cosine decay over
# them, validation and a checkpoint at the end, no worker processes.
_base_ = ['../../_base_/resnet18_1xb128_cifar10.py']

data_root = 'data/quick/cifar10'
max_iters = 20

model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    head=dict(in_channels=128))

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    batch_size=64, num_workers=0, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
param_scheduler = [
    dict(
        type='CosineAnnealingLR', T_max=max_iters, eta_min=0.0, by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
