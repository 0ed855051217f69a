"""mmengine glue: optimizer wrappers and the hook, registered in mmengine's
root registries (``OPTIM_WRAPPERS``, ``HOOKS``) so that configs of every
downstream toolbox (``default_scope='mmseg'``, ``'mmpose'``, ...) find them.
"""
from .hooks import ARSAMHook  # noqa: F401
from .optim_wrappers import *  # noqa: F401,F403
from .optim_wrappers import __all__ as _wrappers_all

__all__ = ['ARSAMHook'] + _wrappers_all
