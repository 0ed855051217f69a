"""Turn per-run records into the benchmark's rows and summaries: the rows
of the main table, the share of SAM's gain each member keeps, the load
the runs saw (their Markdown: :mod:`.markdown`)."""
import math
import os
import statistics
from typing import Any, Dict, List, Optional, Sequence

from ..engine.loops import TEST_PREFIX
from ..family import gain_members
from .step_cost import derived_cost
from .variants import OPTIMIZERS, variant_label
from .worker import METRIC_KEYS

__all__ = [
    'aggregate', 'metric_key', 'recovered_gain', 'best_on_val', 'test_key',
    'checkpoint_scores', 'load_report', 'LOAD_MARGIN', 'FRONTIER_METRICS'
]

#: What a frontier can score (:func:`.frontier.analyse`'s ``metric``): the
#: final validation metric (``'metric'``, the reports before test splits),
#: the final checkpoint's test metric, or the test metric at the
#: validation with the best validation metric.
FRONTIER_METRICS = ('metric', 'test_final', 'test_best_val')


def _mean_sd(values: Sequence[float]):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    mean = statistics.fmean(values)
    # one value has no spread (None), not a spread of 0
    sd = statistics.stdev(values) if len(values) > 1 else None
    return mean, sd


def metric_key(evals: List[Dict[str, Any]]) -> Optional[str]:
    """The headline validation metric key present in a run's validations
    (never a test metric, :func:`test_key`)."""
    if not evals:
        return None
    names = [n for n in evals[-1]['metrics']
             if not n.startswith(TEST_PREFIX + '/')]
    for key in METRIC_KEYS:
        for name in names:
            if name == key or name.endswith('/' + key):
                return name
    return next(iter(names), None)


def test_key(key: Optional[str]) -> Optional[str]:
    """The name under which a run that scored its test split
    (:class:`~arsam_mm.engine.loops.ValTestLoop`) records validation metric
    ``key`` on the test split."""
    return None if key is None else f'{TEST_PREFIX}/{key}'


def best_on_val(evals: List[Dict[str, Any]], key: str) -> Optional[int]:
    """The index of the validation with the highest ``key`` (the
    earliest among ties); None when no validation recorded it.

    Selection looks at validation metrics only; the test metric recorded
    at that validation is then the best-on-val checkpoint's test figure.
    """
    best = None
    for i, ev in enumerate(evals):
        value = ev['metrics'].get(key)
        if value is None or math.isnan(value):
            continue
        if best is None or value > evals[best]['metrics'][key]:
            best = i
    return best


def checkpoint_scores(evals: List[Dict[str, Any]],
                      key: str) -> Dict[str, Optional[float]]:
    """One run's figures at its two checkpoints, from its validations.

    Args:
        evals (list[dict]): The run's validations (``iter``, ``metrics``).
        key (str): The validation metric that selects (:func:`metric_key`).

    Returns:
        dict: ``val_best`` (the best ``key``, at :func:`best_on_val`),
        ``best_val_iter`` (its iteration), ``test_best_val`` (the test
        metric there) and ``test_final`` (the last validation's test
        metric); each None where the run did not record it.
    """
    tkey = test_key(key)
    best = best_on_val(evals, key)
    at_best = {} if best is None else evals[best]
    return dict(val_best=at_best.get('metrics', {}).get(key),
                best_val_iter=at_best.get('iter'),
                test_best_val=at_best.get('metrics', {}).get(tkey),
                test_final=evals[-1]['metrics'].get(tkey) if evals else None)


def _test_scores(row: Dict[str, Any], runs: List[Dict[str, Any]],
                 seeds: List[int]) -> None:
    """Add to ``row``, when its runs scored a test split, the per-run
    ``test_final`` (the last validation's test metric), ``test_best_val``
    (the test metric at :func:`best_on_val`) and ``best_val_iter`` (that
    validation's iteration; :func:`checkpoint_scores`), in the order of
    ``run_seeds``, with the mean, spread and ``[seed, value]`` list
    (``*_by_seed``, sorted) of both figures."""
    key, tkey = row['metric'], test_key(row['metric'])
    if key is None or not any(tkey in ev['metrics']
                              for r in runs for ev in r['evals']):
        return
    scores = [checkpoint_scores(r['evals'], key) for r in runs]
    finals = [s['test_final'] for s in scores]
    bests = [s['test_best_val'] for s in scores]
    iters = [s['best_val_iter'] for s in scores]
    row.update(test_metric=tkey, run_seeds=seeds, test_final=finals,
               test_best_val=bests, best_val_iter=iters)
    if runs[0].get('split_sizes'):
        row['split_sizes'] = runs[0]['split_sizes']
    for name, values in (('test_final', finals), ('test_best_val', bests)):
        row[f'{name}_mean'], row[f'{name}_sd'] = _mean_sd(values)
        # as metric_by_seed, for the frontier's paired statistics
        row[f'{name}_by_seed'] = sorted(
            [seed, value] for seed, value in zip(seeds, values)
            if value is not None)


def _time_to_target(evals, key, target) -> Optional[float]:
    for ev in evals:
        value = ev['metrics'].get(key)
        if value is not None and value >= target:
            return ev['train_seconds']
    return None


def aggregate(records: List[Dict[str, Any]], skip: int = 3,
              targets: Optional[Dict[str, float]] = None,
              step_costs: Optional[Dict[str, Dict[str, Any]]] = None
              ) -> List[Dict[str, Any]]:
    """One row per (task, optimizer, budget): tasks in the order first
    seen, then the runs without a budget and each budget in increasing
    order, optimizers in the order of :data:`~.variants.OPTIMIZERS` (runs
    finish in any order when several run at once).

    Args:
        records (list[dict]): ``task``, ``optimizer``, ``seed``,
            ``interval``, ``budget`` (optional) and ``result`` (from
            :func:`worker.run_one`).
        skip (int): Leading iterations left out of the timing.
        targets (dict, optional): Metric value to reach, per task.
        step_costs (dict, optional): Per task, the step costs of
            :func:`.step_cost.measure_config`; they price each run's passes
            (``cost_x_base``, ``cost_sec_per_iter``).

    Returns:
        list[dict]: The rows; wall-clock ratios (``time_ratio``) and
        derived costs are to the task's ``base``. ``metric_by_seed`` lists
        ``[seed, final metric]`` per run, by seed.
    """
    rows: Dict[tuple, Dict[str, Any]] = {}
    for rec in records:
        budget = rec.get('budget')
        key = (rec['task'], rec['optimizer'], budget)
        row = rows.setdefault(key, dict(
            task=rec['task'], optimizer=rec['optimizer'], budget=budget,
            interval=rec.get('interval'),
            label=variant_label(rec['optimizer'], budget,
                                rec.get('interval')),
            runs=[]))
        row['runs'].append(rec['result'])
        row.setdefault('run_seeds', []).append(rec['seed'])
    tasks = list(dict.fromkeys(key[0] for key in rows))

    def order(key):
        task, optimizer, budget = key
        rank = OPTIMIZERS.index(optimizer) if optimizer in OPTIMIZERS \
            else len(OPTIMIZERS)
        return (tasks.index(task), budget is not None, budget or 0, rank)

    out = []
    for key in sorted(rows, key=order):
        (task, optimizer, _), row = key, rows[key]
        runs = row.pop('runs')
        run_seeds = row.pop('run_seeds')
        sec = [statistics.fmean(r['seconds'][skip:] or r['seconds'])
               for r in runs]
        row['sec_per_iter'], row['sec_sd'] = _mean_sd(sec)
        row['grad_evals_per_iter'] = statistics.fmean(
            r['grad_evals'][-1] / len(r['seconds']) for r in runs)
        row['sam_fraction'] = statistics.fmean(
            sum(r['sam']) / len(r['sam']) for r in runs)
        costs = (step_costs or {}).get(task)
        row['cost_x_base'] = row['cost_sec_per_iter'] = None
        if costs:
            priced = [derived_cost(r['grad_evals'], optimizer,
                                   costs['x_base']) for r in runs]
            if None not in priced:
                row['cost_x_base'] = statistics.fmean(priced)
                row['cost_sec_per_iter'] = (row['cost_x_base'] *
                                            costs['median_s']['base'])
        row['peak_memory_mib'], _ = _mean_sd(
            [r['peak_memory_mib'] for r in runs])
        row['memory_kind'] = runs[0]['memory_kind']
        row['device'] = runs[0]['device']
        key = metric_key(runs[0]['evals'])
        row['metric'] = key
        finals = [r['evals'][-1]['metrics'].get(key) if r['evals'] else None
                  for r in runs]
        row['metric_mean'], row['metric_sd'] = _mean_sd(finals)
        # per seed, for the paired statistics of the frontier
        row['metric_by_seed'] = sorted(
            [seed, value] for seed, value in zip(run_seeds, finals)
            if value is not None)
        row['seeds'] = len(runs)
        _test_scores(row, runs, run_seeds)
        target = (targets or {}).get(task)
        if target is not None and key:
            times = [_time_to_target(r['evals'], key, target) for r in runs]
            reached = [t for t in times if t is not None]
            row['target'] = target
            row['time_to_target'] = (statistics.fmean(reached)
                                     if reached else None)
            row['target_reached'] = f'{len(reached)}/{len(runs)}'
        out.append(row)
    for row in out:
        base = next((r for r in out if r['task'] == row['task']
                     and r['optimizer'] == 'base'), None)
        row['time_ratio'] = (row['sec_per_iter'] / base['sec_per_iter']
                             if base else None)
    return out


def recovered_gain(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Per task: the share of SAM's metric gain over the base optimizer that
    each member of the family run without a budget keeps, and that share
    per extra gradient evaluation per iteration (the members and their keys:
    :func:`arsam_mm.family.gain_members`).

    Returns:
        dict: Per task with ``base``, ``sam`` and at least one member,
        ``sam_gain`` and each member's three keys
        (:attr:`arsam_mm.family.Member.gain`): ARSAM's ``arsam_gain``,
        ``share`` and ``share_per_extra_eval``, the others'
        ``<name>_gain``, ``<name>_share`` and
        ``<name>_share_per_extra_eval``. A share is NaN (undefined) where
        SAM does not beat the base optimizer, and per extra evaluation where
        the method adds none.
    """
    result = {}
    for task in dict.fromkeys(r['task'] for r in rows):
        by = {r['optimizer']: r for r in rows
              if r['task'] == task and r.get('budget') is None
              and r['metric_mean'] is not None}
        if not {'base', 'sam'} <= by.keys():
            continue
        base = by['base']['metric_mean']
        gain = by['sam']['metric_mean'] - base
        entry = dict(sam_gain=gain)
        for member in gain_members():
            row = by.get(member.name)
            if row is None:
                continue
            kept = row['metric_mean'] - base
            extra = row['grad_evals_per_iter'] - 1
            share = kept / gain if gain > 0 else math.nan
            gain_key, share_key, per_eval_key = member.gain
            entry[gain_key] = kept
            entry[share_key] = share
            entry[per_eval_key] = share / extra if extra > 0 else math.nan
        if len(entry) > 1:
            result[task] = entry
    return result


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
