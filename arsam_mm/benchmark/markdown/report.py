"""``report.md`` and its tables: the main table, the step costs, the test
split's section and the gain table."""
import os.path as osp
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ...family import gain_members
from ..report import LOAD_MARGIN
from ..step_cost import COST_BUDGET
from ..variants import OPTIMIZERS, variant_label
from .frontier import frontier_markdown
from .table import fmt, table

__all__ = [
    'markdown_table', 'gain_table', 'best_vs_final_markdown', 'cost_table',
    'report_markdown'
]


def markdown_table(rows: List[Dict[str, Any]], flag: str = '') -> str:
    """The report's main table.

    Args:
        rows (list[dict]): From :func:`..report.aggregate`.
        flag (str): Appended to the raw wall-clock columns' headers (a
            footnote mark when the machine's load changed).
    """
    header = ['task', 'optimizer', 'grad evals/iter', 'SAM-step fraction',
              'cost x base', f's/iter{flag}', f'x base{flag}',
              'peak memory MiB', 'metric', 'value', 'seeds',
              'time to target s']
    cells = []
    for r in rows:
        name = r.get('label') or variant_label(r['optimizer'], None,
                                               r.get('interval'))
        target = '-'
        if 'target' in r:
            target = (f"{fmt(r['time_to_target'], '.1f')} "
                      f"({r['target_reached']} reached {r['target']})")
        cells.append([
            r['task'], name, fmt(r['grad_evals_per_iter'], '.2f'),
            fmt(r['sam_fraction'], '.2f'), fmt(r.get('cost_x_base'), '.2f'),
            fmt(r['sec_per_iter'], '.4f', r['sec_sd']),
            fmt(r['time_ratio'], '.2f'), fmt(r['peak_memory_mib'], '.0f'),
            r['metric'] or '-', fmt(r['metric_mean'], '.4f', r['metric_sd']),
            r['seeds'], target])
    return table(header, cells)


def gain_table(gains: Dict[str, Any]) -> str:
    """:func:`..report.recovered_gain` as a Markdown table: SAM's gain, then
    for each member of the family (:func:`arsam_mm.family.gain_members`)
    its gain, the share of SAM's gain it keeps and that share per extra
    gradient evaluation; a member's columns appear where some task has
    them (and always for the members marked ``gain_always``)."""
    members = [m for m in gain_members() if m.gain_always or any(
        m.gain[0] in g for g in gains.values())]
    header = ['task', 'SAM gain over base'] + [
        title for m in members for title in m.gain_columns]
    specs = ('.4f', '.2f', '.2f')
    rows = [[task, fmt(g.get('sam_gain'), '.4f')] + [
        fmt(g.get(key), spec) for m in members
        for key, spec in zip(m.gain, specs)] for task, g in gains.items()]
    return table(header, rows)


def best_vs_final_markdown(rows: List[Dict[str, Any]]) -> str:
    """The report's section on the test split: per task and variant, the
    final checkpoint's test metric and the best-on-val checkpoint's (the
    test metric at the validation with the highest validation metric,
    the earliest among ties), beside the final validation metric.

    Args:
        rows (list[dict]): From :func:`..report.aggregate`.

    Returns:
        str: Markdown; for runs that scored no test split (every report
        before test splits) one line that says so.
    """
    lines = ['## Test split: best-on-val and final checkpoints', '']
    scored = [r for r in rows if 'test_metric' in r]
    if not scored:
        return '\n'.join(lines + [
            'No curves recorded: these runs scored no test split, so every '
            'metric above is on the validation split that the settings '
            'were chosen on.', ''])
    lines += [
        'Selection (the best-on-val checkpoint, any setting) used the '
        'validation split only; the figures reported are on the test '
        'split, scored at every validation. Mean ± sd over seeds; best '
        'val at: the iteration of the best-on-val checkpoint, per seed.',
        '', table(
            ['task', 'method', 'seeds', 'val final', 'test final',
             'test at best val', 'best val at'],
            [[r['task'], r['label'], r['seeds'],
              fmt(r['metric_mean'], '.4f', r['metric_sd']),
              fmt(r['test_final_mean'], '.4f', r['test_final_sd']),
              fmt(r['test_best_val_mean'], '.4f', r['test_best_val_sd']),
              ', '.join('-' if i is None else str(i)
                        for i in r['best_val_iter'])] for r in scored])]
    metrics = ', '.join(dict.fromkeys(
        f"{r['metric']} (test: {r['test_metric']})" for r in scored))
    sizes = {r['task']: r['split_sizes'] for r in scored
             if 'split_sizes' in r}
    if sizes:
        lines += ['', 'Split sizes (dataset items): ' + '; '.join(
            f"{task} train {s['train']}, val {s['val']}, test {s['test']}"
            for task, s in sizes.items()) + '.']
    left = [f"{r['task']} {r['label']}" for r in rows
            if 'test_metric' not in r]
    lines += ['', f'Metric: {metrics}.' + (
        f" No test split scored for {', '.join(left)}." if left else ''), '']
    return '\n'.join(lines)


def cost_table(costs: Dict[str, Any]) -> str:
    """Each task's step costs (:func:`..step_cost.measure_config`), the
    step kinds in the order of the family."""
    order = ['base'] + [f'{o}_{p}' for o in OPTIMIZERS
                        for p in ('one', 'two')]
    rows = []
    for task, c in costs.items():
        kinds = sorted(c['median_s'], key=lambda k: order.index(k)
                       if k in order else len(order))
        rows += [[task, kind, f"{c['median_s'][kind] * 1e3:.2f}",
                  f"{c['x_base'][kind]:.3f}", c['samples'][kind]]
                 for kind in kinds]
    return table(['task', 'step', 'median ms', 'x base step', 'samples'],
                 rows)


def _iters_text(settings: Dict[str, Any]) -> str:
    if settings['iters'] is not None:
        return str(settings['iters'])
    scale = settings.get('scale', 1)
    return ("each config's own max_iters" +
            (f' x {scale:g}' if scale != 1 else ''))


def _settings_text(settings: Dict[str, Any]) -> str:
    """The settings line of a recorded suite."""
    s = settings
    return (
        f'- settings: {_iters_text(s)} iterations per run, '
        f"{s['repeats']} seed(s), first {s['skip']} iterations left out of "
        f"the timing, rho {s['rho']}" +
        (f" ({s['task_rho']} for those tasks)" if s.get('task_rho') else '')
        + f", ARSAM {s['arsam']}" +
        (f", wrapper arguments {s['method_args']}"
         if s.get('method_args') else '') +
        (f"; budgets {s['budgets']}" if s.get('budgets') else '') +
        (f"; {s['jobs']} runs in parallel, {s['threads']} thread(s) each"
         if (s.get('jobs') or 1) > 1 else ''))


def _load_text(load: Dict[str, Any]) -> str:
    if load['changed']:
        return (f"† The machine's 1-minute load average reached "
                f"{load['max']:.1f} while the suite's own threads were "
                f"{load['own']}: other work competed for the cores, so the "
                'raw wall-clock columns are not comparable between runs; '
                'use cost x base.')
    return (f"Load: the 1-minute load average stayed within "
            f"{load['min']:.1f}-{load['max']:.1f}, at most the "
            f"suite's own {load['own']} threads + {LOAD_MARGIN}.")


def report_markdown(rows: List[Dict[str, Any]], gains: Dict[str, Any],
                    env: Dict[str, Any], command: str,
                    settings: Dict[str, Any], plots: Sequence[Path],
                    out: Path, frontiers: Optional[Dict[str, Any]] = None,
                    costs: Optional[Dict[str, Any]] = None,
                    load: Optional[Dict[str, Any]] = None,
                    best_val: Optional[Dict[str, Any]] = None) -> str:
    """``report.md``.

    Args:
        rows (list[dict]): :func:`..report.aggregate`'s rows.
        gains (dict): :func:`..report.recovered_gain`.
        env (dict): The environment (date, device, machine, versions).
        command (str): The command line.
        settings (dict): The recorded settings
            (:meth:`..settings.SuiteSettings.record`).
        plots (sequence[Path]): The plots, linked relative to ``out``.
        out (Path): The work dir.
        frontiers (dict, optional): Task -> :func:`..frontier.analyse`.
        costs (dict, optional): Task -> its step costs.
        load (dict, optional): :func:`..report.load_report`.
        best_val (dict, optional): Task -> its frontier of the test metric
            at the best-on-val checkpoint, rendered after the task's
            frontier and judging the targets in its place.
    """
    flag = ' †' if (load or {}).get('changed') else ''
    note = ([f"- what this suite cannot show: {settings['note']}"]
            if settings.get('note') else [])
    lines = [
        '# Benchmark: the base optimizer and the SAM family', '',
        f"- date: {env['date']}",
        f"- device: {env['device']}; machine: {env['machine']}; "
        f"python {env['python']}",
        '- versions: ' + ', '.join(f'{k} {v}'
                                   for k, v in env['versions'].items()),
        f'- command: `{command}`', _settings_text(settings), *note, '',
        markdown_table(rows, flag), '',
        'grad evals/iter: forward-backward passes per iteration, counted. '
        'cost x base: each run\'s passes priced with the step costs below '
        '(measured interleaved in one process on the task\'s model and '
        'batch), mean over seeds, in base steps: the cost figure that '
        'background load does not move ("-": no step costs measured). '
        's/iter (raw): mean over seeds of the mean step time (device '
        'synchronised around each step, validation excluded), ± the spread '
        "over seeds; x base (raw): its ratio to the task's base optimizer. "
        f"Peak memory: {rows[0]['memory_kind'] if rows else '-'}. Metric: at "
        'the end of the run, mean ± spread (sample sd) over seeds' + (
            ', on the validation split (the test split: below)'
            if any('test_metric' in r for r in rows) else '') + '.', ''
    ]
    if load:
        lines += [_load_text(load), '']
    if costs:
        lines += ['Step costs (median over interleaved rounds; budgeted '
                  f'methods at budget {COST_BUDGET}):', '',
                  cost_table(costs), '']
    for task, result in (frontiers or {}).items():
        best = (best_val or {}).get(task)
        lines.append(frontier_markdown(result, task, targets=best is None))
        if best is not None:
            lines.append(frontier_markdown(best, task))
    lines.append(best_vs_final_markdown(rows))
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
