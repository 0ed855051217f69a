"""The torch-only core of ARSAM and the efficient-SAM family.

``import arsam_mm.core`` imports torch and nothing of OpenMMLab. The driver
(:class:`SharpnessAware`, :mod:`.sharpness_aware`) runs one optimizer step
of a member of the family from three parts: the *when*
(:mod:`.schedules`), the *what* of one-pass steps (:mod:`.corrections`)
and the SAM step's direction (:mod:`.directions`). Beside it: the
parameters and their buffers (:mod:`.param_store`), the counts
(:mod:`.counters`), the two passes of a SAM step (:mod:`.sam_step`), what
a schedule sees of one (:mod:`.pass_view`), the plain-loop iteration
(:mod:`.closure_step`) and pass 2's contexts (:mod:`.pass_context`), on
the in-place kernels (:mod:`.kernels`), the global norms and inner
products (:mod:`.reductions`) and the kernel-path choice
(:mod:`.foreach`).
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
