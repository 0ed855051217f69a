"""mmengine glue: optimizer wrappers, the hook and the validation loop that
also scores a test split and ``SAMFSDPStrategy``, registered in
mmengine's root registries (``OPTIM_WRAPPERS``, ``HOOKS``, ``LOOPS``,
``STRATEGIES``) so that configs of every downstream toolbox
(``default_scope='mmseg'``, ``'mmpose'``, ...) find them.
"""
import importlib

from ..compat import apply_compat

apply_compat()

from .hooks import ARSAMHook  # noqa: E402,F401
from .loops import ValTestLoop  # noqa: E402,F401
from .optim_wrappers import *  # noqa: E402,F401,F403
from .optim_wrappers import __all__ as _wrappers_all  # noqa: E402

__all__ = ['ARSAMHook', 'ValTestLoop'] + _wrappers_all

if hasattr(importlib.import_module('mmengine._strategy'), 'FSDPStrategy'):
    # Absent where mmengine's FSDP cannot be imported (torch < 2.0).
    from .strategies import SAMFSDPStrategy  # noqa: F401
    __all__ += ['SAMFSDPStrategy']
