"""The frontier: metric against cost for every budgeted method, per task.

Reads the rows of :func:`.report.aggregate` of a suite run with budgets and
answers three questions per task:

* which method is best at each budget, where its lead exceeds the spread;
* the cheapest budget at which each method reaches SAM's metric within
  SAM's spread;
* where the performance targets stand: some method within SAM's spread at
  no more than :data:`EVALS_TARGET` gradient evaluations per iteration,
  and ARSAM on the frontier (no method ahead of it beyond the spread at the
  same budget).

"Beyond the spread" compares two means against the larger of their two
standard deviations over seeds: ``a`` is ahead of ``b`` when
``mean_a - mean_b > max(sd_a, sd_b)``. One seed has no spread: such a
frontier names no method ahead of another and judges no target.
"""
from typing import Any, Dict, List, Optional

__all__ = ['EVALS_TARGET', 'ahead', 'analyse', 'frontier_markdown']

#: The gradient evaluations per iteration within which some method should
#: reach SAM's metric.
EVALS_TARGET = 1.3


def ahead(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    """Whether row ``a``'s metric beats ``b``'s beyond the spread (never
    when either has a single seed, which has no spread)."""
    if a['metric_sd'] is None or b['metric_sd'] is None:
        return False
    return a['metric_mean'] - b['metric_mean'] > max(a['metric_sd'],
                                                     b['metric_sd'])


def _reaches(row: Dict[str, Any], sam: Dict[str, Any]) -> bool:
    return row['metric_mean'] >= sam['metric_mean'] - (sam['metric_sd']
                                                       or 0.0)


def analyse(rows: List[Dict[str, Any]], task: str) -> Optional[Dict]:
    """The frontier of one task.

    Args:
        rows (list[dict]): Rows of :func:`.report.aggregate`.
        task (str): The task.

    Returns:
        dict: ``budgets``, ``methods``, ``cells`` (method -> budget ->
        row), ``base`` and ``sam`` rows, ``best`` (budget -> dict with
        ``leader``, ``best`` (the leader when it is ahead of every other
        method, else None) and ``within`` (methods within the leader's
        spread)), ``reaches_sam`` (method -> its cheapest row within SAM's
        spread, or None), ``cheapest`` (the row with the fewest gradient
        evaluations that reaches SAM, or None) and ``arsam_behind``
        (budget -> methods ahead of ARSAM beyond the spread), ``seeds``
        (per variant) and ``partial`` (variants left out with fewer
        seeds). None when the task has no budgeted rows with a metric.
    """
    mine = [r for r in rows if r['task'] == task
            and r['metric_mean'] is not None]
    # A variant with fewer seeds than the others (a suite cut short) has
    # no comparable spread: left out, and named.
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
    best = {}
    for budget in budgets:
        here = [cells[m][budget] for m in methods if budget in cells[m]]
        leader = max(here, key=lambda r: r['metric_mean'])
        others = [r for r in here if r is not leader]
        best[budget] = dict(
            leader=leader['optimizer'],
            best=(leader['optimizer'] if others and all(
                ahead(leader, r) for r in others) else None),
            within=[r['optimizer'] for r in others
                    if not ahead(leader, r)])
    sam = plain.get('sam')
    reaches, cheapest = {}, None
    if sam is not None:
        for method in methods:
            hits = [cells[method][b] for b in budgets
                    if b in cells[method] and _reaches(cells[method][b], sam)]
            reaches[method] = min(hits, key=lambda r: r['grad_evals_per_iter'],
                                  default=None)
        hits = [r for r in reaches.values() if r is not None]
        cheapest = min(hits, key=lambda r: r['grad_evals_per_iter'],
                       default=None)
    behind = {}
    if 'arsam' in cells:
        for budget in budgets:
            mine_ = cells['arsam'].get(budget)
            if mine_ is None:
                continue
            behind[budget] = [m for m in methods if m != 'arsam'
                              and budget in cells[m]
                              and ahead(cells[m][budget], mine_)]
    return dict(budgets=budgets, methods=methods, cells=cells,
                base=plain.get('base'), sam=sam, best=best,
                reaches_sam=reaches, cheapest=cheapest,
                arsam_behind=behind, partial=partial, seeds=seeds)


def _cell(row: Optional[Dict[str, Any]]) -> str:
    if row is None:
        return '-'
    sd = row['metric_sd']
    sd = f' ± {sd:.2g}' if sd is not None else ''
    cost = row.get('cost_x_base')
    cost = f', {cost:.2f}x' if cost is not None else ''
    return (f"{row['metric_mean']:.4g}{sd} "
            f"({row['grad_evals_per_iter']:.2f} evals{cost})")


def frontier_markdown(result: Dict[str, Any], task: str) -> str:
    """The frontier of one task (:func:`analyse`) as Markdown."""
    budgets, cells = result['budgets'], result['cells']
    metric = next(iter(next(iter(cells.values())).values()))['metric']
    lines = [
        f'### {task}: {metric} against cost', '',
        'Each cell: final metric, mean ± sd over seeds (gradient '
        'evaluations per iteration, measured; cost per iteration in base '
        'steps, derived from the passes and the step costs).', '',
        '| method | ' + ' | '.join(f'budget {b:g}' for b in budgets) + ' |',
        '|---|' + '---|' * len(budgets)
    ]
    for name in ('base', 'sam'):
        if result[name] is not None:
            lines.append(f'| {name} (no budget) | {_cell(result[name])} |' +
                         ' |' * (len(budgets) - 1))
    for method, by in cells.items():
        lines.append(f'| {method} | ' +
                     ' | '.join(_cell(by.get(b)) for b in budgets) + ' |')
    if result.get('partial'):
        lines += ['', 'Left out (fewer seeds than the others, the suite '
                  'was cut short): ' + ', '.join(result['partial']) + '.']
    if result['seeds'] < 2:
        lines += ['', '**One seed per method: no spread**, so this frontier '
                  'names no method ahead of another and judges no target: '
                  'one run per method cannot tell a method\'s effect from '
                  'its seed\'s. Run `--repeats 3` or more to read it.', '']
        return '\n'.join(lines)
    lines += ['', '| budget | best (ahead of every other method beyond the '
              'spread) | leader | within the leader\'s spread |',
              '|---|---|---|---|']
    for budget, entry in result['best'].items():
        lines.append(
            f"| {budget:g} | {entry['best'] or 'none'} | {entry['leader']} "
            f"| {', '.join(entry['within']) or '-'} |")
    sam, base = result['sam'], result['base']
    if sam is not None and base is not None and not ahead(sam, base):
        lines += ['', '**SAM does not beat the base optimizer beyond the '
                  f"spread on this task** ({sam['metric_mean']:.4g} vs "
                  f"{base['metric_mean']:.4g}): reaching SAM below says only "
                  'that a method does not lose to SAM, not that it keeps a '
                  'gain.']
    if sam is not None:
        sd = sam['metric_sd'] or 0.0
        lines += ['', f"Reaching SAM ({sam['metric_mean']:.4g} ± {sd:.2g}, "
                  f"{sam['grad_evals_per_iter']:.2f} evals) within its "
                  'spread, cheapest budget per method:', '']
        for method, row in result['reaches_sam'].items():
            text = ('not at any budget run' if row is None else
                    f"budget {row['budget']:g} "
                    f"({row['grad_evals_per_iter']:.2f} evals, "
                    f"{row['metric_mean']:.4g})")
            lines.append(f'- {method}: {text}')
        cheapest = result['cheapest']
        hit = (cheapest is not None and
               cheapest['grad_evals_per_iter'] <= EVALS_TARGET)
        lines += ['', f'Target: some method within SAM\'s spread at <= '
                  f'{EVALS_TARGET} gradient evaluations per iteration: '
                  + ('met' if hit else 'not met') + (
                      f" ({cheapest['label']}, "
                      f"{cheapest['grad_evals_per_iter']:.2f} evals)"
                      if cheapest is not None else
                      ' (no method reached SAM)') + '.']
    behind = result['arsam_behind']
    if behind:
        missed = {b: m for b, m in behind.items() if m}
        text = ('met: no method is ahead of ARSAM beyond the spread at any '
                'budget' if not missed else 'not met: ' + '; '.join(
                    f"at budget {b:g} {', '.join(m)} ahead"
                    for b, m in missed.items()))
        lines += ['', f'Target: ARSAM on the frontier: {text}.']
    lines.append('')
    return '\n'.join(lines)
