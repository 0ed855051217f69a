"""One config, four optimizers: how each variant edits ``optim_wrapper``.

The variants wrap the config's own base optimizer (and keep its
``paramwise_cfg``, ``clip_grad`` and ``accumulative_counts``); only the
wrapper type and its own arguments change, so every variant trains with the
same seed, data, schedule and iteration budget. The config's hooks are
kept as they are: the wrappers log their figures without a hook.
"""
import copy
from typing import Any, Dict, Optional

from mmengine.config import Config

__all__ = ['OPTIMIZERS', 'make_variant']

#: base: the config as it is; sam: SAM every step; arsam: ARSAM;
#: periodic: SAM every k-th step and plain steps between, k chosen so its
#: gradient-evaluation budget equals ARSAM's measured one.
OPTIMIZERS = ('base', 'sam', 'arsam', 'periodic')

_SAM_TYPES = {'SAMOptimWrapper', 'ARSAMOptimWrapper', 'AmpSAMOptimWrapper',
              'AmpARSAMOptimWrapper'}


def make_variant(cfg: Config,
                 optimizer: str,
                 rho: float = 0.05,
                 arsam: Optional[Dict[str, Any]] = None,
                 interval: int = 1) -> Config:
    """Return a copy of ``cfg`` that trains with ``optimizer``.

    Args:
        cfg (Config): A config whose ``optim_wrapper`` is a plain
            ``OptimWrapper`` or ``AmpOptimWrapper`` (the base optimizer).
        optimizer (str): One of :data:`OPTIMIZERS`.
        rho (float): SAM/ARSAM radius. Defaults to 0.05.
        arsam (dict, optional): ``ARSAMOptimWrapper`` arguments.
        interval (int): ``periodic``'s k. Defaults to 1.

    Returns:
        Config: The variant (``cfg`` is not modified).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f'optimizer must be one of {OPTIMIZERS}, got {optimizer!r}')
    cfg = copy.deepcopy(cfg)
    wrapper = cfg.optim_wrapper
    kind = wrapper.get('type', 'OptimWrapper')
    if kind in _SAM_TYPES:
        raise ValueError(
            'benchmark configs must use the base optimizer wrapper '
            f'(OptimWrapper or AmpOptimWrapper), got {kind!r}: pass the '
            'baseline config, the benchmark builds SAM and ARSAM from it')
    amp = kind == 'AmpOptimWrapper'
    imports = set(cfg.get('custom_imports', {}).get('imports', []))
    cfg.custom_imports = dict(
        imports=sorted(imports | {'arsam_mm'}), allow_failed_imports=False)
    if optimizer == 'base':
        return cfg
    prefix = 'Amp' if amp else ''
    if optimizer == 'arsam':
        wrapper.type = f'{prefix}ARSAMOptimWrapper'
        wrapper.update(dict(rho=rho, **(arsam or {})))
    else:
        wrapper.type = f'{prefix}SAMOptimWrapper'
        wrapper.update(
            dict(rho=rho, interval=interval if optimizer == 'periodic' else 1))
    return cfg
