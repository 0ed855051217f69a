"""The frontier: metric against cost for every budgeted method, per task.

Reads the rows of :func:`.report.aggregate` of a suite run with budgets and
answers, per task, with paired statistics (:mod:`.stats`):

* at each budget, each method minus the base optimizer, each method minus
  SAM and ARSAM minus each rival, as a mean with a 95% interval, and which
  variant is ahead where the difference is significant after Holm's
  correction over those comparisons (the budget's family);
* whether SAM beats the base optimizer (the gate) and, only where it does,
  which methods keep at least half of SAM's gain, with the share they keep;
* where the performance targets stand: some method keeping at least
  :data:`TARGET_SHARE` of SAM's gain (its estimated share, with the
  interval) at no more than :data:`EVALS_TARGET` gradient evaluations per
  iteration, and ARSAM on the frontier (no rival significantly ahead of it
  at any budget). The report judges them on the test split at the
  best-on-val checkpoint where the runs scored one.

The seeds pair the runs: every variant of seed ``s`` starts from the same
weights and sees the same batches. The additive seed x variant model
(:class:`.stats.TwoWay`) of the final metric of every variant of the task
on the seeds they all ran removes the seed's effect and pools the
run-to-run spread of all variants. A variant with fewer seeds than the
others (a suite cut short) is left out. With fewer than 2 shared seeds
there is no run-to-run spread: the frontier names no method ahead of
another and judges no target.

Methods are compared at the same nominal budget: periodic SAM and LookSAM
take ``interval = round(1 / budget)``, e.g. a third of the steps at budget
0.3 against ARSAM's 0.300, so equal budgets are not equal measured costs
(the table gives each cell's measured gradient evaluations).

The frontier's Markdown is :func:`.markdown.frontier.frontier_markdown`.
"""
from typing import Any, Dict, List, Optional

from .report import FRONTIER_METRICS
from .stats import TwoWay, holm, seeds_for_power

__all__ = ['ALPHA', 'EVALS_TARGET', 'KEEP_SHARE', 'TARGET_SHARE', 'analyse']

#: The gradient evaluations per iteration within which some method should
#: keep SAM's gain.
EVALS_TARGET = 1.3

#: Family-wise level of each budget's comparisons, of the gate and of the
#: tests of keeping SAM's gain.
ALPHA = 0.05

#: The share of SAM's gain over the base optimizer a method must keep
#: (one-sided test) to be said to keep it.
KEEP_SHARE = 0.5

#: The share of SAM's gain the performance target asks some method to keep
#: (its estimated share) within :data:`EVALS_TARGET`.
TARGET_SHARE = 0.9


def _by_seed(row: Dict[str, Any]) -> Dict[int, float]:
    return {int(seed): value for seed, value in row.get('metric_by_seed')
            or []}


def _compare(model: TwoWay, kind: str, a: Dict[str, Any],
             b: Dict[str, Any]) -> Dict[str, Any]:
    est = model.contrast({a['label']: 1.0, b['label']: -1.0})
    return dict(kind=kind, a=a['label'], b=b['label'], mean=est.mean,
                lo=est.lo, hi=est.hi, p=est.p, sd=est.sd)


def _family(model: TwoWay, here: Dict[str, Dict[str, Any]],
            refs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One budget's comparisons, Holm-adjusted together."""
    family = [_compare(model, ref['optimizer'], row, ref)
              for row in here.values() for ref in refs]
    if 'arsam' in here:
        family += [_compare(model, 'rival', here['arsam'], row)
                   for method, row in here.items() if method != 'arsam']
    for comp, p_holm in zip(family, holm([c['p'] for c in family])):
        called = p_holm < ALPHA
        comp.update(
            p_holm=p_holm,
            ahead=(comp['a'] if comp['mean'] > 0 else comp['b'])
            if called else None,
            seeds_needed=None if called else seeds_for_power(
                comp['mean'], comp['sd']))
    return family


def _keeps(model: TwoWay, here: Dict[str, Dict[str, Any]],
           base: Dict[str, Any], sam: Dict[str, Any]
           ) -> Dict[str, Dict[str, Any]]:
    """Per method at one budget: the share of SAM's gain it keeps (Fieller
    interval) and the one-sided test that it keeps more than
    :data:`KEEP_SHARE` of it, Holm-adjusted over the budget's methods."""
    b, s = base['label'], sam['label']
    out = {}
    for method, row in here.items():
        m = row['label']
        share = model.ratio({m: 1.0, b: -1.0}, {s: 1.0, b: -1.0})
        test = model.contrast({m: 1.0, b: KEEP_SHARE - 1.0,
                               s: -KEEP_SHARE})
        out[method] = dict(share=share.value, lo=share.lo, hi=share.hi,
                           p=test.p_greater)
    adjusted = holm([k['p'] for k in out.values()])
    for entry, p_holm in zip(out.values(), adjusted):
        entry.update(p_holm=p_holm, keeps=p_holm < ALPHA)
    return out


def _scored(row: Dict[str, Any], metric: str) -> Dict[str, Any]:
    """``row`` with ``metric``'s mean, sd and per-seed values as its
    ``metric_mean``, ``metric_sd`` and ``metric_by_seed`` (None where its
    runs did not record it)."""
    if metric == 'metric':
        return row
    if f'{metric}_mean' not in row:
        return dict(row, metric_mean=None, metric_sd=None,
                    metric_by_seed=[])
    what = 'final' if metric == 'test_final' else 'at best val'
    return dict(row, metric=f"{row['test_metric']} ({what})",
                metric_mean=row[f'{metric}_mean'],
                metric_sd=row[f'{metric}_sd'],
                metric_by_seed=row[f'{metric}_by_seed'])


def analyse(rows: List[Dict[str, Any]], task: str,
            metric: str = 'metric') -> Optional[Dict]:
    """The frontier of one task.

    Args:
        rows (list[dict]): Rows of :func:`.report.aggregate` (with
            ``metric_by_seed``).
        task (str): The task.
        metric (str): What it scores, one of
            :data:`~.report.FRONTIER_METRICS`: the final validation metric
            (``'metric'``, the default), or on the test split the final
            checkpoint's (``'test_final'``) or the best-on-val
            checkpoint's (``'test_best_val'``) metric.

    Returns:
        dict: ``budgets``, ``methods``, ``cells`` (method -> budget ->
        row), ``base`` and ``sam`` rows, ``seeds`` (per variant),
        ``partial`` (variants left out with fewer seeds) and ``model``
        (``sd``, ``df``, ``seeds`` of the two-way model; None with fewer
        than 2 seeds shared by every variant, and then every verdict below
        is empty or None): ``comparisons`` (budget -> list of dicts
        ``kind`` ('base', 'sam' or 'rival': ARSAM minus a rival), ``a``,
        ``b`` (labels), ``mean``, ``lo``, ``hi`` (95% interval of a - b),
        ``p``, ``p_holm``, ``sd`` (per seed), ``ahead`` (the label ahead,
        or None) and ``seeds_needed`` (for 80% power, where not called)),
        ``gate`` (SAM minus base: ``mean``, ``lo``, ``hi``, ``p``,
        ``passed``; None without both), ``keeps`` (budget -> method ->
        ``share``, ``lo``, ``hi``, ``p``, ``p_holm``, ``keeps``; empty
        unless the gate passed), ``keeps_half`` (method -> its cheapest row
        keeping at least half of SAM's gain, or None), ``cheapest`` (the
        row with the fewest gradient evaluations that does, or None),
        ``target`` (the method and budget within :data:`EVALS_TARGET`
        gradient evaluations per iteration keeping the largest estimated
        share of SAM's gain: ``label``, ``evals``, ``share``, ``lo``,
        ``hi``, ``met`` (share >= :data:`TARGET_SHARE`); None unless the
        gate passed and some method ran within it), ``arsam_behind`` and
        ``arsam_ahead`` (budget -> rivals ahead of ARSAM, and behind it),
        ``scored`` (``metric``). None when the task has no budgeted rows
        with the metric.
    """
    if metric not in FRONTIER_METRICS:
        raise ValueError(f'metric must be one of {FRONTIER_METRICS}, got '
                         f'{metric!r}')
    mine = [_scored(r, metric) for r in rows if r['task'] == task]
    mine = [r for r in mine if r['metric_mean'] is not None]
    # A variant with fewer seeds than the others (a suite cut short) is
    # not paired with them: left out, and named.
    seeds = max((r['seeds'] for r in mine), default=0)
    partial = [r['label'] for r in mine if r['seeds'] < seeds]
    mine = [r for r in mine if r['seeds'] == seeds]
    budgeted = [r for r in mine if r.get('budget') is not None]
    if not budgeted:
        return None
    plain = {r['optimizer']: r for r in mine if r.get('budget') is None}
    budgets = sorted({r['budget'] for r in budgeted})
    methods = list(dict.fromkeys(r['optimizer'] for r in budgeted))
    cells: Dict[str, Dict[float, Dict[str, Any]]] = {}
    for r in budgeted:
        cells.setdefault(r['optimizer'], {})[r['budget']] = r
    base, sam = plain.get('base'), plain.get('sam')
    result = dict(budgets=budgets, methods=methods, cells=cells, base=base,
                  sam=sam, partial=partial, seeds=seeds, scored=metric,
                  model=None,
                  comparisons={}, gate=None, keeps={}, keeps_half={},
                  cheapest=None, target=None, arsam_behind={},
                  arsam_ahead={})
    table = {r['label']: _by_seed(r) for r in mine}
    shared = set.intersection(*(set(v) for v in table.values()))
    if len(shared) < 2:
        return result
    model = TwoWay(table)
    result['model'] = dict(sd=model.sd, df=model.df, seeds=model.seeds)
    refs = [r for r in (base, sam) if r is not None]
    if base is not None and sam is not None:
        est = model.contrast({sam['label']: 1.0, base['label']: -1.0})
        result['gate'] = dict(mean=est.mean, lo=est.lo, hi=est.hi, p=est.p,
                              passed=est.p < ALPHA and est.mean > 0)
    passed = result['gate'] is not None and result['gate']['passed']
    for budget in budgets:
        here = {m: cells[m][budget] for m in methods if budget in cells[m]}
        family = _family(model, here, refs)
        result['comparisons'][budget] = family
        if 'arsam' in here:
            label = here['arsam']['label']
            by = {c['b']: c for c in family if c['kind'] == 'rival'}
            result['arsam_behind'][budget] = [
                m for m, r in here.items() if m != 'arsam'
                and by[r['label']]['ahead'] == r['label']]
            result['arsam_ahead'][budget] = [
                m for m, r in here.items() if m != 'arsam'
                and by[r['label']]['ahead'] == label]
        if passed:
            result['keeps'][budget] = _keeps(model, here, base, sam)
    if passed:
        for method in methods:
            hits = [cells[method][b] for b in budgets
                    if method in result['keeps'][b]
                    and result['keeps'][b][method]['keeps']]
            result['keeps_half'][method] = min(
                hits, key=lambda r: r['grad_evals_per_iter'], default=None)
        hits = [r for r in result['keeps_half'].values() if r is not None]
        result['cheapest'] = min(hits, key=lambda r: r['grad_evals_per_iter'],
                                 default=None)
        result['target'] = _target(cells, result['keeps'])
    return result


def _target(cells: Dict[str, Dict[float, Dict[str, Any]]],
            keeps: Dict[float, Dict[str, Dict[str, Any]]]
            ) -> Optional[Dict[str, Any]]:
    """The cell within :data:`EVALS_TARGET` gradient evaluations per
    iteration keeping the largest estimated share of SAM's gain, or None."""
    within = [(cells[m][b], k) for b, by in keeps.items()
              for m, k in by.items()
              if cells[m][b]['grad_evals_per_iter'] <= EVALS_TARGET]
    if not within:
        return None
    row, k = max(within, key=lambda t: t[1]['share'])
    return dict(label=row['label'], evals=row['grad_evals_per_iter'],
                share=k['share'], lo=k['lo'], hi=k['hi'],
                met=k['share'] >= TARGET_SHARE)
