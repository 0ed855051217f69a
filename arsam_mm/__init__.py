"""ARSAM and SAM for mmengine-based toolboxes.

Importing the package registers, when mmengine is installed, the optimizer
wrappers and the hook in mmengine's root registries, and applies the
environment fixes of :mod:`.compat` where they are needed (mmcv-lite's
missing ``mmcv._ext``; mmengine checkpoints under torch >= 2.6). It imports
neither mmpretrain nor torchvision: the mmpretrain registrations of the
classification configs (CIFAR backbones, ``LocalCIFAR10``/``LocalCIFAR100``)
are in :mod:`arsam_mm.mmpretrain`, imported explicitly. The core
(:mod:`.kernels`, :mod:`.schedule`, :mod:`.sharpness_aware`) needs torch
only.
"""
import importlib.util

from .aesam_schedule import AESAMSchedule
from .compat import apply_compat
from .corrections import (Correction, LookSAMReuse, NoCorrection,
                          PSFReuse)
from .directions import Direction, GSAMDirection, SAMDirection
from .late_schedule import LateSchedule
from .schedule import (ARSAMSchedule, PeriodicSchedule, RandomSchedule,
                       StepPlan, StepSchedule)
from .sharpness_aware import SharpnessAware
from .version import __version__

apply_compat()

__all__ = [
    '__version__', 'apply_compat', 'SharpnessAware', 'StepSchedule',
    'ARSAMSchedule', 'PeriodicSchedule', 'RandomSchedule', 'AESAMSchedule',
    'LateSchedule',
    'StepPlan', 'Correction', 'NoCorrection', 'PSFReuse', 'LookSAMReuse',
    'Direction', 'SAMDirection', 'GSAMDirection'
]

if importlib.util.find_spec('mmengine') is not None:
    from .engine import *  # noqa: F401,F403
    from .engine import __all__ as _engine_all
    __all__ += _engine_all
