"""The family table: each member of the efficient-SAM family once, with
what the benchmark, its plots and gain table, the step-cost tool, the Amp
twins and the tests need to know of it.

Plain data (strings, numbers, dicts), importable without torch or any
OpenMMLab package: the wrappers are named by their registered type names.
Everything that lists the members derives from :data:`FAMILY`:

* ``arsam_mm.benchmark.variants``: ``OPTIMIZERS``, ``BUDGETED``,
  ``WRAPPERS`` and the budget arguments (:meth:`Member.budget_arguments`);
* ``arsam_mm.benchmark.plots``: the colours;
* ``arsam_mm.benchmark.report.recovered_gain`` and the gain table;
* ``tools/benchmark_step_cost.py``: the variants it times;
* ``arsam_mm.engine.optim_wrappers.AMP_TWINS``: the Amp twins' names;
* ``tests/test_family_configs.py``: the model-zoo configs of each member.

A new member is one entry here plus its schedule (``arsam_mm.core``) and
its wrapper class.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

__all__ = [
    'Member', 'FAMILY', 'BUDGET_MAPS', 'member', 'find', 'names',
    'budgeted', 'wrappers', 'wrapper_types', 'amp_twins', 'colors',
    'step_cost_variants', 'zoo_members', 'gain_members'
]

#: How a budget (the share of SAM steps a run may take, in (0, 1]) maps
#: onto a member's knob: ``'share'``: the knob takes the budget itself;
#: ``'interval'``: a SAM step every ``max(1, round(1 / budget))`` steps.
BUDGET_MAPS = ('share', 'interval')


@dataclass(frozen=True)
class Member:
    """One member of the family.

    Attributes:
        name (str): Its benchmark name (``--optimizers``, the records, the
            report's rows).
        title (str): How tables and prose name it (``'ARSAM'``).
        wrapper (str, optional): Its optim wrapper's registered type name;
            None for ``base``, the config's own optimizer wrapper.
        color (str): Matplotlib colour of its curves.
        budget_knob (str, optional): The wrapper argument a budget sets;
            None for a member that takes no budget.
        budget_map (str): How a budget maps onto ``budget_knob``, one of
            :data:`BUDGET_MAPS`.
        defaults (dict): Wrapper arguments a benchmark variant of it sets
            when it runs without a budget (SAM: a SAM step every step).
        matches (str, optional): Without a budget, its ``budget_knob`` (an
            interval) is chosen so that its gradient evaluations per
            iteration equal those this member measured in the same suite
            (periodic SAM matches ARSAM).
        step_cost (dict, optional): Wrapper arguments (besides ``rho``)
            with which ``tools/benchmark_step_cost.py`` times it, chosen so
            that both kinds of step occur often; None: not timed there.
        zoo (dict, optional): The wrapper arguments (besides ``type``) its
            model-zoo configs (``configs/*/*_<name>.py``) set over their
            baseline; None: it has no model-zoo configs.
        gain_keys (tuple, optional): Its keys in
            ``report.recovered_gain``: gain, share of SAM's gain, share per
            extra gradient evaluation; default ``<name>_gain``,
            ``<name>_share``, ``<name>_share_per_extra_eval``.
        gain_titles (tuple, optional): The gain table's titles of those
            columns; default ``<title> gain``, ``<title> share``,
            ``<title> share per extra grad eval``.
        gain_always (bool): Its columns are in every gain table, not only
            in those of suites that ran it without a budget (ARSAM and
            periodic SAM: the columns of the first reports).
    """

    name: str
    title: str
    wrapper: Optional[str]
    color: str
    budget_knob: Optional[str] = None
    budget_map: str = 'share'
    defaults: Mapping[str, Any] = field(default_factory=dict)
    matches: Optional[str] = None
    step_cost: Optional[Mapping[str, Any]] = None
    zoo: Optional[Mapping[str, Any]] = None
    gain_keys: Optional[Tuple[str, str, str]] = None
    gain_titles: Optional[Tuple[str, str, str]] = None
    gain_always: bool = False

    def budget_arguments(self, budget: float) -> Dict[str, Any]:
        """The wrapper arguments that give this member a share ``budget`` of
        SAM steps (already checked to be in (0, 1])."""
        if self.budget_knob is None:
            raise ValueError(f'optimizer {self.name!r} takes no budget')
        if self.budget_map == 'interval':
            return {self.budget_knob: max(1, round(1 / budget))}
        return {self.budget_knob: budget}

    @property
    def gain(self) -> Tuple[str, str, str]:
        """:attr:`gain_keys` or their default."""
        return self.gain_keys or (f'{self.name}_gain', f'{self.name}_share',
                                  f'{self.name}_share_per_extra_eval')

    @property
    def gain_columns(self) -> Tuple[str, str, str]:
        """:attr:`gain_titles` or their default."""
        return self.gain_titles or (
            f'{self.title} gain', f'{self.title} share',
            f'{self.title} share per extra grad eval')


#: The family, in the order of the benchmark's runs, rows and columns.
FAMILY: Tuple[Member, ...] = (
    Member('base', 'base', None, 'tab:gray'),
    # SAM (Foret et al., arXiv 2010.01412): a SAM step every step.
    Member('sam', 'SAM', 'SAMOptimWrapper', 'tab:red',
           defaults=dict(interval=1), step_cost={}, zoo=dict(rho=0.05)),
    # ARSAM (Deng & Pang, arXiv 2510.03763): the budget is its target
    # ratio of SAM steps; the model-zoo configs warm up for the authors'
    # 1.5% of the run.
    Member('arsam', 'ARSAM', 'ARSAMOptimWrapper', 'tab:blue',
           budget_knob='target_ratio',
           step_cost=dict(warmup_iters=0, window=4, seed=0),
           zoo=dict(rho=0.05, warmup_ratio=0.015),
           gain_keys=('arsam_gain', 'share', 'share_per_extra_eval'),
           gain_titles=('ARSAM gain', 'share kept',
                        'share per extra grad eval'),
           gain_always=True),
    # Periodic SAM: SAMOptimWrapper with a SAM step every k-th step and
    # plain steps between; without a budget k matches ARSAM's measured
    # gradient-evaluation budget.
    Member('periodic', 'periodic', 'SAMOptimWrapper', 'tab:green',
           budget_knob='interval', budget_map='interval', matches='arsam',
           gain_always=True),
    # AE-SAM (Jiang et al., ICLR 2023): SAM steps where the squared
    # gradient norm is large; the budget is its target ratio.
    Member('aesam', 'AE-SAM', 'AESAMOptimWrapper', 'tab:purple',
           budget_knob='target_ratio', step_cost=dict(target_ratio=0.5),
           zoo=dict(rho=0.05)),
    # LookSAM (Liu et al., CVPR 2022): a SAM step every k-th step, its
    # g_v reused between.
    Member('looksam', 'LookSAM', 'LookSAMOptimWrapper', 'tab:orange',
           budget_knob='interval', budget_map='interval',
           step_cost=dict(interval=2),
           zoo=dict(rho=0.05, interval=5, alpha=0.7)),
    # Randomized SAM (Zhao, Zhang & Hu, arXiv 2203.09962): a SAM step with
    # probability prob.
    Member('randomsam', 'RandomSAM', 'RandomSAMOptimWrapper', 'tab:brown',
           budget_knob='prob', step_cost=dict(prob=0.5, seed=0),
           zoo=dict(rho=0.05, prob=0.5)),
    # GSAM (Zhuang et al., ICLR 2022): SAM with the surrogate gap term.
    Member('gsam', 'GSAM', 'GSAMOptimWrapper', 'tab:pink',
           step_cost=dict(alpha=0.1, interval=2),
           zoo=dict(rho=0.05, alpha=0.1)),
    # Late-phase SAM (Zhou et al., ICLR 2025): SAM steps in the last
    # target_ratio of the run (timed over a given run length, so that its
    # second half takes both kinds of step).
    Member('latesam', 'late-phase SAM', 'LateSAMOptimWrapper', 'tab:olive',
           budget_knob='target_ratio', step_cost=dict(target_ratio=0.5),
           zoo=dict(rho=0.05, target_ratio=0.1)),
)


def find(name: str) -> Optional[Member]:
    """The member named ``name``, or None."""
    return next((m for m in FAMILY if m.name == name), None)


def member(name: str) -> Member:
    """The member named ``name``.

    Raises:
        ValueError: For a name that is not in :data:`FAMILY`.
    """
    found = find(name)
    if found is None:
        raise ValueError(f'optimizer must be one of {names()}, got '
                         f'{name!r}')
    return found


def names() -> Tuple[str, ...]:
    """Every member's name, ``base`` first."""
    return tuple(m.name for m in FAMILY)


def budgeted() -> Tuple[str, ...]:
    """The members whose share of SAM steps a budget sets."""
    return tuple(m.name for m in FAMILY if m.budget_knob is not None)


def wrappers() -> Dict[str, str]:
    """Name -> wrapper type of every member but ``base``."""
    return {m.name: m.wrapper for m in FAMILY if m.wrapper is not None}


def wrapper_types() -> Tuple[str, ...]:
    """The family's wrapper types, each once."""
    return tuple(dict.fromkeys(wrappers().values()))


def amp_twins() -> Dict[str, str]:
    """Wrapper type -> the type name of its automatic-mixed-precision twin
    (``Amp<type>``)."""
    return {name: f'Amp{name}' for name in wrapper_types()}


def colors() -> Dict[str, str]:
    """Name -> plot colour."""
    return {m.name: m.color for m in FAMILY}


def step_cost_variants(rho: float = 0.05) -> Dict[str, Dict[str, Any]]:
    """Name -> optim wrapper config (without ``optimizer``) of ``base`` and
    every member timed by ``tools/benchmark_step_cost.py``, at radius
    ``rho``."""
    out: Dict[str, Dict[str, Any]] = {'base': dict(type='OptimWrapper')}
    for m in FAMILY:
        if m.wrapper is not None and m.step_cost is not None:
            out[m.name] = dict(type=m.wrapper, rho=rho, **m.step_cost)
    return out


def zoo_members() -> Dict[str, Tuple[str, Mapping[str, Any]]]:
    """Name -> (wrapper type, arguments) of every member with model-zoo
    configs."""
    return {m.name: (m.wrapper, m.zoo) for m in FAMILY
            if m.wrapper is not None and m.zoo is not None}


def gain_members() -> Tuple[Member, ...]:
    """The members whose share of SAM's gain the gain table gives: all but
    the two it is measured between, ``base`` and ``sam``."""
    return tuple(m for m in FAMILY if m.name not in ('base', 'sam'))
