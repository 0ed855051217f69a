"""PNG plots of a benchmark: metric vs wall-clock and vs gradient
evaluations, ARSAM's SAM-step fraction and count ``n`` over iterations,
and, for a suite with budgets, the frontier: final metric against gradient
evaluations and against derived cost, per method; for runs that scored a
test split, the validation and test curves per method."""
from pathlib import Path
from typing import Any, Dict, List, Optional

import matplotlib
import numpy as np

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from .. import family  # noqa: E402
from .report import metric_key, test_key  # noqa: E402
from .variants import variant_label  # noqa: E402

__all__ = ['plot_task', 'plot_frontier', 'plot_val_test']

#: Each member's colour (:data:`arsam_mm.family.FAMILY`).
_COLORS = family.colors()


def _curves(runs: List[Dict[str, Any]], key: str):
    """Mean over seeds, per validation, of wall-clock, gradient
    evaluations, iteration and metric, and the metric's sample standard
    deviation."""
    evals = [r['result']['evals'] for r in runs]
    n = min(len(e) for e in evals)
    mean = {}
    for field in ('train_seconds', 'grad_evals', 'iter'):
        mean[field] = np.array([[e[i][field] for i in range(n)]
                                for e in evals], dtype=float).mean(0)
    ys = np.array([[e[i]['metrics'].get(key, np.nan) for i in range(n)]
                   for e in evals], dtype=float)
    sd = ys.std(0, ddof=1) if len(runs) > 1 else np.zeros(n)
    return mean, ys.mean(0), sd  # sample sd, as the report's table


def _plot_metric(task: str, records: List[Dict[str, Any]], key: str,
                 path: Path) -> None:
    """Metric vs wall-clock, vs gradient evaluations, and (zoomed) over the
    second half of the run: mean over seeds with a band of +- one standard
    deviation, each seed faint."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    late = []
    for optimizer in dict.fromkeys(r['optimizer'] for r in records):
        runs = [r for r in records if r['optimizer'] == optimizer
                and r['result']['evals']]
        if not runs:
            continue
        color = _COLORS.get(optimizer)
        label = variant_label(optimizer, None, runs[0].get('interval'))
        label += f' ({len(runs)} seed{"s" if len(runs) > 1 else ""})'
        mean, y, sd = _curves(runs, key)
        half = mean['iter'] >= mean['iter'][-1] / 2
        late += list(y[half] - sd[half]) + list(y[half] + sd[half])
        for ax, field in zip(axes, ('train_seconds', 'grad_evals', 'iter')):
            ax.plot(mean[field], y, marker='o', markersize=3, color=color,
                    label=label)
            ax.fill_between(mean[field], y - sd, y + sd, color=color,
                            alpha=0.15, linewidth=0)
            if len(runs) > 1 and field != 'iter':
                for r in runs:
                    ev = r['result']['evals']
                    ax.plot([e[field] for e in ev],
                            [e['metrics'].get(key) for e in ev],
                            color=color, alpha=0.2, linewidth=0.8)
    for ax, xlabel in zip(axes, ('training wall-clock (s)',
                                 'gradient evaluations',
                                 'iteration (second half, zoomed)')):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    late = [v for v in late if np.isfinite(v)]
    if late:
        low, high = min(late), max(late)
        pad = max(0.1 * (high - low), 1e-3 * max(abs(high), 1.0))
        axes[2].set_ylim(low - pad, high + pad)
        axes[2].set_xlim(left=min(
            [r['result']['evals'][-1]['iter'] for r in records
             if r['result']['evals']]) / 2)
    axes[2].legend(fontsize=7)
    fig.suptitle(f'{task}: {key}, mean over seeds (band: +- 1 sd)')
    _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Lay out, write (PNG, 110 dpi) and close a figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_task(task: str, records: List[Dict[str, Any]],
              out_dir: Path) -> List[Path]:
    """Write the plots of one task; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    key = next((metric_key(r['result']['evals']) for r in records
                if r['result']['evals']), None)
    # The curves of the runs without a budget (a frontier has its own plot).
    records = [r for r in records if r.get('budget') is None]
    if key is not None and records:
        path = out_dir / f'{task}_metric.png'
        _plot_metric(task, records, key, path)
        paths.append(path)

    arsam = [r for r in records if r['optimizer'] == 'arsam']
    if arsam:
        fig, ax = plt.subplots(figsize=(6, 3.4))
        twin = ax.twinx()
        for rec in arsam:
            sam = rec['result']['sam']
            frac = [sum(sam[:i + 1]) / (i + 1) for i in range(len(sam))]
            ax.plot(frac, color='tab:blue', alpha=0.8)
            counts = rec['result']['count']
            twin.plot([c if c is not None else float('nan') for c in counts],
                      color='tab:orange', alpha=0.8, linestyle='--')
        ax.set_xlabel('iteration')
        ax.set_ylabel('running SAM-step fraction', color='tab:blue')
        twin.set_ylabel('window target n', color='tab:orange')
        ax.set_title(f'{task}: ARSAM schedule')
        paths.append(_save(fig, out_dir / f'{task}_arsam_schedule.png'))
    return paths


def plot_frontier(task: str, result: Dict[str, Any],
                  out_dir: Path) -> Optional[Path]:
    """Final metric (mean, error bar one sd over seeds) against gradient
    evaluations per iteration and against derived cost, one line per
    budgeted method across its budgets; base and SAM as points, SAM's
    spread as a band.

    Args:
        task (str): The task.
        result (dict): :func:`.frontier.analyse` of the task.
        out_dir (Path): Where the PNG goes.

    Returns:
        Path: The plot.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    costs = any(r.get('cost_x_base') is not None
                for by in result['cells'].values() for r in by.values())
    fields = [('grad_evals_per_iter', 'gradient evaluations per iteration')]
    if costs:
        fields.append(('cost_x_base', 'cost per iteration, base steps '
                       '(derived)'))
    fig, axes = plt.subplots(1, len(fields), figsize=(6.5 * len(fields), 4.2),
                             squeeze=False)
    metric = None
    for ax, (field, xlabel) in zip(axes[0], fields):
        for method, by in result['cells'].items():
            rows = [by[b] for b in sorted(by)]
            metric = rows[0]['metric']
            xs = [r.get(field) for r in rows]
            if None in xs:
                continue
            ax.errorbar(xs, [r['metric_mean'] for r in rows],
                        yerr=[r['metric_sd'] or 0.0 for r in rows],
                        marker='o', markersize=4, capsize=3,
                        color=_COLORS.get(method), label=method)
            for r, x in zip(rows, xs):
                ax.annotate(f"{r['budget']:g}", (x, r['metric_mean']),
                            fontsize=6, xytext=(2, 2),
                            textcoords='offset points')
        for name, marker in (('base', 's'), ('sam', 'D')):
            row = result[name]
            if row is None or row.get(field) is None:
                continue
            ax.errorbar([row[field]], [row['metric_mean']],
                        yerr=[row['metric_sd'] or 0.0], marker=marker,
                        capsize=3, color=_COLORS[name], linestyle='none',
                        label=name)
        sam = result['sam']
        if sam is not None:
            sd = sam['metric_sd'] or 0.0
            ax.axhspan(sam['metric_mean'] - sd, sam['metric_mean'] + sd,
                       color=_COLORS['sam'], alpha=0.1, linewidth=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric or 'metric')
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f'{task}: final {metric} against cost (labels: budget; '
                 'band: SAM +- 1 sd)', fontsize=9)
    return _save(fig, out_dir / f'{task}_frontier.png')


def plot_val_test(task: str, records: List[Dict[str, Any]],
                  out_dir: Path) -> Optional[Path]:
    """The validation and test curves of a task's runs that scored a test
    split: the metric against the iteration, mean over seeds per method,
    validation (left) and test (right); one row for the runs without a
    budget and one per budget (with base and SAM drawn in each).

    Args:
        task (str): The task.
        records (list[dict]): The task's records.
        out_dir (Path): Where the PNG goes.

    Returns:
        Path: The plot; None when no run recorded a test metric.
    """
    key = next((metric_key(r['result']['evals']) for r in records
                if r['result']['evals']), None)
    tkey = test_key(key)
    records = [r for r in records if any(
        tkey in ev['metrics'] for ev in r['result']['evals'])]
    if key is None or not records:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    plain = [r for r in records if r.get('budget') is None]
    budgets = sorted({r['budget'] for r in records
                      if r.get('budget') is not None})
    groups = ([(None, plain)] if plain else []) + [
        (b, [r for r in records if r.get('budget') == b] + [
            r for r in plain if r['optimizer'] in ('base', 'sam')])
        for b in budgets]
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.2 * len(groups)),
                             squeeze=False, sharey='row')
    for (budget, runs), row in zip(groups, axes):
        for optimizer in dict.fromkeys(r['optimizer'] for r in runs):
            mine = [r for r in runs if r['optimizer'] == optimizer]
            label = f'{optimizer} ({len(mine)} seed' + (
                's)' if len(mine) > 1 else ')')
            for ax, name in zip(row, (key, tkey)):
                mean, y, _ = _curves(mine, name)
                ax.plot(mean['iter'], y, marker='o', markersize=3,
                        color=_COLORS.get(optimizer), label=label)
        title = 'no budget' if budget is None else f'budget {budget:g}'
        for ax, (name, split) in zip(row, ((key, 'val'), (tkey, 'test'))):
            ax.set_title(f'{title}: {split}', fontsize=9)
            ax.set_xlabel('iteration')
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
        row[1].legend(fontsize=7)
    fig.suptitle(f'{task}: {key} on val and test at every validation, mean '
                 'over seeds', fontsize=9)
    return _save(fig, out_dir / f'{task}_val_test.png')
