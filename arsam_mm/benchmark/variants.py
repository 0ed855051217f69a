"""One config, many optimizers: how each variant edits ``optim_wrapper``.

The variants wrap the config's own base optimizer (and keep its
``paramwise_cfg``, ``clip_grad`` and ``accumulative_counts``); only the
wrapper type and its own arguments change, so every variant trains with the
same seed, data, schedule and iteration budget. The config's hooks are
kept as they are: the wrappers log their figures without a hook.

A *budget* is the share of SAM (two-pass) steps a run may take. Each
budgeted method reads it through its own knob (:func:`budget_arguments`,
from the family table :data:`arsam_mm.family.FAMILY`): ARSAM, AE-SAM and
late-phase SAM through ``target_ratio``, periodic SAM and LookSAM through
``interval = round(1 / budget)``, RandomSAM through ``prob``.
"""
import copy
from typing import Any, Dict, Optional

from mmengine.config import Config

from ..core.validate import check_ratio
from ..family import budgeted, find, member, names, wrappers

__all__ = ['OPTIMIZERS', 'BUDGETED', 'WRAPPERS', 'make_variant',
           'budget_arguments', 'variant_label', 'parse_method_args']

#: Every member of the family (:data:`arsam_mm.family.FAMILY`), ``base``
#: (the config as it is) first.
OPTIMIZERS = names()

#: The methods whose share of SAM steps a budget sets.
BUDGETED = budgeted()

#: Wrapper type of each optimizer other than ``base``.
WRAPPERS = wrappers()

_BASE_TYPES = ('OptimWrapper', 'AmpOptimWrapper')


def budget_arguments(optimizer: str, budget: float) -> Dict[str, Any]:
    """The wrapper arguments that give ``optimizer`` a share ``budget`` of
    SAM steps (:meth:`arsam_mm.family.Member.budget_arguments`).

    Args:
        optimizer (str): One of :data:`BUDGETED`.
        budget (float): Share of SAM steps, in (0, 1].

    Returns:
        dict: ``target_ratio``, ``interval`` or ``prob``.
    """
    if optimizer not in budgeted():
        raise ValueError(f'optimizer {optimizer!r} takes no budget; the '
                         f'budgeted ones are {budgeted()}')
    budget = check_ratio('budget', budget)
    if budget == 0:
        raise ValueError('budget must be in (0, 1], got 0')
    return member(optimizer).budget_arguments(budget)


def variant_label(optimizer: str, budget: Optional[float] = None,
                  interval: Optional[int] = None) -> str:
    """How reports name a variant: ``arsam@0.2``, ``periodic (k=5)``."""
    if budget is not None:
        return f'{optimizer}@{budget:g}'
    entry = find(optimizer)
    if interval and entry is not None and entry.matches is not None:
        return f'{optimizer} (k={interval})'
    return optimizer


def make_variant(cfg: Config,
                 optimizer: str,
                 rho: float = 0.05,
                 arsam: Optional[Dict[str, Any]] = None,
                 interval: int = 1,
                 budget: Optional[float] = None,
                 method_args: Optional[Dict[str, Dict[str, Any]]] = None
                 ) -> Config:
    """Return a copy of ``cfg`` that trains with ``optimizer``.

    Args:
        cfg (Config): A config whose ``optim_wrapper`` is a plain
            ``OptimWrapper`` or ``AmpOptimWrapper`` (the base optimizer).
        optimizer (str): One of :data:`OPTIMIZERS`.
        rho (float): SAM radius of every member. Defaults to 0.05.
        arsam (dict, optional): Further ``ARSAMOptimWrapper`` arguments
            (``window``, ``warmup_iters``, ...).
        interval (int): Without a ``budget``, the knob of a member that
            matches another's measured budget (``periodic``'s k).
            Defaults to 1.
        budget (float, optional): Share of SAM steps of a method in
            :data:`BUDGETED` (:func:`budget_arguments`).
        method_args (dict, optional): Optimizer name -> further arguments
            of its wrapper, e.g. ``{'looksam': {'alpha': 0.1}}``.

    Returns:
        Config: The variant (``cfg`` is not modified).
    """
    entry = member(optimizer)
    if budget is not None and entry.budget_knob is None:
        raise ValueError(f'optimizer {optimizer!r} takes no budget (got '
                         f'budget={budget}); the budgeted ones are '
                         f'{budgeted()}')
    cfg = copy.deepcopy(cfg)
    wrapper = cfg.optim_wrapper
    kind = wrapper.get('type', 'OptimWrapper')
    if kind not in _BASE_TYPES:
        raise ValueError(
            'benchmark configs must use the base optimizer wrapper '
            f'(OptimWrapper or AmpOptimWrapper), got {kind!r}: pass the '
            'baseline config, the benchmark builds the SAM family from it')
    imports = set(cfg.get('custom_imports', {}).get('imports', []))
    cfg.custom_imports = dict(
        imports=sorted(imports | {'arsam_mm'}), allow_failed_imports=False)
    if entry.wrapper is None:
        return cfg
    prefix = 'Amp' if kind == 'AmpOptimWrapper' else ''
    wrapper.type = prefix + entry.wrapper
    wrapper.rho = rho
    if optimizer == 'arsam':
        wrapper.update(arsam or {})
    wrapper.update((method_args or {}).get(optimizer, {}))
    if budget is not None:
        wrapper.update(budget_arguments(optimizer, budget))
    else:
        wrapper.update(entry.defaults)
        if entry.matches is not None:
            wrapper[entry.budget_knob] = interval
    return cfg


def parse_method_args(pairs: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """``{'looksam.alpha': 0.1}`` -> ``{'looksam': {'alpha': 0.1}}``.

    Raises:
        ValueError: For a key that is not ``OPTIMIZER.ARGUMENT`` with an
            optimizer of :data:`OPTIMIZERS` other than ``base``.
    """
    out: Dict[str, Dict[str, Any]] = {}
    for key, value in pairs.items():
        name, _, arg = key.partition('.')
        members = tuple(wrappers())
        if name not in members or not arg:
            raise ValueError(
                f'method_args keys must be OPTIMIZER.ARGUMENT with OPTIMIZER '
                f'in {members}, got {key!r}')
        out.setdefault(name, {})[arg] = value
    return out
