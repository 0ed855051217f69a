"""Where a wrapper stands in a gradient-accumulation cycle, and the cycle
as a checkpoint keeps it.

The step is planned at the first micro-batch of a cycle and taken at its
last (mmengine's ``should_update``). A checkpoint saved in between (an
epoch of odd length with ``accumulative_counts=2``, say) holds the cycle:
the gradients accumulated so far and, on a SAM step, the kept micro-batches
(:mod:`.packed_batch`), so a resumed run ends with the weights of the
uninterrupted one. In a distributed run those gradients are local to each
rank and only rank 0 saves, so the cycle is not kept there: the first cycle
after such a resume is shorter, as with mmengine's own wrappers (a warning
says so).
"""
import logging
from typing import List, Optional

from mmengine.dist import get_world_size, is_distributed
from mmengine.logging import print_log
from torch import Tensor

from .batch_capture import BatchCapture
from .checkpoint import CycleState
from .packed_batch import pack, unpack

__all__ = ['AccumulationCycle']


class AccumulationCycle:
    """The open cycle of one wrapper.

    Args:
        replay_random (bool): For the :class:`.BatchCapture`.

    Attributes:
        planned (bool): The cycle's step is planned (its first micro-batch
            has entered ``optim_context``) and not yet taken.
        length (int): Micro-batches whose pass-1 backward has run.
        batches (BatchCapture): Its kept micro-batches.
    """

    def __init__(self, replay_random: bool) -> None:
        self.planned = False
        self.length = 0
        self.batches = BatchCapture(replay_random)

    def start(self) -> None:
        """The first micro-batch of a cycle: nothing kept yet."""
        self.batches.clear()
        self.length = 0
        self.planned = True

    def state_dict(self, params: List[Tensor]) -> Optional[CycleState]:
        """The open cycle (None between cycles).

        Args:
            params (list[Tensor]): The optimizer's parameters, in order.
        """
        if not (self.planned and self.length):
            return None
        state = CycleState(length=self.length)
        if not (is_distributed() and get_world_size() > 1):
            state['grads'] = {
                index: p.grad.detach().clone()
                for index, p in enumerate(params) if p.grad is not None
            }
            state['batches'] = [(pack(batch), count, rng)
                                for batch, count, rng in self.batches.batches]
        return state

    def load_state_dict(self, state: Optional[CycleState],
                        params: List[Tensor], owner: str) -> None:
        """Continue the cycle a checkpoint was saved in (none: start the
        next one afresh).

        Args:
            state (dict, optional): :meth:`state_dict`'s.
            params (list[Tensor]): The optimizer's parameters, in order;
                their ``grad`` is set to the cycle's.
            owner (str): The wrapper's class name, for the warning.
        """
        self.planned = False
        self.batches.clear()
        self.length = 0
        if not state:
            return
        if 'grads' not in state:
            print_log(
                f'{owner}: the checkpoint was saved inside a '
                'gradient-accumulation cycle of a distributed run; its '
                'partial gradients were not kept, so the first cycle after '
                'resuming is shorter (as with mmengine\'s OptimWrapper).',
                logger='current',
                level=logging.WARNING)
            return
        for index, grad in state['grads'].items():
            param = params[int(index)]
            param.grad = grad.to(device=param.device, dtype=param.dtype)
        self.batches.batches = [(unpack(batch), count, rng)
                                for batch, count, rng in state['batches']]
        self.length = int(state['length'])
        self.planned = True
