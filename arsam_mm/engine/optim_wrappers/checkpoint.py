"""The SAM state in a checkpoint, written and read in one place.

:meth:`.SharpnessAwareOptimWrapper.state_dict` adds one entry to mmengine's
optimizer-wrapper state (``'state'``, ``'param_groups'`` and, in an AMP
twin, ``'loss_scaler'``): :data:`KEY` holds a :class:`SAMState` of
:data:`FORMAT`. Every member of the family writes the same layout; what
differs is the content of ``'schedule'`` and ``'correction'``, each the
``state_dict()`` of its class in :mod:`arsam_mm.core`.

The layout written before the format was numbered (key ``'arsam'``: the
driver's state with the schedule, the correction, ``'wrapper'`` and the
accumulation ``'cycle'`` side by side) is read by
:func:`migrate_unversioned`. In it the wrapper's pass count overwrote the
driver's (both ``'passes'``); the driver's is recovered exactly, since it
is always ``iters + sam_runs``.
"""
import logging
from typing import Any, Dict, List, Optional, Tuple, TypedDict

from mmengine.logging import print_log
from torch import Tensor

__all__ = [
    'KEY', 'FORMAT', 'UNVERSIONED_KEY', 'DriverState', 'CycleState',
    'WrapperState', 'SAMState', 'write_sam_state', 'read_sam_state',
    'driver_state', 'migrate_unversioned'
]

#: The key of the SAM state in the optimizer wrapper's state dict.
KEY = 'arsam_mm'
#: The layout :func:`write_sam_state` writes.
FORMAT = 1
#: The key of the layout written before :data:`FORMAT` 1.
UNVERSIONED_KEY = 'arsam'


class DriverState(TypedDict, total=False):
    """:meth:`arsam_mm.core.sharpness_aware.SharpnessAware.state_dict`
    without its ``'schedule'`` and ``'correction'``.

    Attributes:
        schedule_type (str): The schedule's class name.
        iters (int): Optimizer steps planned.
        passes (int): The driver's gradient evaluations (``grad_evals``):
            one per optimizer step plus one per second pass run.
        sam_runs (int): Second passes run.
        sam_failed (int): Of those, the ones whose gradient was not used
            (AMP: non-finite).
        plan (tuple): The last plan, ``(sam, mix_weight)``.
        store (dict[int, Tensor]): The correction's kept vector by flat
            parameter index (only for a correction that keeps one).
    """
    schedule_type: str
    iters: int
    passes: int
    sam_runs: int
    sam_failed: int
    plan: Tuple[Optional[bool], float]
    store: Dict[int, Tensor]


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


class WrapperState(TypedDict):
    """The mmengine wrapper's own part.

    Attributes:
        type (str): The class that wrote the state (a resume must use one
            with the same schedule).
        grad_evals (int): The wrapper's forward-backward passes, every
            micro-batch and every replayed one counted
            (``wrapper.passes``, logged as ``train/grad_evals``).
        cycle (dict, optional): The open accumulation cycle, None between
            cycles.
    """
    type: str
    grad_evals: int
    cycle: Optional[CycleState]


class SAMState(TypedDict):
    """Everything a resumed run needs to continue the SAM family's updates
    exactly.

    Attributes:
        format (int): :data:`FORMAT`.
        wrapper (WrapperState): The mmengine wrapper's part.
        driver (DriverState): The core driver's counters and kept vector.
        schedule (dict): The schedule's ``state_dict()``.
        correction (dict): The correction's ``state_dict()``.
    """
    format: int
    wrapper: WrapperState
    driver: DriverState
    schedule: Dict[str, Any]
    correction: Dict[str, Any]


def write_sam_state(wrapper: str, driver: Dict[str, Any], grad_evals: int,
                    cycle: Optional[CycleState]) -> SAMState:
    """The SAM state of a wrapper.

    Args:
        wrapper (str): The wrapper's class name.
        driver (dict): ``SharpnessAware.state_dict()``.
        grad_evals (int): The wrapper's pass count.
        cycle (dict, optional): The open accumulation cycle.
    """
    driver = dict(driver)
    schedule, correction = driver.pop('schedule'), driver.pop('correction')
    return SAMState(
        format=FORMAT,
        wrapper=WrapperState(type=wrapper, grad_evals=grad_evals,
                             cycle=cycle),
        driver=DriverState(**driver),
        schedule=schedule,
        correction=correction)


def driver_state(state: SAMState) -> Dict[str, Any]:
    """What ``SharpnessAware.load_state_dict`` reads, from ``state``."""
    return dict(state['driver'], schedule=state['schedule'],
                correction=state['correction'])


#: The keys of the unversioned layout written by every wrapper.
_UNVERSIONED = ('schedule_type', 'iters', 'passes', 'sam_runs',
                'sam_failed', 'plan', 'schedule', 'correction', 'wrapper')


def migrate_unversioned(old: Dict[str, Any]) -> SAMState:
    """The unversioned layout (key :data:`UNVERSIONED_KEY`) as a
    :class:`SAMState`.

    Its ``'passes'`` is the wrapper's count (it overwrote the driver's);
    the driver's is ``iters + sam_runs``, as ``SharpnessAware`` counts.

    Args:
        old (dict): The state under ``'arsam'``.

    Returns:
        SAMState: The same state in :data:`FORMAT`.

    Raises:
        ValueError: For an older layout without one of its keys, naming
            them.
    """
    missing = [key for key in _UNVERSIONED if key not in old]
    if missing:
        raise ValueError(
            f'the checkpoint\'s {UNVERSIONED_KEY!r} state lacks '
            f'{", ".join(missing)}: it was written by a pre-release of '
            'arsam_mm that cannot be resumed; start from its weights only '
            '(load_from=CKPT, resume=False)')
    driver = {key: old[key] for key in _UNVERSIONED[:6]}
    driver['passes'] = int(old['iters']) + int(old['sam_runs'])
    if 'store' in old:
        driver['store'] = old['store']
    driver.update(schedule=old['schedule'], correction=old['correction'])
    return write_sam_state(old['wrapper'], driver, int(old['passes']),
                           old.get('cycle'))


def read_sam_state(state_dict: Dict[str, Any], wrapper: str,
                   schedule: str) -> Optional[SAMState]:
    """Take the SAM state out of a wrapper's ``state_dict`` (in place).

    Args:
        state_dict (dict): The optimizer wrapper's state from a checkpoint.
        wrapper (str): The loading wrapper's class name.
        schedule (str): Its schedule's class name.

    Returns:
        SAMState, optional: None, with a warning, for a checkpoint without
        SAM state (written by another optimizer wrapper, or under
        mmengine's ``FSDPStrategy``).

    Raises:
        ValueError: For another :data:`FORMAT`, or for SAM state written by
            a wrapper with another schedule (a SAM checkpoint resumed with
            ARSAM), naming it.
    """
    state = state_dict.pop(KEY, None)
    old = state_dict.pop(UNVERSIONED_KEY, None)
    if state is None and old is not None:
        state = migrate_unversioned(old)
    if state is None:
        print_log(
            f'{wrapper}: the checkpoint has no {KEY!r} state (saved by '
            "another optimizer wrapper, or under mmengine's FSDPStrategy, "
            'which drops it: use SAMFSDPStrategy); the SAM schedule and '
            'the kept vector start afresh.',
            logger='current',
            level=logging.WARNING)
        return None
    if state.get('format') != FORMAT:
        raise ValueError(
            f'the checkpoint\'s {KEY!r} state has format '
            f'{state.get("format")!r}; this arsam_mm reads format {FORMAT} '
            f'(and the unversioned {UNVERSIONED_KEY!r} layout)')
    writer = state['wrapper']['type']
    if state['driver']['schedule_type'] != schedule:
        raise ValueError(
            f'cannot resume {wrapper} from this checkpoint: '
            f'its SAM state was written by {writer}. Resume with '
            f'optim_wrapper.type={writer!r}, or start from its weights '
            'only (load_from=CKPT, resume=False)')
    return state
