"""ARSAM and SAM for mmengine-based toolboxes.

Importing the package applies the compatibility layer (:mod:`.compat`) and,
when mmengine is installed, registers the optimizer wrappers and the hook in
mmengine's root registries.
"""
from .compat import apply_compat
from .version import __version__

apply_compat()

__all__ = ['__version__', 'apply_compat']
