"""What a schedule sees of a SAM step (:meth:`StepSchedule.observe`),
torch only."""
from typing import List, Optional

from torch import Tensor

from .param_store import Entry, ParamStore
from .reductions import PassSums

__all__ = ['PassView']

#: The stages at which a schedule observes a SAM step, in order.
STAGES = ('pass1', 'pass2', 'end')


class PassView:
    """One stage of a SAM step, as a schedule observes it.

    Stages, in order: ``'pass1'`` after pass 1, before the weights move
    (:attr:`grads` hold ``g``; a late schedule's step is seen here before it
    is decided, and a step whose pass 1 is not finite under AMP ends here);
    ``'pass2'`` after pass 2, the weights
    restored (:attr:`grads` hold ``g_s``, :attr:`kept` holds ``g``);
    ``'end'`` when the step's outcome is known (:attr:`ok`). ASAM's steps
    are observed at ``'pass1'`` only (ASAM keeps ``e``, not ``g``).

    The gradients carry the loss scale (AMP; :attr:`inv` unscales them)
    and must not be modified. A norm from :meth:`norm` is global over the
    shards and reduced with the pass's other sums (one ``all_reduce`` per
    pass when sharded): read its value at a later stage than the one that
    asked for it (``'end'`` for both passes').

    Args:
        stage (str): One of ``'pass1'``, ``'pass2'``, ``'end'``.
        store (ParamStore): The parameters, for tails.
        sums (PassSums): The pass's global sums.
        entries: The parameters with a gradient, aligned with ``grads``.
        grads (list[Tensor]): Their gradients at this stage.
        kept (list[Tensor], optional): ``g`` at ``'pass2'``.
        inv (Tensor, optional): ``1 / loss scale``, None without AMP.
        ok (Tensor, optional): At ``'end'``, 0-d device bool: both passes
            were finite.
    """

    def __init__(self,
                 stage: str,
                 store: ParamStore,
                 sums: PassSums,
                 entries: List[Entry],
                 grads: List[Tensor],
                 kept: Optional[List[Tensor]] = None,
                 inv: Optional[Tensor] = None,
                 ok: Optional[Tensor] = None) -> None:
        if stage not in STAGES:
            raise ValueError(f'stage must be one of {STAGES}, got {stage!r}')
        self.stage = stage
        self.store = store
        self.sums = sums
        self.entries = entries
        self.grads = grads
        self.kept = kept
        self.inv = inv
        self.ok = ok

    @property
    def foreach(self) -> Optional[bool]:
        """The driver's kernel choice."""
        return self.store.foreach

    def tail(self, n: int) -> List[int]:
        """Positions in :attr:`grads` of the optimizer's last ``n``
        parameters (:meth:`ParamStore.tail`)."""
        return self.store.tail(self.entries, n)

    def norm(self, tensors: List[Tensor], unscale: bool = False) -> Tensor:
        """The global L2 norm of ``tensors`` (0-d, on the device).

        Args:
            tensors (list[Tensor]): Local tensors (shards when sharded).
            unscale (bool): Multiply by :attr:`inv` (if any) afterwards.
        """
        return self.sums.norm(tensors,
                              scale=self.inv if unscale else None)
