"""The SAM state in a checkpoint, written and read in one place.

:meth:`.SharpnessAwareOptimWrapper.state_dict` adds it to mmengine's
optimizer-wrapper state (``'state'``, ``'param_groups'``) under
:data:`KEY`.
"""
import logging
from typing import Any, Dict, List, Optional, Tuple, TypedDict

from mmengine.logging import print_log
from torch import Tensor

__all__ = ['KEY', 'CycleState', 'write_sam_state', 'read_sam_state']

#: The key of the SAM state in the optimizer wrapper's state dict.
KEY = 'arsam'


class CycleState(TypedDict, total=False):
    """A gradient-accumulation cycle saved before its last micro-batch
    (:class:`.accumulation.AccumulationCycle`).

    Attributes:
        length (int): Micro-batches whose pass-1 backward had run.
        grads (dict[int, Tensor]): The accumulated gradients by flat
            parameter index (absent in a distributed run: they are local
            to each rank).
        batches (list[tuple]): The kept micro-batches, packed
            (:func:`.packed_batch.pack`), with ``inner_count`` and RNG
            state (absent with ``grads``).
    """
    length: int
    grads: Dict[int, Tensor]
    batches: List[Tuple[Any, int, Any]]


def write_sam_state(wrapper: str, driver: Dict[str, Any], passes: int,
                    cycle: Optional[CycleState]) -> Dict[str, Any]:
    """The SAM state of a wrapper."""
    state = dict(driver)
    state['wrapper'] = wrapper
    state['passes'] = passes
    if cycle is not None:
        state['cycle'] = cycle
    return state


def read_sam_state(state_dict: Dict[str, Any], wrapper: str,
                   schedule: str) -> Optional[Dict[str, Any]]:
    """Take the SAM state out of ``state_dict``; None (with a warning) when
    it has none.

    Raises:
        ValueError: For SAM state written by a wrapper with another
            schedule, naming it.
    """
    state = state_dict.pop(KEY, None)
    if state is None:
        print_log(
            f'{wrapper}: the checkpoint has no "arsam" '
            'state (saved by another optimizer wrapper, or under '
            "mmengine's FSDPStrategy, which drops it: use "
            'SAMFSDPStrategy); the SAM schedule and the stored PSF '
            'start afresh.',
            logger='current',
            level=logging.WARNING)
        return None
    from ...core.sharpness_aware import SharpnessAware
    theirs = SharpnessAware.schedule_type_of(state)
    if theirs != schedule:
        writer = state.get(
            'wrapper', 'a wrapper with a ' + theirs.replace(
                'Schedule', '') + ' schedule')
        raise ValueError(
            f'cannot resume {wrapper} from this checkpoint: '
            f'its SAM state was written by {writer}. Resume with '
            f'optim_wrapper.type={writer!r}, or start from its weights '
            'only (load_from=CKPT, resume=False)')
    return state
