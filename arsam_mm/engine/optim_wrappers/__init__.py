from .amp_sam_optim_wrapper import AmpARSAMOptimWrapper, AmpSAMOptimWrapper
from .sam_optim_wrapper import (ARSAMOptimWrapper, SAMOptimWrapper,
                                SharpnessAwareMixin)

__all__ = [
    'SAMOptimWrapper', 'ARSAMOptimWrapper', 'AmpSAMOptimWrapper',
    'AmpARSAMOptimWrapper', 'SharpnessAwareMixin'
]
