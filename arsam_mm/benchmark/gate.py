"""SAM against the base optimizer, paired by seed, straight from a suite's
records: the gate a setting search judges (``tools/sam_gate.py``).

A frontier (:mod:`.frontier`) tests SAM's gain over the base optimizer as
its gate; a search over settings runs only those two and needs the same
test on three figures per run:

- ``val_best``: the best validation metric of the run, the figure a
  search selects a setting on (val only);
- ``test_final``: the final checkpoint's test metric;
- ``test_best_val``: the test metric at the best-on-val checkpoint
  (:func:`.report.best_on_val`), where the targets are judged
  (:func:`.report.checkpoint_scores` gives all three).

Each is SAM minus the base optimizer over the seeds both ran, as the
two-variant case of the frontier's seed x variant model (a paired t test),
optionally restricted to some seeds: a search selects on some seeds and
confirms on fresh ones.
"""
from typing import Any, Dict, Iterable, List, Optional

from .report import checkpoint_scores, metric_key
from .stats import TwoWay

__all__ = ['GATE_FIGURES', 'GATE_WORDS', 'sam_gate']

#: The figures :func:`sam_gate` tests, in the order it reports them.
GATE_FIGURES = ('val_best', 'test_final', 'test_best_val')
#: How each figure is named in a table.
GATE_WORDS = {
    'val_best': 'val, best of the run (selection)',
    'test_final': 'test, final checkpoint',
    'test_best_val': 'test, best-on-val checkpoint',
}


def sam_gate(records: List[Dict[str, Any]],
             seeds: Optional[Iterable[int]] = None
             ) -> Dict[str, Dict[str, Any]]:
    """SAM minus the base optimizer per task, on :data:`GATE_FIGURES`.

    Args:
        records (list[dict]): The ``records`` of a suite's
            ``records.json``; runs other than the unbudgeted ``base`` and
            ``sam`` ones are ignored.
        seeds (Iterable[int], optional): Use only these seeds (a
            confirmation on fresh seeds). Default: every seed both ran.

    Returns:
        dict: Task -> ``metric`` (the validation metric's name) and, per
        figure that both variants recorded on at least 2 shared seeds,
        figure -> ``base`` and ``sam`` (means), ``mean``, ``lo``, ``hi``
        (SAM - base with its 95% interval), ``p`` (two-sided) and
        ``seeds``. Tasks without both variants are left out.

    Raises:
        ValueError: When ``seeds`` is given but empty.
    """
    wanted = None if seeds is None else {int(s) for s in seeds}
    if wanted is not None and not wanted:
        raise ValueError('seeds must name at least one seed, got none')
    values: Dict[str, Dict[str, Dict[str, Dict[int, float]]]] = {}
    names: Dict[str, Optional[str]] = {}
    for r in records:
        if (r['optimizer'] not in ('base', 'sam')
                or r.get('budget') is not None):
            continue
        if wanted is not None and r['seed'] not in wanted:
            continue
        evals = r['result']['evals']
        key = metric_key(evals)
        names.setdefault(r['task'], key)
        scores = {} if key is None else checkpoint_scores(evals, key)
        if scores.get('val_best') is None:  # no validation selects
            continue
        for figure in GATE_FIGURES:
            value = scores[figure]
            if value is not None:
                values.setdefault(r['task'], {}).setdefault(
                    figure, {}).setdefault(r['optimizer'],
                                           {})[int(r['seed'])] = value
    out = {}
    for task, figures in values.items():
        entry: Dict[str, Any] = dict(metric=names[task])
        for figure in GATE_FIGURES:
            table = figures.get(figure, {})
            if set(table) != {'base', 'sam'} or len(
                    set(table['base']) & set(table['sam'])) < 2:
                continue
            model = TwoWay(table)
            est = model.contrast({'sam': 1.0, 'base': -1.0})
            entry[figure] = dict(base=model.means['base'],
                                 sam=model.means['sam'], mean=est.mean,
                                 lo=est.lo, hi=est.hi, p=est.p,
                                 seeds=model.seeds)
        if len(entry) > 1:
            out[task] = entry
    return out
