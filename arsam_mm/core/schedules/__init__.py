"""When an iteration takes the two-pass SAM step: one schedule per file,
torch only.

* :class:`PeriodicSchedule`: SAM on every ``interval``-th step (``1``: SAM).
* :class:`RandomSchedule`: SAM with probability ``prob`` (randomized SAM).
* :class:`ARSAMSchedule`: ARSAM's adaptive sampling (:mod:`.arsam`).
* :class:`AESAMSchedule`: AE-SAM's threshold on the squared gradient norm,
  decided after pass 1.
* :class:`LateSchedule`: late-phase SAM, plain steps and then SAM on the
  run's last ``target_ratio`` share.

The interface they share is :class:`StepSchedule` (:mod:`.base`).
"""
from .aesam import AESAMSchedule
from .arsam import ARSAMSchedule
from .base import StepPlan, StepSchedule
from .late import LateSchedule
from .periodic import PeriodicSchedule
from .randomized import RandomSchedule

__all__ = [
    'StepPlan', 'StepSchedule', 'PeriodicSchedule', 'RandomSchedule',
    'ARSAMSchedule', 'AESAMSchedule', 'LateSchedule'
]
