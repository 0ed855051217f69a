"""One rank of the FlexibleRunner + FSDPStrategy runs of ``test_fsdp.py``.

Run as ``python tests/_flexible_worker.py OUT_DIR JOB [JOB ...]`` with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` in the environment; a job is ``VARIANT`` (train
``ITERS`` iterations from scratch, a checkpoint every ``CKPT_EVERY``),
``VARIANT_ckpt`` / ``VARIANT_full`` (the same with ``SAMFSDPStrategy``,
a local or full state dict) or ``VARIANT_ckpt_resume`` /
``VARIANT_full_resume`` (resume that run's checkpoint of iteration
``CKPT_EVERY`` in these fresh processes and train to ``ITERS``). Every
rank writes the gathered full weights and the SAM step count to
``OUT_DIR/{JOB}_rank{RANK}.pt``; :func:`train` also runs the
single-process reference (mmengine's ``Runner``, the whole batches).

What the FlexibleRunner needs on CPU, found here:

- the process group initialised before the runner (gloo):
  ``init_dist('pytorch')`` calls ``torch.cuda.set_device(LOCAL_RANK)``,
  which fails without a GPU; the strategy then skips its own set-up;
- ``model_wrapper=dict(device_id=torch.device('cpu'))``: FSDPStrategy
  passes ``device_id=int(LOCAL_RANK)``, a CUDA device, by default;
- ``use_orig_params=True``, as for the family under FSDP anywhere.
"""
import logging
import os
import sys
from datetime import timedelta
from typing import Any, Dict, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

ITERS = 12
CKPT_EVERY = 5
BATCH = 8  # global; each of the 2 ranks takes 4
ARSAM_KW = dict(warmup_iters=3, window=4, max_reuse_steps=3, rho=0.05,
                stat_tensors=2)
#: Variant -> the optim_wrapper config (SGD with momentum added).
VARIANTS = {
    'sam': dict(type='SAMOptimWrapper', rho=0.05),
    'arsam': dict(type='ARSAMOptimWrapper', **ARSAM_KW),
    # The AMP twin, its scaler on the CPU (:func:`allow_cpu_amp`); the
    # strategy must give it use_fsdp (ShardedGradScaler).
    'ampsam': dict(type='AmpSAMOptimWrapper', rho=0.05),
}


def allow_cpu_amp() -> None:
    """The ``cpu_amp`` fixture's patches (``conftest.py``) for this process,
    with FSDP's ``ShardedGradScaler`` on the CPU: ``AmpOptimWrapper``
    builds (it asserts an accelerator), its scalers scale on the CPU and
    ``autocast`` is a no-op (the steps compute in float64)."""
    import contextlib
    import functools

    from mmengine.optim.optimizer import amp_optimizer_wrapper
    from mmengine.runner import amp as runner_amp
    from torch.distributed.fsdp import sharded_grad_scaler

    from arsam_mm.engine.optim_wrappers import amp_sam_optim_wrapper

    @contextlib.contextmanager
    def autocast_stub(*args, **kwargs):
        yield

    if runner_amp.autocast.__name__ == autocast_stub.__name__:
        return  # patched by an earlier job
    amp_optimizer_wrapper.is_cuda_available = lambda: True
    amp_optimizer_wrapper.GradScaler = functools.partial(
        torch.amp.GradScaler, 'cpu')
    sharded_grad_scaler.ShardedGradScaler = functools.partial(
        sharded_grad_scaler.ShardedGradScaler, 'cpu')
    runner_amp.autocast = autocast_stub
    amp_sam_optim_wrapper.autocast = autocast_stub


class Float64Dataset(torch.utils.data.Dataset):
    """The toy blobs in float64."""

    def __init__(self) -> None:
        from tests._toy import ToyDataset
        self.data = ToyDataset(64)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> Dict[str, torch.Tensor]:
        item = self.data[i]
        return dict(inputs=item['inputs'].double(), labels=item['labels'])


def strategy_cfg(kind: str = '') -> dict:
    """mmengine's FSDPStrategy (``kind`` empty: local state dict,
    ``'fsdpfull'``: full) or ``SAMFSDPStrategy`` with a local (``'ckpt'``)
    or full (``'full'``) state dict."""
    cfg = dict(
        type='SAMFSDPStrategy' if kind in ('ckpt', 'full') else
        'FSDPStrategy',
        model_wrapper=dict(
            type='MMFullyShardedDataParallel',
            device_id=torch.device('cpu'),
            use_orig_params=True))
    if kind in ('full', 'fsdpfull'):
        cfg['state_dict_cfg'] = 'full'
    return cfg


def train(variant: str, distributed: bool, work_dir: str,
          resume_from: Optional[str] = None,
          kind: str = '') -> Dict[str, Any]:
    """Train ``variant`` with the FlexibleRunner and :func:`strategy_cfg`
    when ``distributed``, else with the Runner on the whole batches."""
    from mmengine.runner import FlexibleRunner, Runner

    import arsam_mm  # noqa: F401  (registers the wrappers)
    from tests._toy import ToyModel

    if variant.startswith('amp'):
        allow_cpu_amp()
    torch.manual_seed(0)
    model = ToyModel(noise=0.0).double()
    init = {k: v.detach().clone() for k, v in model.named_parameters()}
    world = dist.get_world_size() if distributed else 1
    kwargs = dict(
        model=model,
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=Float64Dataset(),
            sampler=dict(type='InfiniteSampler', shuffle=False),
            batch_size=BATCH // world,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=ITERS, val_interval=10**6),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
            **VARIANTS[variant]),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=CKPT_EVERY,
                            by_epoch=False)),
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=0),
        custom_hooks=[dict(type='ARSAMHook')],
        load_from=resume_from,
        resume=resume_from is not None)
    if distributed:
        runner = FlexibleRunner(
            launcher='pytorch', strategy=strategy_cfg(kind), **kwargs)
    else:
        runner = Runner(**kwargs)
    warnings = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    runner.logger.addHandler(handler)
    try:
        runner.train()
    finally:
        runner.logger.removeHandler(handler)
    net = runner.model
    if distributed:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        with FSDP.summon_full_params(net):
            params = {k: v.detach().clone()
                      for k, v in net.module.named_parameters()}
    else:
        params = {k: v.detach().clone() for k, v in net.named_parameters()}
    wrapper = runner.optim_wrapper
    return dict(
        init=init,
        params=params,
        sam_steps=wrapper.sharpness.sam_steps,
        reduces=wrapper.sharpness.reduce_sum is not None,
        wrapper=type(wrapper).__name__,
        scaler=type(getattr(wrapper, 'loss_scaler', None)).__name__,
        warnings=warnings)


def main() -> None:
    out_dir, jobs = sys.argv[1], sys.argv[2:]
    torch.set_num_threads(1)
    dist.init_process_group(
        backend='gloo', init_method='env://',
        timeout=timedelta(seconds=60))
    try:
        for job in jobs:
            name = job[:-len('_resume')] if job.endswith('_resume') else job
            variant, _, kind = name.partition('_')
            work_dir = os.path.join(out_dir, name)
            resume_from = os.path.join(
                work_dir, f'iter_{CKPT_EVERY}.pth') if job != name else None
            record = train(variant, True, work_dir, resume_from, kind)
            record['rank'] = dist.get_rank()
            torch.save(record, os.path.join(
                out_dir, f'{job}_rank{dist.get_rank()}.pt'))
            dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
