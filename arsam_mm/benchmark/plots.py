"""PNG plots of a benchmark: metric vs wall-clock and vs gradient
evaluations, and ARSAM's SAM-step fraction and count ``n`` over
iterations."""
from pathlib import Path
from typing import Any, Dict, List

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from .report import metric_key  # noqa: E402

__all__ = ['plot_task']

_COLORS = dict(base='tab:gray', sam='tab:red', arsam='tab:blue',
               periodic='tab:green')


def plot_task(task: str, records: List[Dict[str, Any]],
              out_dir: Path) -> List[Path]:
    """Write the plots of one task; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    key = None
    for rec in records:
        res = rec['result']
        key = key or metric_key(res['evals'])
        if not res['evals'] or key is None:
            continue
        xs_t = [e['train_seconds'] for e in res['evals']]
        xs_g = [e['grad_evals'] for e in res['evals']]
        ys = [e['metrics'].get(key) for e in res['evals']]
        label = f"{rec['optimizer']} (seed {rec['seed']})"
        color = _COLORS.get(rec['optimizer'])
        axes[0].plot(xs_t, ys, marker='o', color=color, label=label,
                     alpha=0.8)
        axes[1].plot(xs_g, ys, marker='o', color=color, label=label,
                     alpha=0.8)
    axes[0].set_xlabel('training wall-clock (s)')
    axes[1].set_xlabel('gradient evaluations')
    for ax in axes:
        ax.set_ylabel(key or 'metric')
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.suptitle(f'{task}: {key} vs cost')
    fig.tight_layout()
    path = out_dir / f'{task}_metric.png'
    fig.savefig(path, dpi=110)
    plt.close(fig)
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
        fig.tight_layout()
        path = out_dir / f'{task}_arsam_schedule.png'
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
