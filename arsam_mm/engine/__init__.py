"""mmengine glue: optimizer wrappers and the hook, registered in mmengine's
root registries (``OPTIM_WRAPPERS``, ``HOOKS``) so that configs of every
downstream toolbox (``default_scope='mmseg'``, ``'mmpose'``, ...) find them.
"""
from .hooks import ARSAMHook
from .optim_wrappers import (AmpARSAMOptimWrapper, AmpSAMOptimWrapper,
                             ARSAMOptimWrapper, SAMOptimWrapper)

__all__ = [
    'ARSAMHook', 'SAMOptimWrapper', 'ARSAMOptimWrapper', 'AmpSAMOptimWrapper',
    'AmpARSAMOptimWrapper'
]
