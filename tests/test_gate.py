"""arsam_mm/benchmark/gate.py and tools/sam_gate.py: SAM against the base
optimizer, paired by seed, on the figures a setting search uses."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from arsam_mm.benchmark.gate import GATE_FIGURES, sam_gate
from arsam_mm.benchmark.markdown import gate_markdown

ROOT = Path(__file__).resolve().parents[1]


def _run(task, optimizer, seed, val, test, budget=None):
    """A record whose validations score ``val`` and ``test`` (lists, one
    value per validation) under the names the runs use."""
    evals = [dict(iter=150 * (i + 1), metrics={'mIoU': v, 'test/mIoU': t})
             for i, (v, t) in enumerate(zip(val, test))]
    return dict(task=task, optimizer=optimizer, budget=budget, seed=seed,
                result=dict(evals=evals))


# Per seed: val and test curves for base and SAM. Val peaks at a
# different validation than test does, and seed 1's val has a tie (the
# earliest peak is the best-on-val checkpoint).
CURVES = {
    'base': [([50, 70, 65], [52, 60, 66]), ([40, 72, 72], [41, 73, 61]),
             ([55, 60, 58], [50, 62, 59]), ([52, 66, 61], [55, 64, 63])],
    'sam': [([48, 71, 74], [50, 69, 73]), ([42, 75, 70], [44, 71, 72]),
            ([50, 63, 66], [51, 60, 67]), ([51, 70, 69], [50, 68, 70])],
}


def _records():
    recs = [_run('seg', opt, seed, val, test)
            for opt, curves in CURVES.items()
            for seed, (val, test) in enumerate(curves)]
    # Ignored: a budgeted member, another method, a task without SAM.
    recs.append(_run('seg', 'arsam', 0, [99, 99, 99], [99, 99, 99], 0.5))
    recs.append(_run('seg', 'looksam', 0, [1, 1, 1], [1, 1, 1]))
    recs.append(_run('other', 'base', 0, [1, 2, 3], [1, 2, 3]))
    recs.append(_run('other', 'base', 1, [1, 2, 3], [1, 2, 3]))
    return recs


def _expected(figure, seeds):
    """The figure per seed by hand, then scipy's paired t test."""
    def value(val, test):
        best = int(np.argmax(val))  # the earliest among ties
        return dict(val_best=val[best], test_final=test[-1],
                    test_best_val=test[best])[figure]

    sam = [value(*CURVES['sam'][s]) for s in seeds]
    base = [value(*CURVES['base'][s]) for s in seeds]
    diff = np.subtract(sam, base)
    lo, hi = sps.t.interval(0.95, len(diff) - 1, loc=diff.mean(),
                            scale=sps.sem(diff))
    return np.mean(base), np.mean(sam), diff.mean(), lo, hi, sps.ttest_rel(
        sam, base).pvalue


@pytest.mark.parametrize('seeds', [None, [0, 2, 3]])
def test_gate_is_the_paired_t_test_of_each_figure(seeds):
    gate = sam_gate(_records(), seeds=seeds)
    assert list(gate) == ['seg']  # 'other' has no SAM runs
    entry = gate['seg']
    assert entry['metric'] == 'mIoU'
    used = [0, 1, 2, 3] if seeds is None else seeds
    for figure in GATE_FIGURES:
        g = entry[figure]
        base, sam, mean, lo, hi, p = _expected(figure, used)
        assert g['seeds'] == used
        assert (g['base'], g['sam'], g['mean']) == (
            pytest.approx(base), pytest.approx(sam), pytest.approx(mean))
        assert (g['lo'], g['hi'], g['p']) == (
            pytest.approx(lo), pytest.approx(hi), pytest.approx(p))


def test_gate_selects_on_val_only():
    """The best-on-val checkpoint is where val peaks, not test: on seed 0
    base's test peaks at the last validation, its val at the second."""
    gate = sam_gate(_records(), seeds=[0, 1])
    # base: test at best val 60 (seed 0), 73 (seed 1, first of the tie)
    assert gate['seg']['test_best_val']['base'] == pytest.approx(66.5)
    assert gate['seg']['test_final']['base'] == pytest.approx(63.5)


def test_gate_needs_two_shared_seeds_and_a_seed():
    assert sam_gate(_records(), seeds=[1]) == {}
    assert sam_gate(_records(), seeds=[7, 8]) == {}
    with pytest.raises(ValueError, match='seeds must name at least one'):
        sam_gate(_records(), seeds=[])


def test_gate_markdown_has_a_row_per_figure():
    text = gate_markdown(sam_gate(_records()))
    lines = text.splitlines()
    assert lines[0].startswith('| task | figure | seeds |')
    assert len(lines) == 2 + len(GATE_FIGURES)
    assert 'mIoU: test, best-on-val checkpoint | 0, 1, 2, 3 |' in text


def _cli(capsys, *args):
    """tools/sam_gate.py's main, in this process: (exit code, out, err)."""
    spec = importlib.util.spec_from_file_location(
        'sam_gate', ROOT / 'tools' / 'sam_gate.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    try:
        tool.main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_the_table_and_refuses_what_it_cannot_judge(
        tmp_path, capsys):
    saved = dict(command='x', environment={}, settings={},
                 records=_records())
    (tmp_path / 'records.json').write_text(json.dumps(saved))
    code, out, err = _cli(capsys, str(tmp_path), '--seeds', '0', '2', '3')
    assert code == 0, err
    assert out.startswith(str(tmp_path))
    assert out.count('| seg |') == len(GATE_FIGURES)
    assert '| 0, 2, 3 |' in out
    code, out, err = _cli(capsys, str(tmp_path), '--seeds', '1')
    assert code == 2
    assert 'no task with base and SAM runs' in err
    assert 'among seeds [1]' in err
    code, out, err = _cli(capsys, str(tmp_path / 'nowhere'))
    assert code == 2 and 'holds no records.json' in err
