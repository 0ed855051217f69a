"""ARSAM and SAM for mmengine-based toolboxes.

Importing the package applies the compatibility layer (:mod:`.compat`) and,
when mmengine is installed, registers the optimizer wrappers and the hook in
mmengine's root registries. The core (:mod:`.kernels`, :mod:`.schedule`,
:mod:`.sharpness_aware`) needs torch only.
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
