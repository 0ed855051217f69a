"""Run a benchmark suite: every config with every optimizer and seed, each
run in a fresh process; then aggregate, plot and write the report."""
import json
import logging
import os
import os.path as osp
import platform
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from mmengine.config import Config
from mmengine.logging import print_log

from ..engine.smoke import check_data_dir
from ..core.validate import check_float, check_nonnegative
from .frontier import analyse, frontier_markdown
from .plots import plot_frontier, plot_task, plot_val_test
from .records import RecordsError, atomic_write, config_digest, load_records
from .step_cost import COST_BUDGET
from .report import (aggregate, best_vs_final_markdown, gain_table,
                     markdown_table, recovered_gain)
from .variants import BUDGETED, OPTIMIZERS, make_variant, variant_label
from .worker import score_test_split

__all__ = [
    'run_suite', 'write_report', 'environment', 'default_arsam',
    'default_threads', 'config_iters', 'RecordsError'
]


def environment() -> Dict[str, Any]:
    """Device, versions and machine that produce the figures."""
    import torch
    versions = {}
    for name in ('torch', 'mmengine', 'mmsegmentation', 'mmpose',
                 'mmpretrain', 'arsam_mm', 'numpy'):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    cuda = torch.cuda.is_available()
    return dict(
        date=datetime.now(timezone.utc).isoformat(timespec='seconds'),
        device=torch.cuda.get_device_name() if cuda else 'cpu',
        machine=f'{platform.machine()}, {os.cpu_count()} cores, '
        f'{platform.system()} {platform.release()}',
        python=platform.python_version(),
        versions=versions)


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


def _spawn(spec: Dict[str, Any], log_path: str, what: str) -> Dict[str, Any]:
    """Run :func:`.worker.main` on ``spec`` in a fresh process (with
    ``spec['threads']`` OpenMP threads, when set) and read its result."""
    env = dict(os.environ)
    if spec.get('threads'):
        env['OMP_NUM_THREADS'] = str(spec['threads'])
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = osp.join(tmp, 'spec.json')
        out_path = osp.join(tmp, 'result.json')
        with open(spec_path, 'w') as f:
            json.dump(spec, f)
        code = ('import sys; from arsam_mm.benchmark.worker import main; '
                'main(sys.argv[1], sys.argv[2])')
        with open(log_path, 'w') as log:
            proc = subprocess.run(
                [sys.executable, '-c', code, spec_path, out_path],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        if proc.returncode != 0:
            with open(log_path) as f:
                tail = ''.join(f.readlines()[-25:])
            raise RuntimeError(
                f"{what} of {spec['config']} failed (log: {log_path}):\n"
                f'{tail}')
        with open(out_path) as f:
            return json.load(f)


def _run_process(spec: Dict[str, Any], log_path: str) -> Dict[str, Any]:
    """One training run in a fresh process."""
    return _spawn(spec, log_path,
                  f"run {spec['optimizer']} seed {spec['seed']}")


def _cost_process(spec: Dict[str, Any], log_path: str) -> Dict[str, Any]:
    """One task's step costs in a fresh process."""
    return _spawn(spec, log_path, 'step-cost measurement')


#: Written after every run: the settings and the records so far.
RECORDS_FILE = 'records.json'


def _settings(configs, optimizers, iters, repeats, evals, skip, rho, arsam,
              cfg_options, targets, budgets, jobs, threads, cost_rounds,
              scale, task_rho, method_args, smoke=None,
              score_test=False) -> Dict[str, Any]:
    settings = dict(configs=list(configs), optimizers=list(optimizers),
                    iters=iters, repeats=repeats, evals=evals, skip=skip,
                    rho=rho, arsam=arsam, cfg_options=cfg_options or {},
                    targets=targets or {}, budgets=budgets, jobs=jobs,
                    threads=threads, cost_rounds=cost_rounds)
    if scale != 1:
        settings['scale'] = scale
    if task_rho:
        settings['task_rho'] = dict(task_rho)
    if method_args:
        settings['method_args'] = method_args
    if smoke:
        settings['smoke'] = smoke
    if score_test:  # absent before test splits
        settings['score_test'] = True
    return settings


#: Settings that change the runs themselves; a resumed suite must match.
_RUN_SETTINGS = ('iters', 'scale', 'evals', 'rho', 'task_rho', 'arsam',
                 'method_args', 'cfg_options', 'smoke', 'score_test')


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


def _resumed(path: Path, settings: Dict[str, Any],
             digests: Dict[str, str]) -> Dict[str, Any]:
    """The saved ``records.json`` of a suite to resume, checked against the
    settings that change the runs and against the content of the configs
    (``digests``: :func:`config_digest` per config); empty when there is
    none."""
    if not path.exists():
        return {}
    saved = load_records(path)
    for name in _RUN_SETTINGS:
        if saved['settings'].get(name) != settings.get(name):
            raise RecordsError(
                f'cannot resume {path}: {name} was '
                f"{saved['settings'].get(name)!r}, now "
                f'{settings.get(name)!r}; '
                'resume with the recorded value, or start over in another '
                '--work-dir')
    for config, digest in digests.items():
        task = Path(config).stem
        runs = [r for r in saved['records'] if r['task'] == task]
        changed = [r for r in runs
                   if r.get('config_sha256', digest) != digest]
        if changed:
            raise RecordsError(
                f'cannot resume {path}: the content of config {config} '
                f'changed since {len(changed)} of its runs were recorded '
                f"(resolved config sha256 {changed[0]['config_sha256'][:12]}"
                f' then, {digest[:12]} now). Restore the config, or remove '
                f"the records of task {task!r} from {path.name} (or rerun "
                'without --resume, which redoes every run).')
        unknown = sum('config_sha256' not in r for r in runs)
        if unknown:
            print_log(
                f'{path}: {unknown} recorded run(s) of {config} predate '
                'config digests, so whether its content changed since '
                'cannot be checked; they are kept.',
                logger='current', level=logging.WARNING)
    return saved


def _periodic_interval(records: List[Dict[str, Any]], task: str,
                       iters: int) -> int:
    """``periodic``'s k without a budget: the gradient-evaluation budget
    ARSAM measured."""
    done = [r for r in records if r['task'] == task
            and r['optimizer'] == 'arsam' and r.get('budget') is None]
    extra = sum(r['result']['grad_evals'][-1] / len(r['result']['seconds'])
                for r in done) / len(done) - 1
    return max(1, round(1 / extra)) if extra > 0 else iters


def _plan(optimizers: List[str],
          budgets: Optional[List[float]]) -> List[Tuple[str, Any]]:
    """(optimizer, budget) of every variant, in the order they run: the
    unbudgeted ones first, then each budget with every budgeted method
    (without budgets: ``periodic`` last, after ``arsam``)."""
    order = [o for o in OPTIMIZERS if o in optimizers]
    if not budgets:
        return [(o, None) for o in order if o != 'periodic'] + (
            [('periodic', None)] if 'periodic' in order else [])
    plan = [(o, None) for o in order if o not in BUDGETED]
    return plan + [(o, b) for b in budgets for o in order if o in BUDGETED]


def _check(configs, optimizers, iters, repeats, evals, budgets, jobs,
           cost_rounds, scale, task_rho, smoke=None, *, skip=0, rho=0.05,
           arsam=None, method_args=None, targets=None,
           work_dir=None, score_test=False) -> None:
    """Every setting of :func:`run_suite` at once, before anything runs:
    a ``ValueError`` naming the setting and its value."""
    for name, value in (('iters', iters), ('repeats', repeats),
                        ('evals', evals), ('jobs', jobs)):
        if value is not None and value < 1:
            raise ValueError(f'{name} must be >= 1, got {value}')
    if cost_rounds < 0:
        raise ValueError(f'cost_rounds must be >= 0, got {cost_rounds}')
    if skip < 0:
        raise ValueError(f'skip must be >= 0, got {skip}')
    unknown = [o for o in optimizers if o not in OPTIMIZERS]
    if unknown:
        raise ValueError(f'optimizers must be among {OPTIMIZERS}, got '
                         f'{unknown}')
    for budget in budgets or []:
        if not 0 < budget <= 1:
            raise ValueError(f'budgets must be in (0, 1], got {budget}')
    if not budgets and 'periodic' in optimizers and \
            'arsam' not in optimizers:
        raise ValueError('optimizer periodic needs arsam in the same run '
                         "(its interval matches ARSAM's measured budget), "
                         'or budgets')
    if budgets and not set(optimizers) & set(BUDGETED):
        raise ValueError(f'budgets {budgets} need a budgeted optimizer '
                         f'({BUDGETED}), got {optimizers}')
    for config in configs:
        if not osp.isfile(config):
            raise ValueError(f'config file {config!r} does not exist')
        try:  # as config_digest loads it, before any run
            Config.fromfile(config, import_custom_modules=False)
        except Exception as err:  # a config file runs arbitrary code
            raise ValueError(f'config file {config!r} cannot be loaded: '
                             f'{type(err).__name__}: {err}') from err
    stems = [Path(c).stem for c in configs]
    if len(set(stems)) < len(stems):
        raise ValueError(f'configs must have distinct file names (the task '
                         f'names), got {stems}')
    if work_dir is not None and osp.exists(work_dir) and \
            not osp.isdir(work_dir):
        raise ValueError(f'work_dir must be a folder, got the file '
                         f'{os.fspath(work_dir)!r}')
    if not scale > 0 or (iters is not None and scale != 1):
        raise ValueError(f'scale must be > 0, and 1 when iters is given; got '
                         f'scale={scale}, iters={iters}')
    _number('rho', rho, check_nonnegative)
    for name, per_task, check in (('task_rho', task_rho, check_nonnegative),
                                  ('targets', targets, check_float)):
        unknown = sorted(set(per_task or {}) - set(stems))
        if unknown:
            raise ValueError(f'{name} names tasks {unknown} that are not '
                             f"among the configs' file names {sorted(stems)}")
        for task, value in (per_task or {}).items():
            _number(f'{name} of {task}', value, check)
    if smoke is not None:
        check_data_dir('smoke', smoke)
    if smoke and iters is None:
        raise ValueError('smoke needs iters: a shrunk config keeps its own '
                         'length (epochs or tens of thousands of iterations)')
    _check_wrappers(_plan(optimizers, budgets), rho,
                    arsam if arsam is not None else default_arsam(iters or 1),
                    arsam is not None, method_args or {})
    for config in configs if score_test else []:
        try:
            score_test_split(Config.fromfile(config,
                                             import_custom_modules=False))
        except ValueError as err:
            raise ValueError(f'score_test: config {config}: {err}') from err


def _number(name: str, value: Any, check: Callable[[str, Any], float]
            ) -> None:
    """``check(name, value)`` with its ``TypeError`` (a value that is no
    number, e.g. ``TASK=abc``) as a ``ValueError``."""
    try:
        check(name, value)
    except TypeError as err:
        raise ValueError(str(err)) from err


def _check_wrappers(plan: List[Tuple[str, Any]], rho: float,
                    arsam: Dict[str, Any], arsam_given: bool,
                    method_args: Dict[str, Dict[str, Any]]) -> None:
    """Build each wrapper the suite will build, on a one-parameter SGD, so
    that its own checks run now: an unknown argument is named with the
    closest valid one
    (:meth:`~arsam_mm.engine.SharpnessAwareOptimWrapper._check_kwargs`),
    and each value is checked by the core that takes it.

    ``arsam`` alone first (the ``arsam`` setting), then each method with its
    ``method_args``, then every variant of ``plan`` (budget arguments and
    combinations); each error names what it came from. The configs' own
    wrapper arguments are not involved (a one-key base config): the AMP
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
               for name, budget in plan if name != 'base']
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


def default_threads(jobs: int) -> Optional[int]:
    """Torch threads per run: the cores shared out among ``jobs`` parallel
    runs (None, torch's default, for one job at a time)."""
    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def run_suite(configs: List[str],
              optimizers: List[str],
              iters: int,
              repeats: int,
              work_dir: str,
              evals: int = 4,
              skip: int = 3,
              rho: float = 0.05,
              arsam: Optional[Dict[str, Any]] = None,
              cfg_options: Optional[Dict[str, Any]] = None,
              targets: Optional[Dict[str, float]] = None,
              command: str = '',
              progress: Optional[Callable[[str], None]] = None,
              resume: bool = False,
              budgets: Optional[List[float]] = None,
              jobs: int = 1,
              cost_rounds: int = 0,
              scale: float = 1.0,
              task_rho: Optional[Dict[str, float]] = None,
              method_args: Optional[Dict[str, Dict[str, Any]]] = None,
              smoke: Optional[Union[str, os.PathLike]] = None,
              score_test: bool = False
              ) -> Dict[str, Any]:
    """Run and report.

    Every finished run is appended to ``<work_dir>/records.json`` at once,
    so a suite cut short loses only the runs in progress: ``resume=True``
    keeps the runs recorded there and runs the rest, and
    :func:`write_report` re-renders a report from the file alone. The file
    is replaced atomically (:func:`~.records.atomic_write`), and each run
    records ``config_sha256``, the :func:`~.records.config_digest` of its
    config's resolved content.

    With ``cost_rounds``, each task's step costs are measured first, in one
    process, interleaved (:mod:`.step_cost`), and the report prices every
    run's exact pass counts with them: a cost that background load does
    not move, beside the raw wall-clock.

    Args:
        configs (list[str]): Baseline configs (their own optimizer).
        optimizers (list[str]): Subset of :data:`~.variants.OPTIMIZERS`.
            Without ``budgets``, ``periodic`` runs after ``arsam`` and
            matches its measured gradient-evaluation budget.
        iters (int, optional): Iterations per run; None: each config's own
            ``max_iters`` times ``scale`` (:func:`config_iters`).
        repeats (int): Seeds 0..repeats-1 per (config, variant): every
            variant of a seed starts from the same weights and data order.
        work_dir (str): Where runs, logs and the report go.
        evals (int): Validations per run (for the metric curves).
        skip (int): Leading iterations left out of the timing.
        rho (float): SAM radius of every member.
        task_rho (dict, optional): Task name (config file stem) -> its
            radius instead of ``rho``.
        method_args (dict, optional): Optimizer name -> further arguments
            of its wrapper (``{'looksam': {'alpha': 0.1}}``).
        arsam (dict, optional): ARSAM arguments; default
            :func:`default_arsam` of each config's iterations.
        cfg_options (dict, optional): Overrides applied to every config.
        targets (dict, optional): Metric targets per task name.
        command (str): The command line, for the report.
        progress (callable, optional): Called with a label as each run
            starts (and once for each run kept by ``resume``).
        resume (bool): Keep the runs already in ``records.json`` (their
            iterations, evaluations, rho, ARSAM arguments and overrides
            must match, and so must the content of their config where the
            run recorded its digest; runs recorded before digests existed
            are kept with a warning); without it an existing file is
            replaced.
        budgets (list[float], optional): Shares of SAM steps; every
            budgeted optimizer (:data:`~.variants.BUDGETED`) runs at each
            (:func:`~.variants.budget_arguments`), the others once.
        jobs (int): Runs in parallel, each with its share of the cores
            (:func:`default_threads`). Defaults to 1.
        cost_rounds (int): Interleaved rounds of the step-cost measurement
            per task; 0 measures nothing. Defaults to 0.
        scale (float): With ``iters=None``, the share of each config's
            ``max_iters`` to run (``make bench`` runs short versions of the
            frontier tasks). Defaults to 1.
        smoke (str | PathLike, optional): A data folder: every config (a
            model-zoo config as it ships) is shrunk as ``tools/train.py
            --smoke`` shrinks it
            (:func:`~arsam_mm.engine.smoke.apply_smoke`: data generated into
            this folder, image sizes divided by up to 8,
            batches of at most 2, no pretrained weights), so that every
            method runs on it on a CPU in minutes. Checks that the switch
            works; its metrics mean nothing. Needs ``iters``.
        score_test (bool): Every validation also scores each config's test
            split (:func:`~.worker.score_test_split`; the config needs one
            apart from val), so the records hold both curves and the
            report gives the final and the best-on-val checkpoints' test
            metrics, and its frontiers score the final test metric.

    Returns:
        dict: ``rows``, ``records``, ``environment``, ``markdown`` and the
        written ``paths``.

    Raises:
        ValueError: For a bad setting, before anything runs or is written:
            a missing config, a negative ``rho``, an unknown argument of a
            wrapper (``arsam``, ``method_args``; the closest valid one
            named) or a value its wrapper refuses, a config without a
            test split apart from val with ``score_test``, ...
        RecordsError: With ``resume``, when ``records.json`` is damaged or
            its runs do not match these settings or configs.
    """
    _check(configs, optimizers, iters, repeats, evals, budgets, jobs,
           cost_rounds, scale, task_rho, smoke, skip=skip, rho=rho,
           arsam=arsam, method_args=method_args, targets=targets,
           work_dir=work_dir, score_test=score_test)
    smoke = os.fspath(smoke) if smoke is not None else None
    plan = _plan(optimizers, budgets)
    lengths = {config: iters or config_iters(config, cfg_options, scale)
               for config in configs}
    if iters is not None:  # recorded as before for a fixed length
        arsam = arsam if arsam is not None else default_arsam(iters)
    threads = default_threads(jobs)
    settings = _settings(configs, [o for o in OPTIMIZERS if o in optimizers],
                         iters, repeats, evals, skip, rho, arsam,
                         cfg_options, targets, budgets, jobs, threads,
                         cost_rounds, scale, task_rho, method_args, smoke,
                         score_test)
    out = Path(work_dir)
    (out / 'logs').mkdir(parents=True, exist_ok=True)
    records_path = out / RECORDS_FILE
    digests = {config: config_digest(config) for config in configs}
    saved = _resumed(records_path, settings, digests) if resume else {}
    records = saved.get('records', [])
    costs = saved.get('step_costs', {}) if records else {}
    env = saved['environment'] if records else environment()
    done = {(r['task'], r['optimizer'], r.get('budget'), r['seed'])
            for r in records}
    lock = threading.Lock()

    def save() -> None:
        content = dict(command=command, environment=env, settings=settings,
                       step_costs=costs, records=records)
        atomic_write(records_path, lambda f: json.dump(content, f))

    def common(config: str, name: str) -> Dict[str, Any]:
        return dict(config=config, iters=lengths[config], evals=evals,
                    work_dir=str(out / 'runs' / name),
                    cfg_options=cfg_options or {},
                    rho=(task_rho or {}).get(Path(config).stem, rho),
                    threads=threads, method_args=method_args, smoke=smoke,
                    score_test=score_test)

    todo = []
    for config in configs:
        task = Path(config).stem
        for optimizer, budget in plan:
            for seed in range(repeats):
                todo.append((config, task, optimizer, budget, seed))
    for config in configs:
        task = Path(config).stem
        left = any(t[1] == task and t[1:] not in done for t in todo)
        if cost_rounds and task not in costs and left:
            if progress:
                progress(f'{task} step costs')
            spec = dict(common(config, f'{task}_step_cost'),
                        optimizers=[o for o, _ in plan], rounds=cost_rounds)
            costs[task] = _cost_process(
                spec, str(out / 'logs' / f'{task}_step_cost.log'))
            save()

    def run(item) -> Dict[str, Any]:
        config, task, optimizer, budget, seed = item
        interval = 1
        if optimizer == 'periodic' and budget is None:
            with lock:
                interval = _periodic_interval(records, task,
                                              lengths[config])
        name = variant_label(optimizer, budget).replace('@', '_b')
        label = f'{task} {variant_label(optimizer, budget)} seed {seed}'
        if progress:
            progress(label)
        spec = dict(common(config, f'{task}_{name}_s{seed}'),
                    optimizer=optimizer, seed=seed,
                    arsam=(arsam if arsam is not None else
                           default_arsam(lengths[config])),
                    interval=interval, budget=budget)
        result = _run_process(
            spec, str(out / 'logs' / f'{task}_{name}_s{seed}.log'))
        return dict(task=task, optimizer=optimizer, budget=budget,
                    seed=seed, interval=interval,
                    config_sha256=digests[config], result=result)

    # Without budgets, periodic waits for ARSAM's measured budget.
    phases = [[t for t in todo if not (t[2] == 'periodic' and t[3] is None)],
              [t for t in todo if t[2] == 'periodic' and t[3] is None]]
    for phase in phases:
        pending = []
        for item in phase:
            if item[1:] in done:
                if progress:
                    label = variant_label(item[2], item[3])
                    progress(f'{item[1]} {label} seed {item[4]} (recorded)')
            else:
                pending.append(item)
        _run_all(pending, run, jobs, records, lock, save)
    return write_report(str(out), command=command)


def _run_all(items, run, jobs, records, lock, save) -> None:
    """Run ``items`` on ``jobs`` threads (each starts its own process) and
    record each result as it finishes; after a failure the runs in flight
    finish and are recorded, the rest are not started, and the first error
    is raised."""
    errors = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run, item) for item in items]
        for future in as_completed(futures):
            try:
                record = future.result()
            except CancelledError:
                continue
            except Exception as err:  # recorded below, raised at the end
                errors.append(err)
                for other in futures:
                    other.cancel()
                continue
            with lock:
                records.append(record)
                save()
    if errors:
        raise errors[0]


def write_report(work_dir: str, command: Optional[str] = None,
                 frontier_metric: Optional[str] = None) -> Dict[str, Any]:
    """Aggregate ``<work_dir>/records.json`` and write the report.

    Writes ``report.json`` (environment, settings, rows and gains; the
    raw records stay in ``records.json``), ``report.md`` and the plots.
    The environment (date, machine, versions) is the one recorded when the
    runs started, with the devices the runs reported.

    Args:
        work_dir (str): A suite's work dir.
        command (str, optional): The command line for the report; default
            the one recorded with the runs.
        frontier_metric (str, optional): What the frontiers score
            (:func:`~.frontier.analyse`'s ``metric``); default the final
            checkpoint's test metric (``'test_final'``) for a task whose
            runs scored a test split, else the final validation metric.

    Returns:
        dict: As :func:`run_suite`.

    Raises:
        FileNotFoundError: When ``work_dir`` holds no ``records.json``.
        RecordsError: When it is damaged.
    """
    out = Path(work_dir)
    path = out / RECORDS_FILE
    if not path.exists():
        raise FileNotFoundError(
            f'work_dir {work_dir!r} holds no {RECORDS_FILE}: nothing to '
            'report')
    saved = load_records(path)
    records, settings = saved['records'], saved['settings']
    command = saved['command'] if command is None else command
    costs = saved.get('step_costs', {})
    rows = aggregate(records, skip=settings['skip'],
                     targets=settings['targets'], step_costs=costs)
    env = dict(saved['environment'])
    devices = sorted({r['result']['device'] for r in records})
    env['device'] = ', '.join(devices) if devices else env['device']
    plots, frontiers = [], {}
    for task in dict.fromkeys(r['task'] for r in records):
        plots += plot_task(task, [r for r in records if r['task'] == task],
                           out / 'plots')
        plot = plot_val_test(task, [r for r in records if r['task'] == task],
                             out / 'plots')
        plots += [plot] if plot is not None else []
        scored = frontier_metric or ('test_final' if any(
            'test_metric' in r for r in rows if r['task'] == task)
            else 'metric')
        result = analyse(rows, task, metric=scored)
        if result is not None:
            frontiers[task] = result
            plots.append(plot_frontier(task, result, out / 'plots'))
    gains = recovered_gain(rows)
    load = load_report(records, costs, settings)
    text = _markdown(rows, gains, env, command, settings, plots, out,
                     frontiers, costs, load)
    report = dict(environment=env, command=command, settings=settings,
                  rows=rows, recovered_gain=gains, records=RECORDS_FILE)
    if costs or frontiers:
        report.update(step_costs=costs, load=load, frontier={
            task: _frontier_json(result)
            for task, result in frontiers.items()})
    atomic_write(out / 'report.json',
                 lambda f: json.dump(report, f, indent=1))
    atomic_write(out / 'report.md', lambda f: f.write(text))
    report.update(records=records, markdown=text)
    report['paths'] = [str(out / 'report.json'), str(out / 'report.md')] + [
        str(p) for p in plots]
    return report


#: A run saw other work on the machine when the 1-minute load average
#: exceeded the suite's own threads by more than this.
LOAD_MARGIN = 0.5


def load_report(records: List[Dict[str, Any]], costs: Dict[str, Any],
                settings: Dict[str, Any]) -> Dict[str, Any]:
    """Whether the machine's load went beyond the suite's own.

    The suite runs ``jobs`` processes of ``threads`` threads (all cores
    for one job); a 1-minute load average above that by more than
    :data:`LOAD_MARGIN` at the start or end of a run or of a step-cost
    measurement means something else competed for the cores, and the raw
    wall-clock columns are flagged.

    Returns:
        dict: ``own`` (the suite's threads), ``min``, ``max`` (load seen)
        and ``changed`` (bool); empty when no run recorded its load.
    """
    seen = [v for r in records for v in r['result'].get('load', [])]
    seen += [v for c in costs.values() for v in c.get('load', [])]
    if not seen:
        return {}
    jobs = settings.get('jobs') or 1
    own = jobs * (settings.get('threads') or os.cpu_count() or 1)
    return dict(own=own, min=min(seen), max=max(seen),
                changed=max(seen) > own + LOAD_MARGIN)


def _frontier_json(result: Dict[str, Any]) -> Dict[str, Any]:
    """:func:`analyse`'s answer with rows named by their labels."""

    def name(row):
        return None if row is None else row['label']

    def by_budget(entry):
        return {f'{b:g}': v for b, v in entry.items()}

    extra = ({} if result.get('scored', 'metric') == 'metric' else
             dict(scored=result['scored']))
    return dict(
        **extra, budgets=result['budgets'], model=result['model'],
        comparisons=by_budget(result['comparisons']), gate=result['gate'],
        keeps=by_budget(result['keeps']),
        keeps_half={m: name(r) for m, r in result['keeps_half'].items()},
        cheapest=name(result['cheapest']),
        arsam_behind=by_budget(result['arsam_behind']),
        arsam_ahead=by_budget(result['arsam_ahead']))


def _cost_table(costs: Dict[str, Any]) -> List[str]:
    lines = ['| task | step | median ms | x base step | samples |',
             '|---|---|---|---|---|']
    for task, c in costs.items():
        order = ['base'] + [f'{o}_{p}' for o in OPTIMIZERS
                            for p in ('one', 'two')]
        kinds = sorted(c['median_s'], key=lambda k: order.index(k)
                       if k in order else len(order))
        for kind in kinds:
            median = c['median_s'][kind]
            lines.append(f"| {task} | {kind} | {median * 1e3:.2f} | "
                         f"{c['x_base'][kind]:.3f} | {c['samples'][kind]} |")
    return lines


def _iters_text(settings: Dict[str, Any]) -> str:
    if settings['iters'] is not None:
        return str(settings['iters'])
    scale = settings.get('scale', 1)
    return ("each config's own max_iters" +
            (f' x {scale:g}' if scale != 1 else ''))


def _markdown(rows, gains, env, command, settings, plots, out,
              frontiers=None, costs=None, load=None) -> str:
    flag = ' †' if (load or {}).get('changed') else ''
    lines = [
        '# Benchmark: the base optimizer and the SAM family', '',
        f"- date: {env['date']}",
        f"- device: {env['device']}; machine: {env['machine']}; "
        f"python {env['python']}",
        '- versions: ' + ', '.join(f'{k} {v}'
                                   for k, v in env['versions'].items()),
        f'- command: `{command}`',
        f"- settings: {_iters_text(settings)} iterations per run, "
        f"{settings['repeats']} seed(s), first {settings['skip']} "
        f"iterations left out of the timing, rho {settings['rho']}" + (
            f" ({settings['task_rho']} for those tasks)"
            if settings.get('task_rho') else '') +
        f", ARSAM {settings['arsam']}" + (
            f", wrapper arguments {settings['method_args']}"
            if settings.get('method_args') else '') + (
            f"; budgets {settings['budgets']}" if settings.get('budgets')
            else '') + (f"; {settings['jobs']} runs in parallel, "
                        f"{settings['threads']} thread(s) each"
                        if (settings.get('jobs') or 1) > 1 else ''), '',
        markdown_table(rows, flag), '',
        'grad evals/iter: forward-backward passes per iteration, counted. '
        'cost x base: each run\'s passes priced with the step costs below '
        '(measured interleaved in one process on the task\'s model and '
        'batch), mean over seeds, in base steps: the cost figure that '
        'background load does not move ("-": no step costs measured). '
        's/iter (raw): mean over seeds of the mean step time (device '
        'synchronised around each step, validation excluded), ± the spread '
        "over seeds; x base (raw): its ratio to the task's base optimizer. "
        f"Peak memory: {rows[0]['memory_kind'] if rows else '-'}. Metric: at "
        'the end of the run, mean ± spread (sample sd) over seeds' + (
            ', on the validation split (the test split: below)'
            if any('test_metric' in r for r in rows) else '') + '.', ''
    ]
    if load:
        lines += [(f"† The machine's 1-minute load average reached "
                   f"{load['max']:.1f} while the suite's own threads were "
                   f"{load['own']}: other work competed for the cores, so the "
                   'raw wall-clock columns are not comparable between runs; '
                   'use cost x base.') if load['changed'] else
                  (f"Load: the 1-minute load average stayed within "
                   f"{load['min']:.1f}-{load['max']:.1f}, at most the "
                   f"suite's own {load['own']} threads + {LOAD_MARGIN}."), '']
    if costs:
        lines += ['Step costs (median over interleaved rounds; budgeted '
                  f'methods at budget {COST_BUDGET}):', ''] + \
            _cost_table(costs) + ['']
    for task, result in (frontiers or {}).items():
        lines.append(frontier_markdown(result, task))
    lines.append(best_vs_final_markdown(rows))
    if gains:
        lines += [gain_table(gains), '',
                  "Gain: final metric minus the base optimizer's; share: "
                  "a method's gain over SAM's; per extra grad eval: that "
                  'share divided by the gradient evaluations per iteration '
                  'the method adds to the base optimizer (SAM scores 1.0).',
                  '']
    for path in plots:
        lines.append(f'![{path.stem}]({osp.relpath(path, out)})')
    lines.append('')
    return '\n'.join(lines)
