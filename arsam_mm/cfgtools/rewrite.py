"""In-place rewrites of a config: weights, norm layers, precision.

Each takes the config (or one field of it), changes it in place and returns
one line per change, which the callers log.
"""
from typing import Any, List

from mmengine.config import ConfigDict

from ..engine.optim_wrappers import AMP_ARGUMENTS, AMP_TWINS
from .walk import dicts, type_name

__all__ = ['remove_pretrained', 'sync_bn_to_bn', 'amp_to_fp32', 'to_amp']

_SYNC_BN = ('SyncBN', 'MMSyncBN')


def remove_pretrained(cfg: Any) -> List[str]:
    """Remove every pretrained-weight source from ``cfg``, in place.

    ``pretrained`` (a path or URL becomes ``None``, ``True`` becomes
    ``False``) and ``init_cfg`` entries of type ``Pretrained`` (the others of
    a list stay), anywhere in the config.

    Args:
        cfg (Config | dict): The config.

    Returns:
        list[str]: One line per change.
    """
    changes: List[str] = []
    for where, node in list(dicts(cfg)):
        prefix = f'{where}.' if where else ''
        value = node.get('pretrained', None)
        if isinstance(value, str) or value is True:
            node['pretrained'] = None if isinstance(value, str) else False
            changes.append(f'{prefix}pretrained: {value!r} -> '
                           f'{node["pretrained"]!r}')
        init = node.get('init_cfg', None)
        if isinstance(init, dict) and type_name(init) == 'Pretrained':
            node['init_cfg'] = None
            changes.append(f'{prefix}init_cfg: Pretrained '
                           f'{init.get("checkpoint")!r} -> None')
        elif isinstance(init, (list, tuple)) and any(
                isinstance(i, dict) and type_name(i) == 'Pretrained'
                for i in init):
            kept = [
                i for i in init
                if not (isinstance(i, dict) and type_name(i) == 'Pretrained')
            ]
            node['init_cfg'] = kept or None
            changes.append(f'{prefix}init_cfg: Pretrained entries removed')
    return changes


def sync_bn_to_bn(cfg: Any) -> List[str]:
    """Turn every ``SyncBN`` norm layer config into ``BN``, in place.

    ``SyncBatchNorm`` needs CUDA; on a CPU a distributed run fails in its
    first forward (mmengine reverts it only in single-process runs).

    Args:
        cfg (Config | dict): The config.

    Returns:
        list[str]: One line per change.
    """
    changes: List[str] = []
    for where, node in list(dicts(cfg)):
        kind = node.get('type', None)
        if isinstance(kind, str) and kind.split('.')[-1] in _SYNC_BN:
            node['type'] = 'BN'
            changes.append(f'{where}.type: {kind!r} -> \'BN\'')
    if isinstance(cfg, dict) and cfg.get('sync_bn', None):
        changes.append(f'sync_bn: {cfg["sync_bn"]!r} -> None')
        cfg['sync_bn'] = None
    return changes


def amp_to_fp32(cfg: Any) -> List[str]:
    """Turn an AMP ``optim_wrapper`` into its fp32 twin, in place.

    ``AmpOptimWrapper`` becomes ``OptimWrapper``, ``Amp<name>`` of the
    family becomes ``<name>`` (:data:`~arsam_mm.engine.optim_wrappers.
    AMP_TWINS`), and ``AmpOptimWrapper``'s own arguments
    (:data:`~arsam_mm.engine.optim_wrappers.AMP_ARGUMENTS`: ``loss_scale``,
    ``dtype``, ``use_fsdp``) are removed, also from a family wrapper that
    carries them (an fp16 config switched by its type, which would build
    the Amp twin). ``AmpOptimWrapper`` asserts a GPU; ``--smoke`` calls
    this without CUDA.

    Args:
        cfg (Config | dict): The config.

    Returns:
        list[str]: One line per change.
    """
    wrapper = cfg.get('optim_wrapper', None) if isinstance(cfg, dict) \
        else None
    if not isinstance(wrapper, dict):
        return []
    changes: List[str] = []
    kind = wrapper.get('type', 'OptimWrapper')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    fp32 = {amp: plain for plain, amp in AMP_TWINS.items()}
    if name.split('.')[-1] in fp32:
        wrapper['type'] = fp32[name.split('.')[-1]]
        changes.append(f'optim_wrapper.type: {name!r} -> '
                       f'{wrapper["type"]!r} (AMP needs a GPU: fp32)')
    for key in AMP_ARGUMENTS:
        if key in wrapper:
            changes.append(f'optim_wrapper.{key}: {wrapper.pop(key)!r} '
                           'removed (fp32)')
    return changes


def to_amp(optim_wrapper: ConfigDict) -> None:
    """Switch an ``optim_wrapper`` config to its AMP twin, in place.

    ``OptimWrapper`` becomes ``AmpOptimWrapper`` and each member of the
    family its ``Amp`` twin (:data:`~arsam_mm.engine.optim_wrappers.
    AMP_TWINS`), with ``loss_scale='dynamic'`` unless one is set; an AMP
    type stays.

    Args:
        optim_wrapper (ConfigDict): The ``optim_wrapper`` field.

    Raises:
        ValueError: For a wrapper type without an AMP twin.
    """
    kind = optim_wrapper.get('type', 'OptimWrapper')
    if kind in AMP_TWINS.values():
        return
    if kind not in AMP_TWINS:
        raise ValueError(
            f'--amp: optim_wrapper.type {kind!r} has no AMP twin; supported: '
            f'{sorted(AMP_TWINS)} (or their Amp versions)')
    optim_wrapper['type'] = AMP_TWINS[kind]
    optim_wrapper.setdefault('loss_scale', 'dynamic')
