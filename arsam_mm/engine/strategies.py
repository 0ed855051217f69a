"""``SAMFSDPStrategy``: mmengine's ``FSDPStrategy`` for the family.

mmengine's :class:`~mmengine._strategy.FSDPStrategy` trains the family's
wrappers as they are (the norms are reduced over the shard group by the
wrappers themselves), but two of its steps do not fit them:

- **Checkpoints.** It converts the optimizer wrapper's ``state_dict()``
  with ``FSDP.optim_state_dict`` and back with
  ``FSDP.optim_state_dict_to_load``, which keep only ``'state'`` and
  ``'param_groups'``: the wrapper's SAM state (``'arsam_mm'``: counters, the
  schedule with its generator, the kept vector) and an AMP wrapper's
  ``'loss_scaler'`` are dropped, so a resumed run starts its schedule
  afresh (the wrapper warns at load, and at its first iteration under
  any FSDP model not prepared by this strategy). This strategy saves them
  next to the converted state. The kept vector is this rank's shards: with
  ``state_dict_cfg='local'`` (the default) every rank writes its own file;
  with ``'full'`` rank 0 writes one file with every rank's entry
  (gathered), and each rank loads its own, so a resume needs the same
  world size.
- **The sharded grad scaler.** It sets ``use_fsdp=True`` only for the type
  ``'AmpOptimWrapper'``; this strategy sets it for the family's AMP twins
  too (``AmpSAMOptimWrapper``, ..., or a family type with an AMP argument,
  which builds its twin).
"""
from typing import Any, Dict, List, Optional

import torch.distributed as dist
from mmengine._strategy import FSDPStrategy
from mmengine.dist import get_rank, get_world_size
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, STRATEGIES

from .optim_wrappers.amp_sam_optim_wrapper import AMP_ARGUMENTS
from .optim_wrappers.sharpness_aware_optim_wrapper import \
    SharpnessAwareOptimWrapper

__all__ = ['SAMFSDPStrategy']

#: The keys FSDP's optimizer-state conversion keeps.
_CONVERTED = ('state', 'param_groups')
#: Under a full state dict: every rank's own entries, by rank.
RANK_STATES = 'rank_states'


def _uses_amp(cfg: Dict[str, Any]) -> bool:
    """Whether an optim_wrapper config builds a family AMP twin."""
    wrapper_type = cfg.get('type', 'OptimWrapper')
    cls = OPTIM_WRAPPERS.get(wrapper_type) if isinstance(
        wrapper_type, str) else wrapper_type
    if not isinstance(cls, type) or \
            not issubclass(cls, SharpnessAwareOptimWrapper):
        return False
    return issubclass(cls, AmpOptimWrapper) or any(
        key in cfg for key in AMP_ARGUMENTS)


@STRATEGIES.register_module()
class SAMFSDPStrategy(FSDPStrategy):
    """:class:`~mmengine._strategy.FSDPStrategy` that keeps the family's
    SAM state in checkpoints and gives its AMP twins the sharded grad
    scaler; arguments as ``FSDPStrategy``."""

    def build_optim_wrapper(self, optim_wrapper, model=None):
        """``FSDPStrategy.build_optim_wrapper``, with ``use_fsdp=True`` for
        the family's AMP twins (``ShardedGradScaler``); marks a family
        wrapper ``fsdp_checkpoints_keep_sam_state`` (no warning)."""
        if isinstance(optim_wrapper, dict) and _uses_amp(optim_wrapper):
            optim_wrapper.setdefault('use_fsdp', True)
        built = super().build_optim_wrapper(optim_wrapper, model)
        if isinstance(built, SharpnessAwareOptimWrapper):
            built.fsdp_checkpoints_keep_sam_state = True
        return built

    def optim_state_dict(self) -> dict:
        """FSDP's conversion of the wrapper's optimizer state, plus the
        wrapper's other entries (``'arsam_mm'``, ``'loss_scaler'``): this
        rank's, or under a full state dict every rank's under
        ``'rank_states'``."""
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        state = self.optim_wrapper.state_dict()
        extra = {k: state.pop(k) for k in list(state) if k not in _CONVERTED}
        converted = FSDP.optim_state_dict(self.model, self.optim_wrapper,
                                          state)
        if not self._is_full_state_dict():
            converted.update(extra)
            return converted
        ranks: List[Optional[dict]] = [None] * get_world_size()
        dist.all_gather_object(ranks, extra)
        converted[RANK_STATES] = ranks
        return converted

    def load_optim_state_dict(self, state_dict: dict) -> None:
        """Load :meth:`optim_state_dict`: FSDP's conversion of the optimizer
        state and this rank's other entries.

        Raises:
            ValueError: For a full checkpoint written by another number of
                ranks (the kept vectors are per-rank shards).
        """
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        state_dict = dict(state_dict)
        ranks = state_dict.pop(RANK_STATES, None)
        extra = {
            k: state_dict.pop(k)
            for k in list(state_dict) if k not in _CONVERTED
        }
        if ranks is not None:
            if len(ranks) != get_world_size():
                raise ValueError(
                    f'the checkpoint holds the SAM state of {len(ranks)} '
                    f'ranks, this run has {get_world_size()}: the kept '
                    'vectors are per-rank shards. Resume with as many ranks, '
                    'or load the weights only (load_from=CKPT, '
                    'resume=False)')
            extra.update(ranks[get_rank()])
        converted = FSDP.optim_state_dict_to_load(
            self.model, self.optim_wrapper.optimizer, state_dict)
        converted.update(extra)
        self.optim_wrapper.load_state_dict(converted)
