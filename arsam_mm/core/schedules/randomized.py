"""Randomized SAM: each step a SAM step with probability ``prob``, torch
only."""
from typing import Any, Dict, Optional

import torch

from ..validate import check_int, check_ratio
from .base import StepSchedule

__all__ = ['RandomSchedule', 'derive_seed']


def derive_seed(base: int) -> int:
    """A schedule seed from a run's seed, decorrelated from it.

    One round of SplitMix64's finaliser: the schedule's generator does not
    replay the stream that torch's global generator draws from the same
    seed.

    Args:
        base (int): E.g. ``torch.initial_seed()``.

    Returns:
        int: A seed in ``[0, 2**63)``.
    """
    mask = (1 << 64) - 1
    z = (base + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return (z ^ (z >> 31)) >> 1


class RandomSchedule(StepSchedule):
    """Randomized SAM (Zhao et al. 2022, RST / SS-SAM with a constant
    schedule function): each step is a SAM step with probability ``prob``.

    The draws come from the schedule's own :class:`torch.Generator`, which
    is checkpointed; the mmengine wrappers give every rank rank 0's seed, so
    all ranks take the same decisions.

    Args:
        prob (float): Probability of a SAM step, in [0, 1]. Defaults to 0.5.
        seed (int, optional): Seed of the generator. Defaults to None:
            derived from ``torch.initial_seed()`` without drawing from the
            global generator (see :func:`derive_seed`).
    """

    def __init__(self, prob: float = 0.5, seed: Optional[int] = None) -> None:
        self.prob = check_ratio('prob', prob)
        if seed is None:
            seed = derive_seed(torch.initial_seed())
        self.seed = check_int('seed', seed, 0)
        self.generator = torch.Generator(device='cpu')
        self.generator.manual_seed(self.seed)
        self.iter = 0

    def reseed(self, seed: int) -> None:
        self.seed = check_int('seed', seed, 0)
        self.generator.manual_seed(self.seed)

    def plan(self) -> bool:
        self.iter += 1
        draw = torch.rand((), generator=self.generator)
        return float(draw) < self.prob

    def state_dict(self) -> Dict[str, Any]:
        return {
            'iter': self.iter,
            'seed': self.seed,
            'generator': self.generator.get_state()
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.iter = int(state['iter'])
        self.seed = int(state['seed'])
        self.generator.set_state(state['generator'])
