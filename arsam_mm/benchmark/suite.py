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
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from mmengine.logging import print_log

from .plots import plot_task
from .records import RecordsError, atomic_write, config_digest, load_records
from .report import aggregate, gain_table, markdown_table, recovered_gain

__all__ = [
    'run_suite', 'write_report', 'environment', 'default_arsam',
    'RecordsError'
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


def _run_process(spec: Dict[str, Any], log_path: str) -> Dict[str, Any]:
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
                stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            with open(log_path) as f:
                tail = ''.join(f.readlines()[-25:])
            raise RuntimeError(
                f"run {spec['optimizer']} seed {spec['seed']} of "
                f"{spec['config']} failed (log: {log_path}):\n{tail}")
        with open(out_path) as f:
            return json.load(f)


#: Written after every run: the settings and the records so far.
RECORDS_FILE = 'records.json'


def _settings(configs, optimizers, iters, repeats, evals, skip, rho, arsam,
              cfg_options, targets) -> Dict[str, Any]:
    return dict(configs=list(configs), optimizers=list(optimizers),
                iters=iters, repeats=repeats, evals=evals, skip=skip, rho=rho,
                arsam=arsam, cfg_options=cfg_options or {},
                targets=targets or {})


#: Settings that change the runs themselves; a resumed suite must match.
_RUN_SETTINGS = ('iters', 'evals', 'rho', 'arsam', 'cfg_options')


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
        if saved['settings'].get(name) != settings[name]:
            raise RecordsError(
                f'cannot resume {path}: {name} was '
                f"{saved['settings'].get(name)!r}, now {settings[name]!r}; "
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
    """``periodic``'s k: the gradient-evaluation budget ARSAM measured."""
    done = [r for r in records
            if r['task'] == task and r['optimizer'] == 'arsam']
    extra = sum(r['result']['grad_evals'][-1] / len(r['result']['seconds'])
                for r in done) / len(done) - 1
    return max(1, round(1 / extra)) if extra > 0 else iters


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
              resume: bool = False) -> Dict[str, Any]:
    """Run and report.

    Every finished run is appended to ``<work_dir>/records.json`` at once,
    so a suite cut short loses only the run in progress: ``resume=True``
    keeps the runs recorded there and runs the rest, and
    :func:`write_report` re-renders a report from the file alone. The file
    is replaced atomically (:func:`~.records.atomic_write`), and each run
    records ``config_sha256``, the :func:`~.records.config_digest` of its
    config's resolved content.

    Args:
        configs (list[str]): Baseline configs (their own optimizer).
        optimizers (list[str]): Subset of ``base sam arsam periodic``;
            ``periodic`` runs after ``arsam`` and matches its measured
            gradient-evaluation budget.
        iters (int): Iterations per run.
        repeats (int): Seeds 0..repeats-1 per (config, optimizer).
        work_dir (str): Where runs, logs and the report go.
        evals (int): Validations per run (for the metric curves).
        skip (int): Leading iterations left out of the timing.
        rho (float): SAM/ARSAM radius.
        arsam (dict, optional): ARSAM arguments; default
            :func:`default_arsam`.
        cfg_options (dict, optional): Overrides applied to every config.
        targets (dict, optional): Metric targets per task name.
        command (str): The command line, for the report.
        progress (callable, optional): Called with a label before each run
            (and once for each run kept by ``resume``).
        resume (bool): Keep the runs already in ``records.json`` (their
            iterations, evaluations, rho, ARSAM arguments and overrides
            must match, and so must the content of their config where the
            run recorded its digest; runs recorded before digests existed
            are kept with a warning); without it an existing file is
            replaced.

    Returns:
        dict: ``rows``, ``records``, ``environment``, ``markdown`` and the
        written ``paths``.

    Raises:
        RecordsError: With ``resume``, when ``records.json`` is damaged or
            its runs do not match these settings or configs.
    """
    for name, value in (('iters', iters), ('repeats', repeats),
                        ('evals', evals)):
        if value < 1:
            raise ValueError(f'{name} must be >= 1, got {value}')
    if 'periodic' in optimizers and 'arsam' not in optimizers:
        raise ValueError('optimizer periodic needs arsam in the same run '
                         '(its interval matches ARSAM\'s measured budget)')
    order = [o for o in ('base', 'sam', 'arsam', 'periodic')
             if o in optimizers]
    arsam = arsam if arsam is not None else default_arsam(iters)
    settings = _settings(configs, order, iters, repeats, evals, skip, rho,
                         arsam, cfg_options, targets)
    out = Path(work_dir)
    (out / 'logs').mkdir(parents=True, exist_ok=True)
    records_path = out / RECORDS_FILE
    digests = {config: config_digest(config) for config in configs}
    saved = _resumed(records_path, settings, digests) if resume else {}
    records = saved.get('records', [])
    env = saved['environment'] if records else environment()
    done = {(r['task'], r['optimizer'], r['seed']) for r in records}
    for config in configs:
        task = Path(config).stem
        for optimizer in order:
            interval = 1
            if optimizer == 'periodic':
                interval = _periodic_interval(records, task, iters)
            for seed in range(repeats):
                label = f'{task} {optimizer} seed {seed}'
                if (task, optimizer, seed) in done:
                    if progress:
                        progress(f'{label} (recorded)')
                    continue
                if progress:
                    progress(label)
                run_dir = out / 'runs' / f'{task}_{optimizer}_s{seed}'
                spec = dict(config=config, optimizer=optimizer, seed=seed,
                            iters=iters, evals=evals, work_dir=str(run_dir),
                            cfg_options=cfg_options or {}, rho=rho,
                            arsam=arsam, interval=interval)
                result = _run_process(
                    spec, str(out / 'logs' / f'{run_dir.name}.log'))
                records.append(dict(task=task, optimizer=optimizer,
                                    seed=seed, interval=interval,
                                    config_sha256=digests[config],
                                    result=result))
                content = dict(command=command, environment=env,
                               settings=settings, records=records)
                atomic_write(records_path,
                             lambda f: json.dump(content, f))
    return write_report(str(out), command=command)


def write_report(work_dir: str, command: Optional[str] = None
                 ) -> Dict[str, Any]:
    """Aggregate ``<work_dir>/records.json`` and write the report.

    Writes ``report.json`` (environment, settings, rows and gains; the
    raw records stay in ``records.json``), ``report.md`` and the plots.
    The environment (date, machine, versions) is the one recorded when the
    runs started, with the devices the runs reported.

    Args:
        work_dir (str): A suite's work dir.
        command (str, optional): The command line for the report; default
            the one recorded with the runs.

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
    rows = aggregate(records, skip=settings['skip'],
                     targets=settings['targets'])
    env = dict(saved['environment'])
    devices = sorted({r['result']['device'] for r in records})
    env['device'] = ', '.join(devices) if devices else env['device']
    plots = []
    for task in dict.fromkeys(r['task'] for r in records):
        plots += plot_task(task, [r for r in records if r['task'] == task],
                           out / 'plots')
    gains = recovered_gain(rows)
    text = _markdown(rows, gains, env, command, settings, plots, out)
    report = dict(environment=env, command=command, settings=settings,
                  rows=rows, recovered_gain=gains, records=RECORDS_FILE)
    atomic_write(out / 'report.json',
                 lambda f: json.dump(report, f, indent=1))
    atomic_write(out / 'report.md', lambda f: f.write(text))
    report.update(records=records, markdown=text)
    report['paths'] = [str(out / 'report.json'), str(out / 'report.md')] + [
        str(p) for p in plots]
    return report


def _markdown(rows, gains, env, command, settings, plots, out) -> str:
    lines = [
        '# Benchmark: base optimizer vs SAM vs ARSAM', '',
        f"- date: {env['date']}",
        f"- device: {env['device']}; machine: {env['machine']}; "
        f"python {env['python']}",
        '- versions: ' + ', '.join(f'{k} {v}'
                                   for k, v in env['versions'].items()),
        f'- command: `{command}`',
        f"- settings: {settings['iters']} iterations per run, "
        f"{settings['repeats']} seed(s), first {settings['skip']} "
        f"iterations left out of the timing, rho {settings['rho']}, "
        f"ARSAM {settings['arsam']}", '',
        markdown_table(rows), '',
        's/iter: mean over seeds of the mean step time (device synchronised '
        'around each step, validation excluded), ± the spread over seeds; '
        "x base: ratio to the task's base optimizer in this run. Peak "
        f"memory: {rows[0]['memory_kind'] if rows else '-'}. Metric: at the "
        'end of the run, mean ± spread over seeds.', ''
    ]
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
