"""One schedule seed for every process of a distributed run.

A schedule that draws random numbers (randomized SAM, ARSAM's sampling)
draws them from its own generator, seeded with
:attr:`arsam_mm.core.schedules.base.StepSchedule.seed`. By default that
seed is derived from ``torch.initial_seed()``, which mmengine's Runner
makes equal on every rank unless ``randomness.diff_rank_seed=True``
(``set_random_seed`` in ``mmengine/runner/utils.py`` adds the rank then);
outside a Runner it may differ too. Ranks with different seeds would take
different decisions and run different collectives. So before
the first plan of a fresh run, rank 0's seed is broadcast and every rank
restarts its draws from it (``reseed``). A resumed schedule carries its
generator's state in the checkpoint and is left alone.
"""
import torch
from mmengine.dist import broadcast, get_world_size, is_distributed

from ...core.schedules import StepSchedule

__all__ = ['broadcast_seed']


def broadcast_seed(schedule: StepSchedule) -> None:
    """Give every rank rank 0's schedule seed (one ``broadcast``); nothing
    for a schedule without a seed or outside a distributed run.

    Args:
        schedule (StepSchedule): A schedule before its first plan.
    """
    if schedule.seed is None or not is_distributed() or \
            get_world_size() == 1:
        return
    seed = torch.tensor([schedule.seed], dtype=torch.int64)
    if torch.distributed.get_backend() == 'nccl':
        seed = seed.cuda()
    broadcast(seed, src=0)
    schedule.reseed(int(seed.item()))
