"""ARSAM and the efficient-SAM family for mmengine-based toolboxes.

Two layers:

* :mod:`arsam_mm.core`: the optimizer step of every member (driver,
  schedules, corrections, directions, kernels), torch only; ``import
  arsam_mm.core`` imports nothing of OpenMMLab.
* :mod:`arsam_mm.engine`: the mmengine optimizer wrappers, the hook, the
  validation loop and the FSDP strategy, registered in mmengine's root
  registries, plus the environment fixes of :mod:`arsam_mm.compat` (mmcv-lite's
  missing ``mmcv._ext``; mmengine checkpoints under torch >= 2.6).

Above them, :mod:`arsam_mm.cfgtools` (``--smoke``, config rewrites, the
data-generator table) and :mod:`arsam_mm.benchmark` serve the tools;
:mod:`arsam_mm.family` lists the members once.

A config loads the wrappers with ``custom_imports = dict(imports=
['arsam_mm'])``: mmengine is imported by then, and importing this package
under mmengine imports :mod:`arsam_mm.engine`. Outside mmengine, ``import
arsam_mm`` stays torch only; ``import arsam_mm.engine`` registers
explicitly, and a name of either layer (``arsam_mm.SAMOptimWrapper``,
``arsam_mm.SharpnessAware``) imports its layer on first use. The
mmpretrain registrations of the classification configs are in
:mod:`arsam_mm.mmpretrain`, imported explicitly.
"""
import importlib
import importlib.util
import sys
from typing import Any

from .compat import install_mmcv_ext_stub
from .version import __version__

__all__ = ['__version__']

# An import hook only (it imports nothing): lets a toolbox import on
# mmcv-lite, whose compiled ops are missing (arsam_mm.compat, part 1).
install_mmcv_ext_stub()

if 'mmengine' in sys.modules:
    # Under mmengine (a config's custom_imports): register the wrappers.
    importlib.import_module('.engine', __name__)


def __getattr__(name: str) -> Any:
    """Resolve a public name of :mod:`.core` or :mod:`.engine` lazily; a
    submodule (``from arsam_mm import family``) is imported alone, and a
    dunder probe (``__wrapped__``, ``__file__`` lookups by tools) imports
    nothing."""
    if name.startswith('__'):
        raise AttributeError(
            f'module {__name__!r} has no attribute {name!r}')
    if importlib.util.find_spec(f'{__name__}.{name}') is not None:
        return importlib.import_module(f'.{name}', __name__)
    core = importlib.import_module('.core', __name__)
    if name in core.__all__:
        return getattr(core, name)
    if importlib.util.find_spec('mmengine') is not None:
        engine = importlib.import_module('.engine', __name__)
        if name in engine.__all__:
            return getattr(engine, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
