"""A benchmark suite's settings, typed and checked in one place.

:class:`SuiteSettings` holds what a suite runs (configs, optimizers,
budgets, seeds, lengths, radii, wrapper arguments) and how (jobs, step-cost
rounds); it refuses a bad setting when it is made, before anything runs
or is written. :meth:`SuiteSettings.record` is what ``records.json`` keeps,
and :data:`SuiteSettings.RESUME_KEYS` the recorded settings a resumed
suite must match.
"""
import os
import os.path as osp
from dataclasses import dataclass, fields
from pathlib import Path
from typing import (Any, Callable, ClassVar, Dict, List, Mapping, Optional,
                    Tuple, Union)

from mmengine.config import Config

from ..cfgtools.smoke import check_data_dir
from ..core.validate import check_float, check_nonnegative
from ..family import member
from .variants import BUDGETED, OPTIMIZERS, make_variant, variant_label
from .worker import score_test_split

__all__ = ['SuiteSettings', 'default_arsam', 'default_threads',
           'config_iters', 'plan']


def default_arsam(iters: int) -> Dict[str, Any]:
    """ARSAM settings scaled to a run of ``iters`` iterations.

    ``n`` grows by at most ``1 + alpha[0] + alpha[1]`` (26%) per window, so
    it needs many windows to adapt: the authors' CIFAR runs hold about 1500
    windows of 50. The window is therefore sized for at least 150 windows
    per run (iters // 150, between 4 and the authors' 50; on 30%-noisy
    digits over 3600 iterations, windows of 50 left ARSAM near 4% SAM steps
    and windows of 20 let ``n`` grow, ``reports/label_noise*``), and the
    warm-up is the authors' 1.5% of the run (at least 1 iteration).
    """
    return dict(window=min(50, max(4, iters // 150)),
                warmup_iters=max(1, round(0.015 * iters)))


def default_threads(jobs: int) -> Optional[int]:
    """Torch threads per run: the cores shared out among ``jobs`` parallel
    runs (None, torch's default, for one job at a time)."""
    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def config_iters(config: str, cfg_options: Optional[Dict[str, Any]],
                 scale: float = 1.0) -> int:
    """A config's own ``train_cfg.max_iters`` (after ``cfg_options``) times
    ``scale``, at least 1.

    Raises:
        ValueError: For an epoch-based config (give ``iters`` instead).
    """
    cfg = Config.fromfile(config, import_custom_modules=False)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    max_iters = cfg.get('train_cfg', {}).get('max_iters')
    if not isinstance(max_iters, int):
        raise ValueError(
            f'config {config} has no iteration-based train_cfg.max_iters '
            f"(train_cfg={dict(cfg.get('train_cfg', {}))}): give iters")
    return max(1, round(max_iters * scale))


def plan(optimizers: List[str],
         budgets: Optional[List[float]]) -> List[Tuple[str, Any]]:
    """(optimizer, budget) of every variant, in the order they run: the
    unbudgeted ones first, then each budget with every budgeted method;
    without budgets, a member that matches another's measured budget
    (:attr:`arsam_mm.family.Member.matches`: ``periodic``) runs last."""
    order = [o for o in OPTIMIZERS if o in optimizers]
    if not budgets:
        matching = [o for o in order if member(o).matches]
        return [(o, None) for o in order if o not in matching] + [
            (o, None) for o in matching]
    variants = [(o, None) for o in order if o not in BUDGETED]
    return variants + [(o, b) for b in budgets for o in order
                       if o in BUDGETED]


@dataclass(frozen=True)
class SuiteSettings:
    """What a suite runs: every config with every optimizer (at each
    budget) and seed.

    Made, it is checked (:meth:`check`): a bad setting raises a
    ``ValueError`` that names it and its value, before anything runs or is
    written. It is frozen; ``optimizers`` is kept in the order of
    :data:`~.variants.OPTIMIZERS` and ``smoke`` as a ``str``.

    Args:
        configs (list[str]): Baseline configs (their own optimizer); their
            file names (the task names) must differ.
        optimizers (list[str]): Subset of :data:`~.variants.OPTIMIZERS`
            (kept in that order). Without ``budgets``, ``periodic`` runs
            after ``arsam`` and matches its measured gradient-evaluation
            budget.
        iters (int, optional): Iterations per run; None: each config's own
            ``max_iters`` times ``scale`` (:func:`config_iters`).
        repeats (int): Seeds 0..repeats-1 per (config, variant): every
            variant of a seed starts from the same weights and data order.
        evals (int): Validations per run (for the metric curves).
            Defaults to 4.
        skip (int): Leading iterations left out of the timing. Defaults
            to 3.
        rho (float): SAM radius of every member. Defaults to 0.05.
        arsam (dict, optional): ARSAM arguments; default
            :func:`default_arsam` of each config's iterations.
        cfg_options (dict, optional): Overrides applied to every config.
        targets (dict, optional): Metric targets per task name.
        budgets (list[float], optional): Shares of SAM steps; every
            budgeted optimizer (:data:`~.variants.BUDGETED`) runs at each
            (:func:`~.variants.budget_arguments`), the others once.
        jobs (int): Runs in parallel, each with its share of the cores
            (:func:`default_threads`). Defaults to 1.
        cost_rounds (int): Interleaved rounds of the step-cost measurement
            per task; 0 measures nothing. Defaults to 0.
        scale (float): With ``iters=None``, the share of each config's
            ``max_iters`` to run (e.g. short versions of the frontier
            tasks). Defaults to 1.
        task_rho (dict, optional): Task name (config file stem) -> its
            radius instead of ``rho``.
        method_args (dict, optional): Optimizer name -> further arguments
            of its wrapper (``{'looksam': {'alpha': 0.1}}``).
        smoke (str | PathLike, optional): A data folder: every config (a
            model-zoo config as it ships) is shrunk as ``tools/train.py
            --smoke`` shrinks it
            (:func:`~arsam_mm.cfgtools.smoke.apply_smoke`: data generated into
            this folder, image sizes divided by up to 8,
            batches of at most 2, no pretrained weights), so that every
            method runs on it on a CPU in minutes. Checks that the switch
            works; its metrics mean nothing. Needs ``iters``.
        score_test (bool): Every validation also scores each config's test
            split (:func:`~.worker.score_test_split`; the config needs one
            apart from val), so the records hold both curves and the
            report gives the final and the best-on-val checkpoints' test
            metrics, and its frontiers score the final test metric.
        note (str, optional): One line the report prints under the
            settings: what the suite cannot show (``make bench``'s
            profile says it). Not a resume key.
    """

    configs: List[str]
    optimizers: List[str]
    iters: Optional[int]
    repeats: int
    evals: int = 4
    skip: int = 3
    rho: float = 0.05
    arsam: Optional[Dict[str, Any]] = None
    cfg_options: Optional[Dict[str, Any]] = None
    targets: Optional[Dict[str, float]] = None
    budgets: Optional[List[float]] = None
    jobs: int = 1
    cost_rounds: int = 0
    scale: float = 1.0
    task_rho: Optional[Dict[str, float]] = None
    method_args: Optional[Dict[str, Dict[str, Any]]] = None
    smoke: Optional[Union[str, os.PathLike]] = None
    score_test: bool = False
    note: Optional[str] = None

    #: The recorded settings that change the runs themselves: a resumed
    #: suite must match each.
    RESUME_KEYS: ClassVar[Tuple[str, ...]] = (
        'iters', 'scale', 'evals', 'rho', 'task_rho', 'arsam', 'method_args',
        'cfg_options', 'smoke', 'score_test')

    def __post_init__(self) -> None:
        self.check()
        normal = dict(
            configs=list(self.configs),
            optimizers=[o for o in OPTIMIZERS if o in self.optimizers],
            smoke=None if self.smoke is None else os.fspath(self.smoke))
        for name, value in normal.items():  # frozen: set once, checked
            object.__setattr__(self, name, value)

    @classmethod
    def from_record(cls, recorded: Mapping[str, Any]) -> 'SuiteSettings':
        """The settings a ``records.json`` recorded (:meth:`record`);
        settings recorded before they existed take their defaults, and
        ``threads`` (derived from ``jobs``) is left out."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in recorded.items() if k in names})

    @property
    def threads(self) -> Optional[int]:
        """Torch threads per run (:func:`default_threads`)."""
        return default_threads(self.jobs)

    @property
    def variants(self) -> List[Tuple[str, Any]]:
        """(optimizer, budget) of every variant, in the order they run
        (:func:`plan`)."""
        return plan(self.optimizers, self.budgets)

    def rho_of(self, task: str) -> float:
        """The radius of ``task``'s runs."""
        return (self.task_rho or {}).get(task, self.rho)

    def arsam_of(self, iters: int) -> Dict[str, Any]:
        """The ARSAM arguments of a run of ``iters`` iterations."""
        return self.arsam if self.arsam is not None else default_arsam(iters)

    def record(self) -> Dict[str, Any]:
        """The settings as ``records.json`` keeps them: with ``iters``
        given, ``arsam`` filled in; ``threads`` added; ``scale``,
        ``task_rho``, ``method_args``, ``smoke``, ``score_test`` and
        ``note`` only where set (as before they existed)."""
        arsam = self.arsam
        if self.iters is not None:
            arsam = self.arsam_of(self.iters)
        settings = dict(
            configs=list(self.configs), optimizers=list(self.optimizers),
            iters=self.iters, repeats=self.repeats, evals=self.evals,
            skip=self.skip, rho=self.rho, arsam=arsam,
            cfg_options=self.cfg_options or {}, targets=self.targets or {},
            budgets=self.budgets, jobs=self.jobs, threads=self.threads,
            cost_rounds=self.cost_rounds)
        if self.scale != 1:
            settings['scale'] = self.scale
        if self.task_rho:
            settings['task_rho'] = dict(self.task_rho)
        if self.method_args:
            settings['method_args'] = self.method_args
        if self.smoke:
            settings['smoke'] = self.smoke
        if self.score_test:  # absent before test splits
            settings['score_test'] = True
        if self.note:
            settings['note'] = self.note
        return settings

    def mismatch(self, recorded: Mapping[str, Any]
                 ) -> Optional[Tuple[str, Any, Any]]:
        """The first of :data:`RESUME_KEYS` whose ``recorded`` value
        differs from these settings' (:meth:`record`), as ``(name,
        recorded, now)``; None when they all match."""
        now = self.record()
        for name in self.RESUME_KEYS:
            if recorded.get(name) != now.get(name):
                return name, recorded.get(name), now.get(name)
        return None

    def check(self) -> None:
        """Every setting at once: a ``ValueError`` naming the setting and
        its value (a missing config, a negative ``rho``, an unknown
        argument of a wrapper (``arsam``, ``method_args``; the closest
        valid one named) or a value its wrapper refuses, a config without
        a test split apart from val with ``score_test``, ...)."""
        for name in ('iters', 'repeats', 'evals', 'jobs'):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f'{name} must be >= 1, got {value}')
        for name in ('cost_rounds', 'skip'):
            if getattr(self, name) < 0:
                raise ValueError(
                    f'{name} must be >= 0, got {getattr(self, name)}')
        if self.note is not None and (not isinstance(self.note, str)
                                      or '\n' in self.note):
            raise ValueError(f'note must be one line of text, got '
                             f'{self.note!r}')
        self._check_methods()
        stems = self._check_configs()
        if not self.scale > 0 or (self.iters is not None and self.scale != 1):
            raise ValueError(f'scale must be > 0, and 1 when iters is given; '
                             f'got scale={self.scale}, iters={self.iters}')
        _number('rho', self.rho, check_nonnegative)
        for name, check in (('task_rho', check_nonnegative),
                            ('targets', check_float)):
            per_task = getattr(self, name) or {}
            unknown = sorted(set(per_task) - set(stems))
            if unknown:
                raise ValueError(
                    f'{name} names tasks {unknown} that are not among the '
                    f"configs' file names {sorted(stems)}")
            for task, value in per_task.items():
                _number(f'{name} of {task}', value, check)
        if self.smoke is not None:
            check_data_dir('smoke', self.smoke)
        if self.smoke and self.iters is None:
            raise ValueError('smoke needs iters: a shrunk config keeps its '
                             'own length (epochs or tens of thousands of '
                             'iterations)')
        _check_wrappers(plan(self.optimizers, self.budgets), self.rho,
                        self.arsam_of(self.iters or 1),
                        self.arsam is not None, self.method_args or {})
        for config in self.configs if self.score_test else []:
            try:
                score_test_split(Config.fromfile(
                    config, import_custom_modules=False))
            except ValueError as err:
                raise ValueError(f'score_test: config {config}: {err}') \
                    from err

    def _check_methods(self) -> None:
        """The optimizers and budgets, and what each needs of the other."""
        unknown = [o for o in self.optimizers if o not in OPTIMIZERS]
        if unknown:
            raise ValueError(f'optimizers must be among {OPTIMIZERS}, got '
                             f'{unknown}')
        for budget in self.budgets or []:
            if not 0 < budget <= 1:
                raise ValueError(f'budgets must be in (0, 1], got {budget}')
        for name in [] if self.budgets else self.optimizers:
            matches = member(name).matches
            if matches and matches not in self.optimizers:
                raise ValueError(
                    f'optimizer {name} needs {matches} in the same run (its '
                    f'{member(name).budget_knob} matches '
                    f"{member(matches).title}'s measured budget), "
                    'or budgets')
        if self.budgets and not set(self.optimizers) & set(BUDGETED):
            raise ValueError(f'budgets {self.budgets} need a budgeted '
                             f'optimizer ({BUDGETED}), got {self.optimizers}')

    def _check_configs(self) -> List[str]:
        """Each config exists and loads; their task names differ (returned).
        """
        for config in self.configs:
            if not osp.isfile(config):
                raise ValueError(f'config file {config!r} does not exist')
            try:  # as config_digest loads it, before any run
                Config.fromfile(config, import_custom_modules=False)
            except Exception as err:  # a config file runs arbitrary code
                raise ValueError(f'config file {config!r} cannot be loaded: '
                                 f'{type(err).__name__}: {err}') from err
        stems = [Path(c).stem for c in self.configs]
        if len(set(stems)) < len(stems):
            raise ValueError(f'configs must have distinct file names (the '
                             f'task names), got {stems}')
        return stems


def _number(name: str, value: Any, check: Callable[[str, Any], float]
            ) -> None:
    """``check(name, value)`` with its ``TypeError`` (a value that is no
    number, e.g. ``TASK=abc``) as a ``ValueError``."""
    try:
        check(name, value)
    except TypeError as err:
        raise ValueError(str(err)) from err


def _check_wrappers(variants: List[Tuple[str, Any]], rho: float,
                    arsam: Dict[str, Any], arsam_given: bool,
                    method_args: Dict[str, Dict[str, Any]]) -> None:
    """Build each wrapper the suite will build, on a one-parameter SGD, so
    that its own checks run now: an unknown argument is named with the
    closest valid one
    (:meth:`~arsam_mm.engine.SharpnessAwareOptimWrapper._check_kwargs`),
    and each value is checked by the core that takes it.

    ``arsam`` alone first (the ``arsam`` setting), then each method with its
    ``method_args``, then every variant of ``variants`` (budget arguments
    and combinations); each error names what it came from. The configs'
    own wrapper arguments are not involved (a one-key base config): the AMP
    twins take the same method arguments.
    """
    import torch

    from ..engine import optim_wrappers

    base = Config(dict(optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.0))))
    checks = [('arsam', 'arsam', None, {})] if arsam_given else []
    checks += [(f'method_args of {name}', name, None, {name: args})
               for name, args in method_args.items()]
    checks += [(variant_label(name, budget), name, budget, method_args)
               for name, budget in variants if name != 'base']
    for what, name, budget, args in checks:
        try:
            variant = make_variant(base, name, rho=rho, arsam=arsam,
                                   budget=budget, method_args=args)
            kwargs = dict(variant.optim_wrapper)
            wrapper = getattr(optim_wrappers, kwargs.pop('type'))
            kwargs['optimizer'] = torch.optim.SGD(
                [torch.nn.Parameter(torch.zeros(1))], lr=0.0)
            wrapper(**kwargs)
        except (TypeError, ValueError) as err:
            raise ValueError(f'{what}: {err}') from err
