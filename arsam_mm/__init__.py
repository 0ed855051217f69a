"""ARSAM and SAM for mmengine-based toolboxes.

Importing the package applies the compatibility layer (:mod:`.compat`) and,
when mmengine is installed, registers the optimizer wrappers and the hook in
mmengine's root registries; when mmpretrain is installed, it also registers
the CIFAR backbones (:mod:`.models`) and the offline ``LocalCIFAR10``/
``LocalCIFAR100`` datasets (:mod:`.data.local_cifar`) in mmpretrain's
registries, which imports mmpretrain (and torchvision). The core
(:mod:`.kernels`, :mod:`.schedule`, :mod:`.sharpness_aware`) needs torch
only.
"""
import importlib.util

from .compat import apply_compat
from .schedule import ARSAMSchedule, PeriodicSchedule, StepPlan
from .sharpness_aware import SharpnessAware
from .version import __version__

apply_compat()

__all__ = [
    '__version__', 'apply_compat', 'SharpnessAware', 'ARSAMSchedule',
    'PeriodicSchedule', 'StepPlan'
]

if importlib.util.find_spec('mmengine') is not None:
    from .engine import *  # noqa: F401,F403
    from .engine import __all__ as _engine_all
    __all__ += _engine_all

if importlib.util.find_spec('mmpretrain') is not None:
    # mmpretrain's registries: the CIFAR backbones and the offline CIFAR
    # datasets of the classification configs (imports mmpretrain).
    from . import models  # noqa: F401
    from .data import local_cifar  # noqa: F401
