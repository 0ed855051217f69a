"""What a family wrapper needs under FSDP.

FSDP (``MMFullyShardedDataParallel`` or any torch
``FullyShardedDataParallel``, ``use_orig_params=True``): each rank holds a
shard of every gradient, so the wrapper gives the core a ``reduce_sum``
(:func:`shard_reduce_sum`) that sums its norms and inner products over the
shard group; every rank then scales the perturbation by the whole model's
norm and takes the same decisions. ``NO_SHARD`` holds whole gradients and
needs none. ``clip_grad`` (by norm) clips by the whole model's norm there
too (:func:`clip_sharded`). mmengine's ``FSDPStrategy`` trains the family
but its checkpoints drop the SAM state (:func:`warn_fsdp_checkpoints`).
"""
import logging
from typing import Any, Dict, List, Optional

import torch
from mmengine.logging import print_log
from torch import nn

from ...core import kernels as K
from ...core.kernels import ReduceSum
from ...core.sharpness_aware import SharpnessAware

__all__ = [
    'is_fsdp', 'shard_reduce_sum', 'clip_sharded', 'warn_fsdp_checkpoints',
    'SAM_FSDP_STRATEGY'
]

#: The strategy config line that keeps the SAM state under FSDP.
SAM_FSDP_STRATEGY = ("strategy = dict(type='SAMFSDPStrategy', "
                     'model_wrapper=dict(use_orig_params=True))')


def is_fsdp(model: Any) -> bool:
    """Whether ``model`` is a torch ``FullyShardedDataParallel`` (FSDP1,
    as mmengine's ``MMFullyShardedDataParallel``), any sharding strategy."""
    if not torch.distributed.is_available():
        return False
    from torch.distributed.fsdp import FullyShardedDataParallel
    return isinstance(model, FullyShardedDataParallel)


def shard_reduce_sum(model: nn.Module) -> Optional[ReduceSum]:
    """The in-place sum over ``model``'s shard group when it is an FSDP
    module that shards its parameters, else None.

    Args:
        model (nn.Module): The training model as ``train_step`` sees it.

    Returns:
        Callable, optional: ``reduce_sum(tensor) -> None``, one
        ``all_reduce`` over the group that holds the shards (the intra-node
        group under ``HYBRID_SHARD``).
    """
    if not torch.distributed.is_available():
        return None
    from torch.distributed.fsdp import ShardingStrategy
    if not is_fsdp(model) or \
            model.sharding_strategy == ShardingStrategy.NO_SHARD:
        return None
    group = model.process_group

    def reduce_sum(tensor: torch.Tensor) -> None:
        torch.distributed.all_reduce(tensor, group=group)

    return reduce_sum


def clip_sharded(grads: List[torch.Tensor], clip_grad_kwargs: Dict[str, Any],
                 sharpness: SharpnessAware) -> torch.Tensor:
    """Clip sharded gradients by the L2 norm of the whole model.

    The norm is reduced like SAM's (one ``all_reduce``, through
    ``sharpness.global_norm``) and the gradients scaled as
    ``torch.nn.utils.clip_grad_norm_`` does (``max_norm / (norm + 1e-6)``,
    at most 1). FSDP's own ``clip_grad_norm_`` is not used: it takes
    float32 norms and fails on float64 gradients.

    Args:
        grads (list[Tensor]): This rank's gradient shards.
        clip_grad_kwargs (dict): The wrapper's ``clip_grad`` (by norm).
        sharpness (SharpnessAware): The core, whose ``reduce_sum`` is set.

    Returns:
        Tensor: The whole model's norm (0-d).

    Raises:
        ValueError: For arguments other than ``max_norm`` and
            ``norm_type=2``, naming them.
    """
    kwargs = dict(clip_grad_kwargs)
    max_norm = kwargs.pop('max_norm', None)
    if float(kwargs.pop('norm_type', 2.0)) != 2.0 or kwargs or \
            max_norm is None:
        raise ValueError(
            'clip_grad under FSDP takes max_norm and norm_type=2 only, '
            f'got {clip_grad_kwargs}')
    norm = sharpness.global_norm(grads)
    coef = torch.clamp(float(max_norm) / (norm + 1e-6), max=1.0)
    K.scale_(grads, coef, foreach=sharpness.foreach)
    return norm


def warn_fsdp_checkpoints(model: nn.Module, wrapper: str,
                          keeps_sam_state: bool) -> None:
    """Under FSDP, warn unless ``SAMFSDPStrategy`` built the wrapper
    (``keeps_sam_state``): mmengine's ``FSDPStrategy`` trains the family,
    but its checkpoints drop the SAM state.

    Args:
        model (nn.Module): The training model.
        wrapper (str): The optimizer wrapper's class name.
        keeps_sam_state (bool): Whether the strategy keeps the SAM state.
    """
    if not is_fsdp(model) or keeps_sam_state:
        return
    print_log(
        f'{wrapper} under FSDP without SAMFSDPStrategy: '
        "training is unaffected, but mmengine's FSDPStrategy saves only "
        "the optimizer's 'state' and 'param_groups', so checkpoints "
        'lose the SAM state (schedule, counters, kept vector) and a '
        f'resumed run starts it afresh. Use {SAM_FSDP_STRATEGY}',
        logger='current',
        level=logging.WARNING)
