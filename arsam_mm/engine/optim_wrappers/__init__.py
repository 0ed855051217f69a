from .amp_sam_optim_wrapper import (AMP_ARGUMENTS, AMP_TWINS,
                                    AmpAESAMOptimWrapper, AmpARSAMOptimWrapper,
                                    AmpGSAMOptimWrapper,
                                    AmpLateSAMOptimWrapper,
                                    AmpLookSAMOptimWrapper,
                                    AmpRandomSAMOptimWrapper,
                                    AmpSAMOptimWrapper, AmpSecondPass,
                                    amp_class, amp_twin)
from .efficient_sam_optim_wrappers import (AESAMOptimWrapper, GSAMOptimWrapper,
                                           LateSAMOptimWrapper,
                                           LookSAMOptimWrapper,
                                           RandomSAMOptimWrapper)
from .sam_optim_wrapper import ARSAMOptimWrapper, SAMOptimWrapper
from .sharpness_aware_optim_wrapper import SharpnessAwareOptimWrapper

__all__ = [
    'SharpnessAwareOptimWrapper', 'SAMOptimWrapper', 'ARSAMOptimWrapper',
    'LookSAMOptimWrapper', 'RandomSAMOptimWrapper', 'GSAMOptimWrapper',
    'AmpSecondPass', 'amp_twin', 'amp_class', 'AMP_TWINS', 'AMP_ARGUMENTS',
    'AmpSAMOptimWrapper',
    'AmpARSAMOptimWrapper', 'AmpLookSAMOptimWrapper',
    'AmpRandomSAMOptimWrapper', 'AmpGSAMOptimWrapper', 'AESAMOptimWrapper',
    'AmpAESAMOptimWrapper', 'LateSAMOptimWrapper', 'AmpLateSAMOptimWrapper'
]
