"""Each task's frontier (:func:`..frontier.analyse`) as Markdown: the
metric per method and budget, the paired comparisons, whether SAM beats
the base optimizer and which methods keep its gain, and the targets."""
from typing import Any, Dict, List, Optional

from ..frontier import ALPHA, EVALS_TARGET, KEEP_SHARE, TARGET_SHARE
from .table import interval, table

__all__ = ['frontier_markdown']


#: What a frontier scores (its ``scored``), in words.
SCORED = {'metric': 'final metric', 'test_final': 'final test metric',
          'test_best_val': 'test metric at the best-on-val checkpoint'}


def _cell(row: Optional[Dict[str, Any]]) -> str:
    if row is None:
        return '-'
    sd = row['metric_sd']
    sd = f' ± {sd:.2g}' if sd is not None else ''
    cost = row.get('cost_x_base')
    cost = f', {cost:.2f}x' if cost is not None else ''
    return (f"{row['metric_mean']:.4g}{sd} "
            f"({row['grad_evals_per_iter']:.2f} evals{cost})")


def _seeds(comp: Dict[str, Any]) -> str:
    if comp['ahead'] is not None:
        return '-'
    n = comp['seeds_needed']
    return '> 100' if n is None else str(n)


def _comparisons_markdown(result: Dict[str, Any]) -> List[str]:
    model = result['model']
    sizes = ', '.join(f'{len(c)} at budget {b:g}'
                      for b, c in result['comparisons'].items())
    lines = [
        '', f"**Paired comparisons** (seeds {model['seeds']}). Every "
        'variant of a seed starts from the same weights and sees the same '
        'batches, so methods are compared within seeds: an additive '
        f"seed x variant model of the {SCORED[result['scored']]} of every "
        'variant gives each difference of means with a 95% t interval on '
        'the pooled '
        f"run-to-run (residual) sd {model['sd']:.3g} "
        f"(df {model['df']}). The family at each budget is each method "
        'minus the base optimizer, each method minus SAM and ARSAM minus '
        f'each rival ({sizes}); its p-values are Holm-adjusted together, '
        f'and a variant is called ahead only where the adjusted p < {ALPHA:g}'
        ' (the interval shown is the unadjusted one). Seeds for 80% power: '
        'the paired seeds a two-sided paired t test at 5% (without the '
        'correction) would need at the observed difference and its '
        'per-seed sd (noncentral t), for the comparisons not called. '
        'Methods are compared at the same nominal budget, not at equal '
        'measured cost: periodic SAM and LookSAM take round(1/budget) '
        '(a third of the steps at 0.3); the evals above are measured.', '',
        table(['budget', 'difference', 'mean [95% interval]', 'p',
               'p (Holm)', 'ahead', 'seeds for 80% power'],
              [[f'{budget:g}', f"{c['a']} - {c['b']}",
                interval(c['mean'], c['lo'], c['hi']), f"{c['p']:.2g}",
                f"{c['p_holm']:.2g}", c['ahead'] or '-', _seeds(c)]
               for budget, family in result['comparisons'].items()
               for c in family])
    ]
    return lines


def _keeps_markdown(result: Dict[str, Any]) -> List[str]:
    lines = [
        '', '**Keeping SAM\'s gain.** Share: (mean of the method - mean of '
        'the base optimizer) / (mean of SAM - mean of the base optimizer), '
        'with its 95% Fieller interval on the same model (bounded because '
        'SAM - base is significant). A method keeps at least '
        f'{KEEP_SHARE:g} of SAM\'s gain when the one-sided test of '
        f'(method - base) - {KEEP_SHARE:g} (SAM - base) > 0, paired by '
        f'seed, rejects at {ALPHA:g} after Holm over the methods at that '
        'budget.', '',
        table(['budget', 'method', 'share [95% interval]', 'p (one-sided)',
               'p (Holm)', 'keeps half'],
              [[f'{budget:g}', method,
                interval(k['share'], k['lo'], k['hi']), f"{k['p']:.2g}",
                f"{k['p_holm']:.2g}", 'yes' if k['keeps'] else 'no']
               for budget, by in result['keeps'].items()
               for method, k in by.items()])
    ]
    lines += ['', f'Cheapest budget at which each method keeps at least '
              f'{KEEP_SHARE:g} of SAM\'s gain:', '']
    for method, row in result['keeps_half'].items():
        text = ('not at any budget run' if row is None else
                f"budget {row['budget']:g} "
                f"({row['grad_evals_per_iter']:.2f} evals, "
                f"{row['metric_mean']:.4g})")
        lines.append(f'- {method}: {text}')
    return lines


def _share_target(result: Dict[str, Any]) -> str:
    """The line of the first performance target."""
    target = result['target']
    if not result['gate']['passed']:
        text = 'not judged (SAM does not beat the base optimizer)'
    elif target is None:
        text = f'not met (no method ran within {EVALS_TARGET} evals)'
    else:
        share = interval(target['share'], target['lo'], target['hi'])
        where = (f"{target['label']}, {target['evals']:.2f} evals, "
                 f"share {share}")
        if not target['met']:
            text = f'not met (closest: {where})'
        elif target['lo'] is not None and target['lo'] >= TARGET_SHARE:
            text = (f'met ({where}; the interval excludes shares below '
                    f'{TARGET_SHARE:g})')
        else:
            text = (f'met in the estimate ({where}; the interval reaches '
                    f'below {TARGET_SHARE:g}, so these seeds do not '
                    'establish it)')
    return (f'Target: some method keeps at least {TARGET_SHARE:g} of SAM\'s '
            f'gain (estimated share) at <= {EVALS_TARGET} gradient '
            f'evaluations per iteration: {text}.')


def frontier_markdown(result: Dict[str, Any], task: str,
                      targets: bool = True) -> str:
    """The frontier of one task (:func:`..frontier.analyse`) as Markdown;
    with ``targets``, where the performance targets stand."""
    budgets, cells = result['budgets'], result['cells']
    metric = next(iter(next(iter(cells.values())).values()))['metric']
    lines = [
        f'### {task}: {metric} against cost', '',
        f"Each cell: {SCORED[result['scored']]}, mean ± sd over seeds "
        '(gradient evaluations per iteration, measured; cost per iteration '
        'in base steps, derived from the passes and the step costs).', '',
        table(['method'] + [f'budget {b:g}' for b in budgets],
              [[f'{name} (no budget)', _cell(result[name])]
               for name in ('base', 'sam') if result[name] is not None] +
              [[method] + [_cell(by.get(b)) for b in budgets]
               for method, by in cells.items()])
    ]
    if result.get('partial'):
        lines += ['', 'Left out (fewer seeds than the others, the suite '
                  'was cut short): ' + ', '.join(result['partial']) + '.']
    if result['model'] is None:
        if result['seeds'] < 2:
            lines += ['', '**One seed per method: no spread**, so this '
                      'frontier names no method ahead of another and judges '
                      'no target: one run per method cannot tell a '
                      'method\'s effect from its seed\'s. Run `--repeats 3` '
                      'or more to read it.', '']
        else:
            lines += ['', '**Fewer than 2 seeds shared by every variant**, '
                      'so no paired comparison: this frontier names no '
                      'method ahead of another and judges no target.', '']
        return '\n'.join(lines)
    lines += _comparisons_markdown(result)
    gate = result['gate']
    if gate is not None:
        diff = interval(gate['mean'], gate['lo'], gate['hi'])
        if gate['passed']:
            lines += ['', f'**SAM beats the base optimizer on this task**: '
                      f"SAM - base {diff}, p {gate['p']:.2g} (the same "
                      'model; one test per task, the gate for judging '
                      'whether a method keeps SAM\'s gain).']
            lines += _keeps_markdown(result)
        else:
            lines += ['', '**SAM does not beat the base optimizer on this '
                      f"task** (SAM - base {diff}, p {gate['p']:.2g}): "
                      'there is no gain to keep, so no method is judged to '
                      'keep it, and the differences to SAM above say only '
                      'whether a method is behind SAM.']
        if targets:
            lines += ['', _share_target(result)]
    behind = result['arsam_behind']
    if behind and targets:
        missed = {b: m for b, m in behind.items() if m}
        text = ('met: no rival is ahead of ARSAM at any budget after Holm '
                '(not evidence that they are equal: see the seeds for 80% '
                'power)' if not missed else 'not met: ' + '; '.join(
                    f"at budget {b:g} {', '.join(m)} ahead"
                    for b, m in missed.items()))
        lines += ['', f'Target: ARSAM on the frontier: {text}.']
    lines.append('')
    return '\n'.join(lines)
