"""Run a benchmark suite: every config with every optimizer and seed, each
run in a fresh process; then aggregate, plot and write the report."""
import json
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

from .plots import plot_task
from .report import aggregate, markdown_table, recovered_gain

__all__ = ['run_suite', 'environment', 'default_arsam']


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
    """ARSAM settings scaled to a run of ``iters`` iterations: the
    authors' window of 50 and 1.5% warm-up only reach far on long runs
    (DESIGN section 4), so short runs use a window of iters/10 and a
    warm-up of iters/20 (at least 2 and 1)."""
    return dict(window=max(2, iters // 10), warmup_iters=max(1, iters // 20))


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
              progress: Optional[Callable[[str], None]] = None
              ) -> Dict[str, Any]:
    """Run and report.

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
        progress (callable, optional): Called with a label before each run.

    Returns:
        dict: ``rows``, ``records``, ``environment``, ``markdown`` and the
        written ``paths``.
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
    out = Path(work_dir)
    (out / 'logs').mkdir(parents=True, exist_ok=True)
    records: List[Dict[str, Any]] = []
    for config in configs:
        task = Path(config).stem
        for optimizer in order:
            interval = 1
            if optimizer == 'periodic':
                done = [r for r in records
                        if r['task'] == task and r['optimizer'] == 'arsam']
                extra = sum(r['result']['grad_evals'][-1] /
                            len(r['result']['seconds'])
                            for r in done) / len(done) - 1
                interval = max(1, round(1 / extra)) if extra > 0 else iters
            for seed in range(repeats):
                label = f'{task} {optimizer} seed {seed}'
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
                                    result=result))
    rows = aggregate(records, skip=skip, targets=targets)
    env = environment()
    env['device'] = records[0]['result']['device'] if records else env[
        'device']
    plots = []
    for task in dict.fromkeys(r['task'] for r in records):
        plots += plot_task(task, [r for r in records if r['task'] == task],
                           out / 'plots')
    gains = recovered_gain(rows)
    text = _markdown(rows, gains, env, command, iters, repeats, skip, rho,
                     arsam, plots, out)
    report = dict(environment=env, command=command,
                  settings=dict(iters=iters, repeats=repeats, evals=evals,
                                skip=skip, rho=rho, arsam=arsam,
                                cfg_options=cfg_options or {},
                                targets=targets or {}),
                  rows=rows, recovered_gain=gains, records=records)
    (out / 'report.json').write_text(json.dumps(report, indent=1))
    (out / 'report.md').write_text(text)
    report['markdown'] = text
    report['paths'] = [str(out / 'report.json'), str(out / 'report.md')] + [
        str(p) for p in plots]
    return report


def _markdown(rows, gains, env, command, iters, repeats, skip, rho, arsam,
              plots, out) -> str:
    lines = [
        '# Benchmark: base optimizer vs SAM vs ARSAM', '',
        f"- date: {env['date']}",
        f"- device: {env['device']}; machine: {env['machine']}; "
        f"python {env['python']}",
        '- versions: ' + ', '.join(f'{k} {v}'
                                   for k, v in env['versions'].items()),
        f'- command: `{command}`',
        f'- settings: {iters} iterations per run, {repeats} seed(s), '
        f'first {skip} iterations left out of the timing, rho {rho}, '
        f'ARSAM {arsam}', '',
        markdown_table(rows), '',
        's/iter: mean over seeds of the mean step time (device synchronised '
        'around each step, validation excluded), ± the spread over seeds; '
        "x base: ratio to the task's base optimizer in this run. Peak "
        f"memory: {rows[0]['memory_kind'] if rows else '-'}. Metric: at the "
        'end of the run, mean ± spread over seeds.', ''
    ]
    if gains:
        lines += ['| task | SAM gain over base | ARSAM gain | share kept | '
                  'share per extra grad eval |', '|---|---|---|---|---|']
        for task, g in gains.items():
            lines.append(f"| {task} | {g['sam_gain']:.4f} | "
                         f"{g['arsam_gain']:.4f} | {g['share']:.2f} | "
                         f"{g['share_per_extra_eval']:.2f} |")
        lines.append('')
    for path in plots:
        lines.append(f'![{path.stem}]({osp.relpath(path, out)})')
    lines.append('')
    return '\n'.join(lines)
