"""The parameters as the driver walks them, and its one buffer per
parameter, torch only.

A parameter is addressed by its flat index in optimizer order: the param
groups in order, the parameters in order within a group. Its buffer holds
``g`` during pass 2 of a SAM step (``e`` with ASAM) and, with a correction
that keeps a vector, that vector between steps.

Sharded parameters (FSDP): with :attr:`ParamStore.reduce` set, each process
holds a shard of every parameter and gradient, and global norms are reduced
over the shard group.
"""
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from .reductions import PassSums, ReduceSum, global_norm

__all__ = ['Entry', 'ParamStore']

#: (flat index, group index, parameter).
Entry = Tuple[int, int, Tensor]


class ParamStore:
    """The optimizer's parameters and the driver's buffers beside them.

    Args:
        optimizer (torch.optim.Optimizer): The base optimizer.
        foreach (bool, optional): Kernel choice.
    """

    def __init__(self, optimizer: torch.optim.Optimizer,
                 foreach: Optional[bool]) -> None:
        self.optimizer = optimizer
        self.foreach = foreach
        #: Sums a 0-d tensor in place over the shard group, or None
        #: (whole parameters).
        self.reduce: Optional[ReduceSum] = None
        #: Per-parameter buffer, keyed by flat index.
        self.buffers: Dict[int, Tensor] = {}
        #: The entries of the SAM step between perturb and restore.
        self.active: List[Entry] = []

    def params(self) -> List[Tensor]:
        """Every parameter, in optimizer order."""
        return [p for g in self.optimizer.param_groups for p in g['params']]

    def entries(self) -> List[Entry]:
        """Parameters with a gradient, in optimizer order."""
        entries = []
        index = 0
        for gi, group in enumerate(self.optimizer.param_groups):
            for p in group['params']:
                if p.grad is not None:
                    entries.append((index, gi, p))
                index += 1
        return entries

    def buffer(self, index: int, param: Tensor) -> Tensor:
        """The buffer of parameter ``index``, zeros when first asked."""
        buf = self.buffers.get(index)
        if buf is None:
            buf = torch.zeros_like(param, memory_format=torch.preserve_format)
            self.buffers[index] = buf
        return buf

    def kept(self, entries: List[Entry]) -> List[Tensor]:
        """The existing buffers of ``entries``, aligned with them."""
        return [self.buffers[i] for i, _, _ in entries]

    @staticmethod
    def by_group(entries: List[Entry]) -> Dict[int, List[Entry]]:
        """``entries`` split by param group, in order."""
        groups: Dict[int, List[Entry]] = {}
        for entry in entries:
            groups.setdefault(entry[1], []).append(entry)
        return groups

    def global_norm(self, tensors: List[Tensor],
                    weights: Optional[List[Tensor]] = None) -> Tensor:
        """:func:`.reductions.global_norm`, reduced over the shards if sharded.

        A rank that holds no element of ``tensors`` still takes part in
        the reduction, with an empty tensor of the first parameter's dtype.
        """
        if self.reduce is not None and not tensors:
            tensors = [self.params()[0].new_zeros(0)]
            weights = None
        return global_norm(tensors, weights, foreach=self.foreach,
                           reduce=self.reduce)

    def sums(self) -> PassSums:
        """An empty :class:`PassSums` over these parameters' shards."""
        return PassSums(self.reduce, self.foreach,
                        lambda: self.params()[0].new_zeros(0))

    def grad_norm(self, grad_scale: Optional[Tensor] = None,
                  weighted: bool = False) -> Tensor:
        """The global norm of the gradients (``||w * g||`` if
        ``weighted``), unscaled by ``grad_scale`` if given."""
        entries = self.entries()
        norm = self.global_norm(
            [p.grad for _, _, p in entries],
            [p for _, _, p in entries] if weighted else None)
        if grad_scale is not None:
            norm = norm / grad_scale.float().to(norm.device)
        return norm

    def tail(self, entries: List[Entry], n: int) -> List[int]:
        """Where in ``entries`` the last ``n`` parameters are.

        The last ``n`` entries; sharded, the entries among the optimizer's
        last ``n`` parameters (by position, whether or not this rank holds
        elements of them), so that every rank covers the same parameters.
        """
        if self.reduce is None:
            return list(range(len(entries)))[-n:] if n else []
        total = sum(len(g['params']) for g in self.optimizer.param_groups)
        return [k for k, (i, _, _) in enumerate(entries) if i >= total - n]

    def zero_missing(self, entries: List[Entry]) -> None:
        """Zero the buffers of parameters without a gradient now (they get
        no fresh vector)."""
        active = {index for index, _, _ in entries}
        for index, buf in self.buffers.items():
            if index not in active:
                buf.zero_()

    def zero(self) -> None:
        """Zero every buffer."""
        for buf in self.buffers.values():
            buf.zero_()

    def load(self, stored: Dict[int, Tensor]) -> None:
        """Replace the buffers by ``stored`` (flat index to tensor), moved
        to the parameters' devices and dtypes.

        Raises:
            ValueError: For an index past the parameters or a shape that
                is not its parameter's.
        """
        params = self.params()
        self.buffers = {}
        for index, value in stored.items():
            index = int(index)
            if index >= len(params):
                raise ValueError(f'psf index {index} is out of range for '
                                 f'{len(params)} parameters')
            param = params[index]
            if value.shape != param.shape:
                raise ValueError(
                    f'psf {index} has shape {tuple(value.shape)}, parameter '
                    f'has {tuple(param.shape)}')
            self.buffers[index] = value.to(
                device=param.device, dtype=param.dtype).clone()
