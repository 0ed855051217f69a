"""The micro-batches pass 2 replays, kept as pass 1 saw them.

Pass 2 must see the batch pass 1 saw, but batch augments in the data
preprocessor (mixup, cutmix, random resizing) are random: running the
preprocessor again would give pass 2 another batch. So while pass 1 runs,
a forward hook on the preprocessor keeps its *output* (a reference, not a
copy), the ``inner_count`` the loss was scaled with and, to replay dropout
and other random layers, the RNG state right after it
(:func:`arsam_mm.core.pass_context.rng_state`).
"""
import contextlib
from typing import Any, Iterator, List, Tuple

from torch import nn

from ...core.pass_context import rng_state

__all__ = ['Captured', 'BatchCapture']

#: (preprocessor output, ``inner_count`` at pass 1, RNG state or None).
Captured = Tuple[Any, int, Any]


class BatchCapture:
    """The kept micro-batches of one accumulation cycle.

    Args:
        replay_random (bool): Keep the RNG state after each batch, for pass
            2 to replay it.
    """

    def __init__(self, replay_random: bool) -> None:
        self.replay_random = replay_random
        self.batches: List[Captured] = []

    def __len__(self) -> int:
        return len(self.batches)

    @contextlib.contextmanager
    def keeping(self, preprocessor: nn.Module, count: int) -> Iterator[None]:
        """Keep what ``preprocessor`` returns inside the context.

        Args:
            preprocessor (nn.Module): The model's data preprocessor.
            count (int): The wrapper's ``inner_count`` for this micro-batch.
        """

        def keep(module: nn.Module, args: Any, output: Any) -> None:
            state = rng_state() if self.replay_random else None
            self.batches.append((output, count, state))

        handle = preprocessor.register_forward_hook(keep)
        try:
            yield
        finally:
            handle.remove()

    def take(self) -> List[Captured]:
        """The kept batches, handed over (none are kept after)."""
        batches, self.batches = self.batches, []
        return batches

    def clear(self) -> None:
        self.batches = []
