"""The torch-only core of ARSAM and the efficient-SAM family.

``import arsam_mm.core`` imports torch and nothing of OpenMMLab. The driver
(:class:`SharpnessAware`) runs one optimizer step of a member of the family
from three parts: the *when* (:mod:`.schedules`), the *what* of one-pass
steps (:mod:`.corrections`) and the SAM step's direction
(:mod:`.directions`), on the tensor kernels of :mod:`.kernels`.
"""
from .corrections import Correction, LookSAMReuse, NoCorrection, PSFReuse
from .directions import Direction, GSAMDirection, SAMDirection
from .schedules import (AESAMSchedule, ARSAMSchedule, LateSchedule,
                        PeriodicSchedule, RandomSchedule, StepPlan,
                        StepSchedule)
from .sharpness_aware import SharpnessAware

__all__ = [
    'SharpnessAware', 'StepSchedule', 'StepPlan', 'ARSAMSchedule',
    'PeriodicSchedule', 'RandomSchedule', 'AESAMSchedule', 'LateSchedule',
    'Correction', 'NoCorrection', 'PSFReuse', 'LookSAMReuse', 'Direction',
    'SAMDirection', 'GSAMDirection'
]
