from .amp_sam_optim_wrapper import (AMP_TWINS, AmpAESAMOptimWrapper,
                                    AmpARSAMOptimWrapper,
                                    AmpGSAMOptimWrapper,
                                    AmpLateSAMOptimWrapper,
                                    AmpLookSAMOptimWrapper,
                                    AmpRandomSAMOptimWrapper,
                                    AmpSAMOptimWrapper, AmpSecondPass,
                                    amp_twin)
from .efficient_sam_optim_wrappers import (AESAMOptimWrapper,
                                           GSAMOptimWrapper,
                                           LateSAMOptimWrapper,
                                           LookSAMOptimWrapper,
                                           RandomSAMOptimWrapper)
from .sam_optim_wrapper import ARSAMOptimWrapper, SAMOptimWrapper
from .sharpness_aware_optim_wrapper import SharpnessAwareOptimWrapper

__all__ = [
    'SharpnessAwareOptimWrapper', 'SAMOptimWrapper', 'ARSAMOptimWrapper',
    'LookSAMOptimWrapper', 'RandomSAMOptimWrapper', 'GSAMOptimWrapper',
    'AmpSecondPass', 'amp_twin', 'AMP_TWINS', 'AmpSAMOptimWrapper',
    'AmpARSAMOptimWrapper', 'AmpLookSAMOptimWrapper',
    'AmpRandomSAMOptimWrapper', 'AmpGSAMOptimWrapper', 'AESAMOptimWrapper',
    'AmpAESAMOptimWrapper', 'LateSAMOptimWrapper', 'AmpLateSAMOptimWrapper'
]
