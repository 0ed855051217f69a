"""Runner helpers of the engine tests: a seeded toy model, a ``Runner`` on
the toy data, weight snapshots and a hook that records every iteration."""
import copy
import glob
import os.path as osp
import uuid

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from tests._toy import ToyDataset, ToyModel

SGD = dict(type='SGD', lr=0.1, momentum=0.9)
ARSAM = dict(
    type='ARSAMOptimWrapper',
    rho=0.05,
    warmup_iters=3,
    window=5,
    max_reuse_steps=3,
    seed=1,
    optimizer=SGD)


def toy(seed=0, **kwargs):
    """A ToyModel with seeded initial weights (no input noise by default:
    mmengine does not restore the global RNG on resume)."""
    kwargs.setdefault('noise', 0.0)
    torch.manual_seed(seed)
    return ToyModel(**kwargs)


def make_runner(work_dir,
                model,
                optim_wrapper,
                max_iters=10,
                ckpt_interval=10**6,
                custom_hooks=None,
                by_epoch=False,
                max_epochs=2,
                dataset_size=64,
                log_interval=1,
                **kwargs):
    if by_epoch:
        train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
        sampler = dict(type='DefaultSampler', shuffle=True)
    else:
        train_cfg = dict(
            by_epoch=False, max_iters=max_iters, val_interval=10**6)
        sampler = dict(type='InfiniteSampler', shuffle=True)
    return Runner(
        model=model,
        work_dir=str(work_dir),
        experiment_name=f'arsam_test_{uuid.uuid4().hex[:12]}',
        train_dataloader=dict(
            dataset=ToyDataset(dataset_size),
            sampler=sampler,
            batch_size=8,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        train_cfg=train_cfg,
        optim_wrapper=copy.deepcopy(optim_wrapper)
        if isinstance(optim_wrapper, dict) and 'type' in optim_wrapper else
        optim_wrapper,
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=log_interval),
            checkpoint=dict(
                type='CheckpointHook',
                interval=ckpt_interval,
                by_epoch=by_epoch)),
        log_processor=dict(by_epoch=by_epoch),
        randomness=dict(seed=0),
        custom_hooks=[dict(type='ARSAMHook')]
        if custom_hooks is None else custom_hooks,
        **kwargs)


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def load_ckpt(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def log_text(runner):
    files = glob.glob(osp.join(runner.log_dir, '*.log'))
    assert len(files) == 1, files
    with open(files[0]) as f:
        return f.read()


class Recorder(Hook):
    """Calls ``fn(runner)`` after every training iteration."""

    def __init__(self, fn, priority='LOW'):
        self.fn = fn
        self.priority = priority

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.fn(runner)


def recorded_run(work_dir, cfg, total, **kwargs):
    """Train :func:`toy` for ``total`` iterations with ``cfg``; returns the
    runner and whether each iteration was a SAM step."""
    plans = []
    runner = make_runner(
        work_dir, toy(), cfg, max_iters=total,
        custom_hooks=[Recorder(
            lambda r: plans.append(bool(r.optim_wrapper.sharpness.plan.sam)))
                      ], **kwargs)
    runner.train()
    return runner, plans
