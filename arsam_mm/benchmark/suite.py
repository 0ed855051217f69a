"""Run a benchmark suite (:class:`.settings.SuiteSettings`): every config
with every optimizer and seed, each run in a fresh process and recorded in
``records.json`` as it finishes, several at once with ``jobs``, a suite
cut short resumed from its records; then the report
(:func:`.reporting.write_report`)."""
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

from mmengine.logging import print_log

from ..family import Member, member
from .records import (RECORDS_FILE, RecordsError, atomic_write, config_digest,
                      load_records)
from .reporting import write_report
from .settings import SuiteSettings, config_iters
from .variants import variant_label

__all__ = ['run_suite', 'write_report', 'environment', 'RECORDS_FILE',
           'RecordsError']

#: One run: (config, task, optimizer, budget, seed).
Item = Tuple[str, str, str, Optional[float], int]


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


def _resumed(path: Path, settings: SuiteSettings,
             digests: Dict[str, str]) -> Dict[str, Any]:
    """The saved ``records.json`` of a suite to resume, checked against the
    settings that change the runs (:data:`.SuiteSettings.RESUME_KEYS`) and
    against the content of the configs (``digests``: :func:`config_digest`
    per config); empty when there is none."""
    if not path.exists():
        return {}
    saved = load_records(path)
    differs = settings.mismatch(saved['settings'])
    if differs is not None:
        name, was, now = differs
        raise RecordsError(
            f'cannot resume {path}: {name} was {was!r}, now {now!r}; '
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


def _matched_interval(records: List[Dict[str, Any]], task: str,
                      iters: int, entry: Member) -> int:
    """The interval of a member that matches another's measured budget
    (``periodic``, without a budget): the gradient-evaluation budget the
    other (ARSAM) measured on ``task``."""
    done = [r for r in records if r['task'] == task
            and r['optimizer'] == entry.matches and r.get('budget') is None]
    extra = sum(r['result']['grad_evals'][-1] / len(r['result']['seconds'])
                for r in done) / len(done) - 1
    return max(1, round(1 / extra)) if extra > 0 else iters


def run_suite(settings: SuiteSettings,
              work_dir: Union[str, os.PathLike],
              command: str = '',
              progress: Optional[Callable[[str], None]] = None,
              resume: bool = False) -> Dict[str, Any]:
    """Run and report.

    Every finished run is appended to ``<work_dir>/records.json`` at once,
    so a suite cut short loses only the runs in progress: ``resume=True``
    keeps the runs recorded there and runs the rest, and
    :func:`write_report` re-renders a report from the file alone. The file
    is replaced atomically (:func:`~.records.atomic_write`), and each run
    records ``config_sha256``, the :func:`~.records.config_digest` of its
    config's resolved content.

    With ``settings.cost_rounds``, each task's step costs are measured
    first, in one process, interleaved (:mod:`.step_cost`), and the report
    prices every run's exact pass counts with them: a cost that background
    load does not move, beside the raw wall-clock.

    Args:
        settings (SuiteSettings): What to run (checked when made).
        work_dir (str | PathLike): Where runs, logs and the report go.
        command (str): The command line, for the report.
        progress (callable, optional): Called with a label as each run
            starts (and once for each run kept by ``resume``).
        resume (bool): Keep the runs already in ``records.json`` (the
            settings of :data:`.SuiteSettings.RESUME_KEYS` must match, and
            so must the content of their config where the run recorded its
            digest; runs recorded before digests existed are kept with a
            warning); without it an existing file is replaced.

    Returns:
        dict: ``rows``, ``records``, ``environment``, ``markdown`` and the
        written ``paths``.

    Raises:
        ValueError: For a ``work_dir`` that is a file, or an epoch-based
            config without ``settings.iters``, before anything runs or is
            written.
        RecordsError: With ``resume``, when ``records.json`` is damaged or
            its runs do not match these settings or configs.
    """
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        raise ValueError(f'work_dir must be a folder, got the file '
                         f'{os.fspath(work_dir)!r}')
    lengths = {config: settings.iters or config_iters(
        config, settings.cfg_options, settings.scale)
        for config in settings.configs}
    out = Path(work_dir)
    (out / 'logs').mkdir(parents=True, exist_ok=True)
    digests = {config: config_digest(config) for config in settings.configs}
    saved = _resumed(out / RECORDS_FILE, settings, digests) if resume else {}
    execution = _Execution(settings, out, command, lengths, digests, saved,
                           progress or (lambda label: None))
    execution.measure_costs()
    execution.run()
    return write_report(str(out), command=command)


class _Execution:
    """A suite at work in its ``out`` dir: the runs to do, the records and
    step costs so far, saved after each."""

    def __init__(self, settings: SuiteSettings, out: Path, command: str,
                 lengths: Dict[str, int], digests: Dict[str, str],
                 saved: Dict[str, Any],
                 progress: Callable[[str], None]) -> None:
        self.settings, self.out, self.command = settings, out, command
        self.lengths, self.digests, self.progress = lengths, digests, progress
        self.records = saved.get('records', [])
        self.costs = saved.get('step_costs', {}) if self.records else {}
        self.env = saved['environment'] if self.records else environment()
        self.done = {(r['task'], r['optimizer'], r.get('budget'), r['seed'])
                     for r in self.records}
        self.lock = threading.Lock()
        self.todo: List[Item] = [
            (config, Path(config).stem, optimizer, budget, seed)
            for config in settings.configs
            for optimizer, budget in settings.variants
            for seed in range(settings.repeats)]

    def save(self) -> None:
        content = dict(command=self.command, environment=self.env,
                       settings=self.settings.record(),
                       step_costs=self.costs, records=self.records)
        atomic_write(self.out / RECORDS_FILE,
                     lambda f: json.dump(content, f))

    def _spec(self, config: str, name: str) -> Dict[str, Any]:
        """What every process of ``config`` is given."""
        s = self.settings
        return dict(config=config, iters=self.lengths[config],
                    evals=s.evals, work_dir=str(self.out / 'runs' / name),
                    cfg_options=s.cfg_options or {},
                    rho=s.rho_of(Path(config).stem), threads=s.threads,
                    method_args=s.method_args, smoke=s.smoke,
                    score_test=s.score_test)

    def measure_costs(self) -> None:
        """Each task's step costs, where asked for, not yet measured and
        runs are left to do."""
        s = self.settings
        for config in s.configs:
            task = Path(config).stem
            left = any(t[1] == task and t[1:] not in self.done
                       for t in self.todo)
            if s.cost_rounds and task not in self.costs and left:
                self.progress(f'{task} step costs')
                spec = dict(self._spec(config, f'{task}_step_cost'),
                            optimizers=[o for o, _ in s.variants],
                            rounds=s.cost_rounds)
                self.costs[task] = _cost_process(
                    spec, str(self.out / 'logs' / f'{task}_step_cost.log'))
                self.save()

    def run_one(self, item: Item) -> Dict[str, Any]:
        config, task, optimizer, budget, seed = item
        interval = 1
        entry = member(optimizer)
        if entry.matches is not None and budget is None:
            with self.lock:
                interval = _matched_interval(self.records, task,
                                             self.lengths[config], entry)
        name = variant_label(optimizer, budget).replace('@', '_b')
        self.progress(f'{task} {variant_label(optimizer, budget)} seed {seed}')
        spec = dict(self._spec(config, f'{task}_{name}_s{seed}'),
                    optimizer=optimizer, seed=seed,
                    arsam=self.settings.arsam_of(self.lengths[config]),
                    interval=interval, budget=budget)
        result = _run_process(
            spec, str(self.out / 'logs' / f'{task}_{name}_s{seed}.log'))
        return dict(task=task, optimizer=optimizer, budget=budget,
                    seed=seed, interval=interval,
                    config_sha256=self.digests[config], result=result)

    def run(self) -> None:
        """Every run not recorded yet; without budgets, a member that
        matches another's measured budget (periodic) after the others."""

        def waits(item: Item) -> bool:
            return item[3] is None and member(item[2]).matches \
                is not None

        for phase in ([t for t in self.todo if not waits(t)],
                      [t for t in self.todo if waits(t)]):
            pending = []
            for item in phase:
                if item[1:] in self.done:
                    label = variant_label(item[2], item[3])
                    self.progress(f'{item[1]} {label} seed {item[4]} '
                                  '(recorded)')
                else:
                    pending.append(item)
            _run_all(pending, self.run_one, self.settings.jobs, self.records,
                     self.lock, self.save)


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
