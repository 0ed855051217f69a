"""One rank of the 2-process gloo FSDP runs of ``test_fsdp.py``.

Run as ``python tests/_fsdp_worker.py OUT_DIR VARIANT [VARIANT ...]`` with
``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in the
environment. For each variant, every rank wraps the float64 toy model in
mmengine's ``MMFullyShardedDataParallel`` (full sharding, CPU,
``use_orig_params=True``), trains through its ``train_step`` on its half
of every batch and writes its decisions and the gathered full weights to
``OUT_DIR/{VARIANT}_rank{RANK}.pt``. :func:`train` also runs the
single-process reference (the test calls it with the whole batches).

The toy's 67 parameters are one flat parameter split 34 / 33: rank 0
holds no element of ``fc2.weight`` and ``fc2.bias`` (empty local shards).
"""
import os
import sys
from datetime import timedelta
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

# stat_tensors=2: the statistics cover fc2 only, of which rank 0 holds
# no element.
ARSAM_KW = dict(warmup_iters=3, window=6, max_reuse_steps=3, rho=0.05,
                stat_tensors=2)
#: Variant name -> (wrapper type, wrapper kwargs, iterations).
VARIANTS = {
    'sam': ('SAMOptimWrapper', dict(rho=0.05), 3),
    'sam_long': ('SAMOptimWrapper', dict(rho=0.05), 20),
    'arsam': ('ARSAMOptimWrapper', dict(ARSAM_KW), 30),
    'looksam': ('LookSAMOptimWrapper', dict(rho=0.05, interval=3,
                                            alpha=0.5), 12),
    'gsam': ('GSAMOptimWrapper', dict(rho=0.05, alpha=0.3, interval=2), 12),
    'aesam': ('AESAMOptimWrapper', dict(rho=0.05, target_ratio=0.4), 20),
    'randomsam': ('RandomSAMOptimWrapper', dict(rho=0.05, prob=0.4), 20),
    'latesam': ('LateSAMOptimWrapper', dict(rho=0.05, target_ratio=0.4), 20),
    'sgd': ('OptimWrapper', dict(), 20),
    # Clipping by the whole model's norm (FSDP's clip_grad_norm_); 0.1 is
    # below every step's norm here, so every step clips.
    'sam_clip': ('SAMOptimWrapper', dict(rho=0.05,
                                         clip_grad=dict(max_norm=0.1)), 10),
    'sgd_clip': ('OptimWrapper', dict(clip_grad=dict(max_norm=0.1)), 10),
    # NO_SHARD: whole gradients on every rank, no reduction needed.
    'sam_noshard': ('SAMOptimWrapper', dict(rho=0.05), 10),
    # Gradient accumulation: two micro-batches per step (pass 1 of the
    # first under FSDP's no_sync, pass 2 replays both).
    'sam_accum': ('SAMOptimWrapper', dict(rho=0.05, accumulative_counts=2),
                  12),
    'arsam_accum': ('ARSAMOptimWrapper',
                    dict(ARSAM_KW, accumulative_counts=2), 40),
}
BATCH = 8
LR = 0.1
MOMENTUM = 0.9


def batches_for(iters: int) -> List[Dict[str, torch.Tensor]]:
    """The whole (global) float64 batches; rank ``r`` trains on the rows
    ``r::WORLD_SIZE`` (equal halves, so the mean loss matches)."""
    from tests._toy import make_batches
    batches = make_batches(iters, batch=BATCH, seed=100)
    return [dict(inputs=b['inputs'].double(), labels=b['labels'])
            for b in batches]


def train(variant: str, distributed: bool) -> Dict[str, Any]:
    """Train ``variant``: FSDP on this process group when ``distributed``,
    else the plain model on the whole batches. Returns the record."""
    from mmengine.registry import OPTIM_WRAPPERS

    import arsam_mm  # noqa: F401  (registers the wrappers)
    from tests._toy import ToyModel

    wrapper_type, wrapper_kw, iters = VARIANTS[variant]
    torch.manual_seed(0)  # the same initial model everywhere
    model = ToyModel(noise=0.0).double()
    init = {k: v.detach().clone() for k, v in model.named_parameters()}
    batches = batches_for(iters)
    if distributed:
        from mmengine.model import MMFullyShardedDataParallel
        rank, world = dist.get_rank(), dist.get_world_size()
        batches = [{k: v[rank::world] for k, v in b.items()}
                   for b in batches]
        from torch.distributed.fsdp import ShardingStrategy
        strategy = ShardingStrategy.NO_SHARD if variant.endswith(
            '_noshard') else ShardingStrategy.FULL_SHARD
        net = MMFullyShardedDataParallel(
            module=model, device_id=torch.device('cpu'),
            use_orig_params=True, sharding_strategy=strategy)
    else:
        net = model
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    wrapper = OPTIM_WRAPPERS.build(
        dict(type=wrapper_type, optimizer=optimizer, **wrapper_kw))
    wrapper.initialize_count_status(net, 0, iters)
    decisions = []
    for data in batches:
        net.train_step(data, wrapper)
        sharp = getattr(wrapper, 'sharpness', None)
        if sharp is not None:
            decisions.append((bool(wrapper.is_sam_step),
                              float(sharp.plan.mix_weight)))
    if distributed:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        with FSDP.summon_full_params(net):
            params = {k: v.detach().clone()
                      for k, v in model.named_parameters()}
    else:
        params = {k: v.detach().clone() for k, v in model.named_parameters()}
    sharp = getattr(wrapper, 'sharpness', None)
    stats = {}
    if sharp is not None:
        state = sharp.schedule.state_dict()
        # ARSAM's statistics: ||v||_N and ||v||_N / ||g||_N per SAM step.
        stats = {k: state[k] for k in ('a_hist', 'r_hist') if k in state}
        if sharp.store_norm is not None:
            stats['store_norm'] = [float(sharp.store_norm)]
    return dict(
        init=init,
        stats=stats,
        reduces=getattr(sharp, 'reduce_sum', None) is not None,
        params=params,
        decisions=decisions,
        sam_steps=None if sharp is None else sharp.sam_steps,
        local_sizes=[p.numel() for p in optimizer.param_groups[0]['params']])


def main() -> None:
    out_dir, variants = sys.argv[1], sys.argv[2:]
    torch.set_num_threads(1)
    dist.init_process_group(
        backend='gloo', init_method='env://',
        timeout=timedelta(seconds=60))
    try:
        for variant in variants:
            record = train(variant, distributed=True)
            record['rank'] = dist.get_rank()
            torch.save(record, os.path.join(
                out_dir, f'{variant}_rank{dist.get_rank()}.pt'))
            dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
