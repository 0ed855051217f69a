"""One rank of the 2-process gloo runs of ``test_engine_ddp.py``.

Run as ``python tests/_ddp_worker.py OUT_DIR VARIANT [VARIANT ...]`` with
``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in the
environment (the test starts one process per rank). For each variant, every
rank trains through ``MMDistributedDataParallel.train_step`` on its own data
and writes what it saw and decided to ``OUT_DIR/{VARIANT}_rank{RANK}.pt``;
the test compares the ranks. Several variants share one launch because
importing torch and mmengine dominates the run time.
"""
import os
import sys
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

#: Variant name -> (wrapper type, model kwargs, wrapper kwargs).
ARSAM_KW = dict(warmup_iters=3, window=6, max_reuse_steps=3, rho=0.05)
VARIANTS = {
    'arsam': ('ARSAMOptimWrapper', dict(), dict(ARSAM_KW)),
    'arsam_bn': ('ARSAMOptimWrapper', dict(bn=True, dropout=0.2),
                 dict(ARSAM_KW)),
    'arsam_accum': ('ARSAMOptimWrapper', dict(),
                    dict(ARSAM_KW, accumulative_counts=2)),
    'sam': ('SAMOptimWrapper', dict(), dict(rho=0.05)),
    'looksam': ('LookSAMOptimWrapper', dict(bn=True),
                dict(rho=0.05, interval=3, alpha=0.5)),
    'randomsam': ('RandomSAMOptimWrapper', dict(), dict(rho=0.05,
                                                        prob=0.4)),
    'gsam': ('GSAMOptimWrapper', dict(dropout=0.2),
             dict(rho=0.05, alpha=0.3, interval=2)),
    'aesam': ('AESAMOptimWrapper', dict(dropout=0.2),
              dict(rho=0.05, target_ratio=0.4)),
    'latesam_accum': ('LateSAMOptimWrapper', dict(dropout=0.2),
                      dict(rho=0.05, target_ratio=0.4,
                           accumulative_counts=2)),
}
ITERS = 50
BATCH = 8
LR = 0.1
MOMENTUM = 0.9


def run(variant: str, out_dir: str) -> None:
    from mmengine.model import MMDistributedDataParallel
    from mmengine.registry import OPTIM_WRAPPERS

    import arsam_mm  # noqa: F401  (registers the wrappers)
    from tests._toy import ToyModel, make_batches

    rank = dist.get_rank()
    wrapper_type, model_kw, wrapper_kw = VARIANTS[variant]

    torch.manual_seed(0)  # the same initial model on every rank
    model = ToyModel(**model_kw)
    init = {k: v.detach().clone() for k, v in model.named_parameters()}
    ddp = MMDistributedDataParallel(module=model)
    optimizer = torch.optim.SGD(
        ddp.parameters(), lr=LR, momentum=MOMENTUM)
    # A different default generator per rank: the schedule's seed (drawn
    # from it, seed=None) differs until the wrapper broadcasts rank 0's.
    torch.manual_seed(1000 + rank)
    wrapper = OPTIM_WRAPPERS.build(
        dict(type=wrapper_type, optimizer=optimizer, **wrapper_kw))
    accum = wrapper_kw.get('accumulative_counts', 1)
    if accum > 1 or wrapper_type in ('AESAMOptimWrapper',
                                     'LateSAMOptimWrapper'):
        # AE-SAM's threshold and late SAM's switch need the run length.
        wrapper.initialize_count_status(ddp, 0, ITERS)
    schedule = wrapper.sharpness.schedule
    seed_before = getattr(schedule, 'seed', None)

    # Different data and different preprocessor noise / dropout per rank.
    torch.manual_seed(2000 + rank)
    batches = make_batches(ITERS, batch=BATCH, seed=100 + rank)
    model.record = True
    decisions = []
    forwards = []
    for data in batches:
        before = len(model.seen)
        ddp.train_step(data, wrapper)
        forwards.append(len(model.seen) - before)
        if wrapper.should_update():
            # One decision per optimizer step (the last micro-batch).
            decisions.append((bool(wrapper.is_sam_step),
                              float(wrapper.sharpness.plan.mix_weight)))

    torch.save(
        dict(
            rank=rank,
            init=init,
            params={
                k: v.detach().clone()
                for k, v in model.named_parameters()
            },
            decisions=decisions,
            forwards=forwards,
            seen=[x.clone() for x in model.seen],
            labels=[b['labels'].clone() for b in batches],
            sam_steps=wrapper.sharpness.sam_steps,
            iters=wrapper.sharpness.iters,
            inner_count=wrapper._inner_count,
            seed_before=seed_before,
            seed_after=getattr(schedule, 'seed', None),
            store={k: v.clone()
                   for k, v in wrapper.sharpness.store.buffers.items()},
        ), os.path.join(out_dir, f'{variant}_rank{rank}.pt'))


def main() -> None:
    out_dir, variants = sys.argv[1], sys.argv[2:]
    torch.set_num_threads(1)
    # A hang (ranks running different collectives) becomes an error.
    dist.init_process_group(
        backend='gloo', init_method='env://',
        timeout=timedelta(seconds=60))
    try:
        for variant in variants:
            run(variant, out_dir)
            dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
