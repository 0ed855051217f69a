"""Write a suite's report from its ``records.json`` alone: the rows, the
gains, the frontiers, the plots, ``report.json`` and ``report.md``."""
import json
from pathlib import Path
from typing import Any, Dict, Optional

from .frontier import analyse
from .markdown import report_markdown
from .plots import plot_frontier, plot_task, plot_val_test
from .records import RECORDS_FILE, atomic_write, load_records
from .report import aggregate, load_report, recovered_gain

__all__ = ['write_report']


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
            Where it is the final test metric, the report adds the
            frontier of the test metric at the best-on-val checkpoint
            (``report.json``'s ``frontier_best_val``), which judges the
            performance targets.

    Returns:
        dict: As :func:`.suite.run_suite`.

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
    plots, frontiers, best_val = [], {}, {}
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
        if scored == 'test_final':  # the targets' checkpoint
            result = analyse(rows, task, metric='test_best_val')
            if result is not None:
                best_val[task] = result
    gains = recovered_gain(rows)
    load = load_report(records, costs, settings)
    text = report_markdown(rows, gains, env, command, settings, plots, out,
                           frontiers, costs, load, best_val)
    report = dict(environment=env, command=command, settings=settings,
                  rows=rows, recovered_gain=gains, records=RECORDS_FILE)
    if costs or frontiers:
        report.update(step_costs=costs, load=load, frontier={
            task: _frontier_json(result)
            for task, result in frontiers.items()})
    if best_val:
        report['frontier_best_val'] = {
            task: _frontier_json(result) for task, result in best_val.items()}
    atomic_write(out / 'report.json',
                 lambda f: json.dump(report, f, indent=1))
    atomic_write(out / 'report.md', lambda f: f.write(text))
    report.update(records=records, markdown=text)
    report['paths'] = [str(out / 'report.json'), str(out / 'report.md')] + [
        str(p) for p in plots]
    return report


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
        cheapest=name(result['cheapest']), target=result['target'],
        arsam_behind=by_budget(result['arsam_behind']),
        arsam_ahead=by_budget(result['arsam_ahead']))
