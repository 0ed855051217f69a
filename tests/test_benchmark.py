"""tools/benchmark.py: variants, aggregation and an end-to-end toy suite."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from arsam_mm.benchmark.markdown import gain_table
from arsam_mm.benchmark.records import RecordsError
from arsam_mm.benchmark.report import aggregate, recovered_gain
from arsam_mm.benchmark.reporting import write_report
from arsam_mm.benchmark.settings import SuiteSettings, default_arsam
from arsam_mm.benchmark.suite import run_suite
from arsam_mm.benchmark.variants import WRAPPERS, make_variant

ROOT = Path(__file__).resolve().parents[1]
TOY = str(ROOT / 'tests' / 'configs' / 'toy_sgd.py')


def bench(configs, optimizers, work_dir, resume=False, progress=None,
          **settings):
    """:func:`run_suite` of ``SuiteSettings(configs, optimizers,
    **settings)`` in ``work_dir``."""
    return run_suite(SuiteSettings(configs, optimizers, **settings),
                     work_dir, progress=progress, resume=resume)


def test_variants_wrap_the_configs_own_optimizer():
    cfg = Config.fromfile(TOY)
    cfg.optim_wrapper.clip_grad = dict(max_norm=1.0)
    base = make_variant(cfg, 'base')
    assert base.optim_wrapper == cfg.optim_wrapper
    cfg.custom_hooks = [dict(type='EMAHook')]
    for name, kind, extra in [
        ('sam', 'SAMOptimWrapper', dict(interval=1)),
        ('periodic', 'SAMOptimWrapper', dict(interval=4)),
        ('arsam', 'ARSAMOptimWrapper', dict(window=7)),
    ]:
        v = make_variant(cfg, name, rho=0.1, arsam=dict(window=7),
                         interval=4)
        assert v.optim_wrapper.type == kind
        assert v.optim_wrapper.optimizer == cfg.optim_wrapper.optimizer
        assert v.optim_wrapper.clip_grad == dict(max_norm=1.0)
        assert v.optim_wrapper.rho == 0.1
        for key, value in extra.items():
            assert v.optim_wrapper[key] == value
        assert v.custom_hooks == [dict(type='EMAHook')]  # kept as is
        assert 'arsam_mm' in v.custom_imports.imports
    assert cfg.optim_wrapper.type == 'OptimWrapper'  # not modified


def test_variants_amp_and_bad_input():
    cfg = Config.fromfile(TOY)
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    assert make_variant(cfg, 'arsam').optim_wrapper.type == \
        'AmpARSAMOptimWrapper'
    assert make_variant(cfg, 'sam').optim_wrapper.type == 'AmpSAMOptimWrapper'
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_variant(cfg, 'adam')
    cfg.optim_wrapper.type = 'ARSAMOptimWrapper'
    with pytest.raises(ValueError, match='baseline config'):
        make_variant(cfg, 'sam')


def _record(task, optimizer, seed, seconds, sam, metric, interval=1):
    evals = [dict(iter=len(seconds) // 2, train_seconds=sum(seconds) / 2,
                  grad_evals=0, metrics={'accuracy/top1': metric - 1}),
             dict(iter=len(seconds), train_seconds=sum(seconds),
                  grad_evals=len(seconds) + sum(sam),
                  metrics={'accuracy/top1': metric})]
    return dict(task=task, optimizer=optimizer, seed=seed, interval=interval,
                result=dict(seconds=seconds, sam=sam, count=[None] * len(sam),
                            grad_evals=[len(seconds) + sum(sam)],
                            evals=evals, peak_memory_mib=100.0,
                            memory_kind='test', device='cpu'))


def test_aggregate_numbers():
    recs = [
        _record('t', 'base', 0, [9, 1, 1, 1], [0] * 4, 80),
        _record('t', 'base', 1, [9, 1, 1, 1], [0] * 4, 82),
        _record('t', 'sam', 0, [9, 2, 2, 2], [1] * 4, 90),
        _record('t', 'sam', 1, [9, 2, 2, 2], [1] * 4, 92),
        _record('t', 'arsam', 0, [9, 2, 1, 1], [1, 1, 0, 0], 86),
        _record('t', 'arsam', 1, [9, 2, 1, 1], [1, 1, 0, 0], 88),
    ]
    rows = aggregate(recs, skip=1, targets={'t': 86.5})
    by = {r['optimizer']: r for r in rows}
    assert by['base']['sec_per_iter'] == 1.0
    assert by['sam']['time_ratio'] == 2.0
    assert by['arsam']['sec_per_iter'] == pytest.approx(4 / 3)
    assert by['arsam']['grad_evals_per_iter'] == 1.5
    assert by['arsam']['sam_fraction'] == 0.5
    assert by['sam']['metric_mean'] == 91
    assert by['sam']['metric_sd'] == pytest.approx(math.sqrt(2))
    assert by['sam']['time_to_target'] == pytest.approx(7.5)
    assert by['arsam']['target_reached'] == '1/2'
    assert by['base']['time_to_target'] is None
    gain = recovered_gain(rows)['t']
    assert gain['sam_gain'] == 10 and gain['arsam_gain'] == 6
    assert gain['share'] == pytest.approx(0.6)
    assert gain['share_per_extra_eval'] == pytest.approx(1.2)
    assert 'periodic_share' not in gain


def test_recovered_gain_of_periodic_and_its_table():
    recs = [
        _record('t', 'base', 0, [1] * 4, [0] * 4, 80),
        _record('t', 'sam', 0, [2] * 4, [1] * 4, 90),
        _record('t', 'arsam', 0, [2, 2, 1, 1], [1, 1, 0, 0], 87),
        _record('t', 'periodic', 0, [2, 1, 2, 1], [1, 0, 1, 0], 84,
                interval=2),
        _record('u', 'base', 0, [1] * 4, [0] * 4, 50),
        _record('u', 'sam', 0, [2] * 4, [1] * 4, 49),
        _record('u', 'arsam', 0, [1] * 4, [0] * 4, 52),
    ]
    gains = recovered_gain(aggregate(recs, skip=0))
    t = gains['t']
    assert t['periodic_gain'] == 4 and t['periodic_share'] == 0.4
    assert t['periodic_share_per_extra_eval'] == pytest.approx(0.8)
    assert t['share_per_extra_eval'] == pytest.approx(1.4)
    u = gains['u']  # SAM loses, no extra evaluation: undefined, not < 0
    assert math.isnan(u['share']) and math.isnan(u['share_per_extra_eval'])
    lines = gain_table(gains).splitlines()
    assert lines[2] == ('| t | 10.0000 | 7.0000 | 0.70 | 1.40 | 4.0000 | '
                        '0.40 | 0.80 |')
    assert lines[3] == '| u | -1.0000 | 2.0000 | - | - | - | - | - |'


def test_suite_end_to_end_on_toy(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    report = bench([TOY], ['base', 'arsam', 'periodic'], iters=12,
                   repeats=1, work_dir=str(tmp_path), evals=2,
                   arsam=dict(window=4, warmup_iters=2, seed=0))
    rows = {r['optimizer']: r for r in report['rows']}
    assert set(rows) == {'base', 'arsam', 'periodic'}
    assert rows['base']['grad_evals_per_iter'] == 1.0
    extra = rows['arsam']['grad_evals_per_iter'] - 1
    assert 0 < extra < 1
    k = rows['periodic']['interval']
    assert k == max(1, round(1 / extra))
    assert rows['periodic']['sam_fraction'] == pytest.approx(
        len(range(0, 12, k)) / 12)
    for r in rows.values():
        assert r['metric'] == 'accuracy/top1' and r['metric_mean'] > 40
    saved = json.loads((tmp_path / 'report.json').read_text())
    assert saved['rows'] == report['rows']
    assert saved['records'] == 'records.json'
    raw = json.loads((tmp_path / 'records.json').read_text())
    assert raw['records'] == report['records'] and len(raw['records']) == 3
    assert len(raw['records'][1]['result']['seconds']) == 12
    text = (tmp_path / 'report.md').read_text()
    assert '| toy_sgd | arsam |' in text and 'device' in text
    assert (tmp_path / 'plots' / 'toy_sgd_metric.png').stat().st_size > 0
    assert (tmp_path / 'plots' / 'toy_sgd_arsam_schedule.png').exists()


def test_suite_resume_and_report_only(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    kwargs = dict(iters=6, work_dir=str(tmp_path), evals=1,
                  arsam=dict(window=3, warmup_iters=1, seed=0))
    first = bench([TOY], ['base', 'arsam'], repeats=1, **kwargs)
    saved = json.loads((tmp_path / 'records.json').read_text())
    assert [(r['optimizer'], r['seed']) for r in saved['records']] == [
        ('base', 0), ('arsam', 0)]
    # A suite cut short after its first run: resume runs only the rest.
    saved['records'] = saved['records'][:1]
    (tmp_path / 'records.json').write_text(json.dumps(saved))
    (tmp_path / 'logs' / 'toy_sgd_base_s0.log').unlink()
    labels = []
    again = bench([TOY], ['base', 'arsam'], repeats=2, resume=True,
                  progress=labels.append, **kwargs)
    assert labels == ['toy_sgd base seed 0 (recorded)', 'toy_sgd base seed 1',
                      'toy_sgd arsam seed 0', 'toy_sgd arsam seed 1']
    assert [(r['optimizer'], r['seed']) for r in again['records']] == [
        ('base', 0), ('base', 1), ('arsam', 0), ('arsam', 1)]
    assert again['records'][0] == first['records'][0]  # kept, not rerun
    assert not (tmp_path / 'logs' / 'toy_sgd_base_s0.log').exists()
    assert again['records'][2]['result']['sam'] == \
        first['records'][1]['result']['sam']  # same seed, same schedule
    assert again['environment'] == first['environment']
    # The report alone, from the records, with the recorded command.
    (tmp_path / 'report.md').unlink()
    rendered = write_report(str(tmp_path))
    assert rendered['rows'] == again['rows']
    assert (tmp_path / 'report.md').read_text() == again['markdown']
    with pytest.raises(ValueError, match=r"rho was 0\.05, now 0\.1"):
        bench([TOY], ['base'], repeats=1, rho=0.1, resume=True,
              **kwargs)
    with pytest.raises(FileNotFoundError, match='records.json'):
        write_report(str(tmp_path / 'empty'))


def test_suite_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match='iters'):
        bench([TOY], ['base'], iters=0, repeats=1,
              work_dir=str(tmp_path))
    with pytest.raises(ValueError, match='periodic needs arsam'):
        bench([TOY], ['base', 'periodic'], iters=4, repeats=1,
              work_dir=str(tmp_path))
    with pytest.raises(ValueError, match='smoke needs iters'):
        bench([TOY], ['base'], iters=None, repeats=1,
              work_dir=str(tmp_path), smoke=str(tmp_path / 'data'))
    with pytest.raises(ValueError, match="smoke must be a folder path, got "
                       f"'{TOY}'"):
        bench([TOY], ['base'], iters=2, repeats=1,
              work_dir=str(tmp_path), smoke=TOY)


def test_cli_help():
    out = subprocess.run([sys.executable, 'tools/benchmark.py', '--help'],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0
    assert '--optimizers' in out.stdout and '--quick' in out.stdout
    assert '--resume' in out.stdout and '(default 200; --quick: see' in \
        out.stdout
    assert '--budgets' in out.stdout and '--task-rho' in out.stdout


def test_iteration_schedulers_stretch_with_the_budget():
    from arsam_mm.benchmark.worker import _iteration_budget
    cfg = Config.fromfile(TOY)
    cfg.param_scheduler = [
        dict(type='LinearLR', begin=0, end=4, by_epoch=False),
        dict(type='CosineAnnealingLR', T_max=20, by_epoch=False),
        dict(type='MultiStepLR', milestones=[10, 15], by_epoch=False),
        dict(type='CosineAnnealingLR', T_max=7, by_epoch=True),
    ]
    _iteration_budget(cfg, iters=60, evals=3)
    s = cfg.param_scheduler
    assert (s[0].begin, s[0].end) == (0, 12)
    assert s[1].T_max == 60 and s[2].milestones == [30, 45]
    assert s[3].T_max == 7  # epoch-based: untouched
    assert cfg.train_cfg == dict(
        type='IterBasedTrainLoop', max_iters=60, val_interval=20)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=3)
    with pytest.raises(ValueError, match='iteration-based'):
        _iteration_budget(cfg, iters=60, evals=3)


def test_recorder_keeps_numpy_and_tensor_metrics():
    import numpy as np
    import torch

    from arsam_mm.benchmark.recorder import BenchmarkRecorder, IterTimerStart
    rec = BenchmarkRecorder(IterTimerStart())
    rec.after_val_epoch(None, {'mIoU': np.float32(31.5), 'aAcc': 80.0,
                               'top1': torch.tensor(0.5), 'flag': True,
                               'name': 'x', 'n': np.int64(3)})
    assert rec.evals[0]['metrics'] == {'mIoU': 31.5, 'aAcc': 80.0,
                                       'top1': 0.5, 'n': 3.0}


def test_recovered_gain_skips_tasks_without_metric():
    recs = [_record('t', o, 0, [1, 1], [0, 0], 1.0)
            for o in ('base', 'sam', 'arsam')]
    for r in recs:
        r['result']['evals'] = []
    assert recovered_gain(aggregate(recs, skip=0)) == {}


def test_recovered_gain_of_every_member_and_its_columns():
    """Every member run without a budget gets its gain, share and share per
    extra evaluation; the gain table adds its columns (ARSAM's and periodic
    SAM's are always there, as in the first reports); a task with only the
    base optimizer and SAM has no entry."""
    recs = [
        _record('t', 'base', 0, [1] * 4, [0] * 4, 80),
        _record('t', 'sam', 0, [2] * 4, [1] * 4, 90),
        _record('t', 'aesam', 0, [2, 1, 2, 1], [1, 0, 1, 0], 86),
        _record('t', 'gsam', 0, [2] * 4, [1] * 4, 91),
        _record('u', 'base', 0, [1] * 4, [0] * 4, 50),
        _record('u', 'sam', 0, [2] * 4, [1] * 4, 55),
    ]
    gains = recovered_gain(aggregate(recs, skip=0))
    assert gains == {'t': dict(
        sam_gain=10, aesam_gain=6, aesam_share=0.6,
        aesam_share_per_extra_eval=pytest.approx(1.2), gsam_gain=11,
        gsam_share=1.1, gsam_share_per_extra_eval=1.1)}
    lines = gain_table(gains).splitlines()
    assert lines[0] == (
        '| task | SAM gain over base | ARSAM gain | share kept | share per '
        'extra grad eval | periodic gain | periodic share | periodic share '
        'per extra grad eval | AE-SAM gain | AE-SAM share | AE-SAM share per '
        'extra grad eval | GSAM gain | GSAM share | GSAM share per extra grad '
        'eval |')
    assert lines[1] == '|' + '---|' * 14
    assert lines[2] == ('| t | 10.0000 | - | - | - | - | - | - | 6.0000 | '
                        '0.60 | 1.20 | 11.0000 | 1.10 | 1.10 |')


def test_one_table_helper_writes_every_table():
    from arsam_mm.benchmark.markdown import table
    assert table(['a', 'b', 'c'], [['x', 1, 2.5], ['y']]).splitlines() == [
        '| a | b | c |', '|---|---|---|', '| x | 1 | 2.5 |', '| y | | |']


def test_metric_curves_average_the_seeds():
    from arsam_mm.benchmark.plots import _curves
    runs = [_record('t', 'sam', s, [1.0] * 4, [1] * 4, m)
            for s, m in enumerate((90, 92, 97))]
    mean, y, sd = _curves(runs, 'accuracy/top1')
    assert list(mean['iter']) == [2, 4]
    assert list(mean['train_seconds']) == [2.0, 4.0]
    assert y == pytest.approx([92, 93])
    assert sd == pytest.approx([math.sqrt(13)] * 2)  # sample sd, as tables
    _, _, sd = _curves(runs[:1], 'accuracy/top1')
    assert list(sd) == [0.0, 0.0]


def test_default_arsam_scales_with_the_run():
    assert default_arsam(30) == dict(window=4, warmup_iters=1)
    assert default_arsam(3600) == dict(window=24, warmup_iters=54)
    # the authors' 200 CIFAR epochs of 391 iterations: window 50, 3 epochs
    assert default_arsam(200 * 391) == dict(window=50, warmup_iters=1173)


def _fake_runs(monkeypatch, calls=None):
    """Replace the per-run process with a canned record (no training)."""
    from arsam_mm.benchmark import suite

    def run(spec, log_path):
        if calls is not None:
            calls.append(spec)
        sam = [0] * spec['iters'] if spec['optimizer'] == 'base' else \
            [1] * spec['iters']
        return _record('t', spec['optimizer'], spec['seed'],
                       [1.0] * spec['iters'], sam, 50.0)['result']

    monkeypatch.setattr(suite, '_run_process', run)


class _Interrupted(Exception):
    pass


def _dump_cut_short(monkeypatch):
    """Make the next ``json.dump`` write part of its text, then fail, as a
    process killed while writing."""
    real = json.dump

    def dump(obj, f, **kwargs):
        f.write(json.dumps(obj, **kwargs)[:20])
        raise _Interrupted('killed while writing')

    monkeypatch.setattr(json, 'dump', dump)
    return real


def test_interrupted_write_keeps_the_previous_files(tmp_path, monkeypatch):
    _fake_runs(monkeypatch)
    kwargs = dict(iters=4, repeats=1, work_dir=str(tmp_path), evals=1,
                  skip=0, arsam=dict(window=2, warmup_iters=1))
    bench([TOY], ['base'], **kwargs)
    records = (tmp_path / 'records.json').read_text()
    report = (tmp_path / 'report.json').read_text()
    # Resuming into a second seed is killed while records.json is written.
    _dump_cut_short(monkeypatch)
    with pytest.raises(_Interrupted):
        bench([TOY], ['base'], **dict(kwargs, repeats=2), resume=True)
    assert (tmp_path / 'records.json').read_text() == records
    with pytest.raises(_Interrupted):
        write_report(str(tmp_path))
    assert (tmp_path / 'report.json').read_text() == report
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'logs', 'plots', 'records.json', 'report.json', 'report.md']
    monkeypatch.undo()
    _fake_runs(monkeypatch)
    again = bench([TOY], ['base'], **dict(kwargs, repeats=2),
                  resume=True)
    assert [r['seed'] for r in again['records']] == [0, 1]


@pytest.mark.parametrize('text', [
    '', '{"command": "python tools/benchmark.py", "environm', '[]',
    '{"records": []}', '\xff\xfe'
])
def test_damaged_records_name_the_file(tmp_path, monkeypatch, text):
    from arsam_mm.benchmark.records import RecordsError
    calls = []
    _fake_runs(monkeypatch, calls)
    path = tmp_path / 'records.json'
    path.write_bytes(text.encode('latin-1'))
    with pytest.raises(RecordsError, match=f'{path} is damaged') as err:
        write_report(str(tmp_path))
    assert 'delete it' in str(err.value) and '--resume' in str(err.value)
    with pytest.raises(RecordsError, match=f'{path} is damaged'):
        bench([TOY], ['base'], iters=2, repeats=1,
              work_dir=str(tmp_path), resume=True)
    assert not calls and path.read_bytes() == text.encode('latin-1')


def test_cli_reports_damaged_records_without_traceback(tmp_path):
    path = tmp_path / 'records.json'
    path.write_text('{"command": "python tools/benchmark.py", "envir')
    for extra in (['--report-only'],
                  [TOY, '--resume', '--iters', '2', '--repeats', '1']):
        out = subprocess.run(
            [sys.executable, 'tools/benchmark.py', '--work-dir',
             str(tmp_path)] + extra,
            cwd=ROOT, capture_output=True, text=True)
        assert out.returncode != 0, extra
        assert f'{path} is damaged' in out.stderr, out.stderr
        assert 'Traceback' not in out.stderr, out.stderr
    assert not (tmp_path / 'runs').exists()


def test_resume_refuses_a_changed_config(tmp_path, monkeypatch):
    from arsam_mm.benchmark import suite
    from arsam_mm.benchmark.records import RecordsError
    calls, warnings = [], []
    _fake_runs(monkeypatch, calls)
    monkeypatch.setattr(suite, 'print_log',
                        lambda msg, **kwargs: warnings.append(msg))
    base = tmp_path / 'base.py'
    base.write_text(Path(TOY).read_text())
    config = tmp_path / 'toy_child.py'
    config.write_text("_base_ = ['./base.py']\n")
    kwargs = dict(iters=4, repeats=1, work_dir=str(tmp_path / 'work'),
                  evals=1, skip=0, arsam=dict(window=2, warmup_iters=1))
    bench([str(config)], ['base', 'sam'], **kwargs)
    assert len(calls) == 2
    records_path = tmp_path / 'work' / 'records.json'
    saved = json.loads(records_path.read_text())
    digests = {r['config_sha256'] for r in saved['records']}
    assert len(digests) == 1 and len(digests.pop()) == 64
    # A comment does not change the content; a value in a base does.
    base.write_text('# a comment\n' + base.read_text())
    bench([str(config)], ['base', 'sam'], resume=True, **kwargs)
    assert len(calls) == 2 and not warnings
    base.write_text(base.read_text().replace('lr=0.1', 'lr=0.2'))
    with pytest.raises(RecordsError, match=(
            f'content of config {config} changed since 2 of its runs')):
        bench([str(config)], ['base', 'sam'], resume=True, **kwargs)
    assert len(calls) == 2
    assert json.loads(records_path.read_text()) == saved
    # Records from before digests existed are kept, with a warning.
    for r in saved['records']:
        del r['config_sha256']
    records_path.write_text(json.dumps(saved))
    again = bench([str(config)], ['base', 'sam'], resume=True, **kwargs)
    assert len(calls) == 2 and len(again['records']) == 2
    assert len(warnings) == 1 and 'predate config digests' in warnings[0]
    assert str(config) in warnings[0]


@pytest.mark.parametrize('name', [
    'quick', 'label_noise', 'frontier/classification',
    'frontier/segmentation', 'frontier/pose', 'frontier/segmentation_1200',
    'frontier_test/classification', 'frontier_test/search_pose',
    'frontier_test/pose', 'frontier_test/segmentation_1200',
    'frontier_test/segmentation'
])
def test_committed_records_still_resume_and_report(tmp_path, monkeypatch,
                                                   name):
    monkeypatch.chdir(ROOT)
    calls, warnings = [], []
    _fake_runs(monkeypatch, calls)
    from arsam_mm.benchmark import suite
    monkeypatch.setattr(suite, 'print_log',
                        lambda msg, **kwargs: warnings.append(msg))
    src = ROOT / 'reports' / name / 'records.json'
    (tmp_path / 'records.json').write_bytes(src.read_bytes())
    saved = json.loads(src.read_text())
    s = saved['settings']
    # The recorded settings, resumed: SuiteSettings.from_record reads
    # every recorded layout, and resuming checks them against the file.
    settings = SuiteSettings.from_record(s)
    again = run_suite(settings, str(tmp_path), resume=True)
    assert settings.mismatch(s) is None
    # One warning per config whose runs predate config digests.
    undigested = {r['task'] for r in saved['records']
                  if 'config_sha256' not in r}
    assert not calls
    assert len(warnings) == sum(Path(c).stem in undigested
                                for c in s['configs'])
    assert again['records'] == saved['records']
    committed = json.loads(
        (ROOT / 'reports' / name / 'report.json').read_text())
    assert again['rows'] == committed['rows']


def test_budgets_set_each_methods_own_knob():
    from arsam_mm.benchmark.variants import budget_arguments
    cfg = Config.fromfile(TOY)
    expected = dict(
        arsam=('ARSAMOptimWrapper', dict(target_ratio=0.2, window=7)),
        aesam=('AESAMOptimWrapper', dict(target_ratio=0.2)),
        periodic=('SAMOptimWrapper', dict(interval=5)),
        looksam=('LookSAMOptimWrapper', dict(interval=5)),
        randomsam=('RandomSAMOptimWrapper', dict(prob=0.2)),
        latesam=('LateSAMOptimWrapper', dict(target_ratio=0.2)))
    for name, (kind, args) in expected.items():
        v = make_variant(cfg, name, rho=0.1, arsam=dict(window=7),
                         budget=0.2)
        assert v.optim_wrapper.type == kind and v.optim_wrapper.rho == 0.1
        assert {k: v.optim_wrapper[k] for k in args} == args
    assert make_variant(cfg, 'gsam').optim_wrapper.type == 'GSAMOptimWrapper'
    assert budget_arguments('looksam', 0.3) == dict(interval=3)
    assert budget_arguments('periodic', 1.0) == dict(interval=1)
    with pytest.raises(ValueError, match='takes no budget'):
        make_variant(cfg, 'sam', budget=0.2)
    with pytest.raises(ValueError,
                       match=r'budget must be in \[0, 1\], got 1.5'):
        budget_arguments('arsam', 1.5)
    with pytest.raises(ValueError, match=r'budget must be in \(0, 1\], got 0'):
        budget_arguments('randomsam', 0)


def test_suite_with_budgets_runs_every_budgeted_method_at_each(
        tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    calls = []
    _fake_runs(monkeypatch, calls)
    kwargs = dict(iters=4, repeats=2, work_dir=str(tmp_path), evals=1,
                  budgets=[0.25, 0.5], jobs=2)
    report = bench([TOY], ['base', 'sam', 'arsam', 'looksam'], **kwargs)
    runs = sorted((c['optimizer'], c['budget'], c['seed']) for c in calls)
    assert runs == sorted(
        [('base', None, s) for s in (0, 1)] +
        [('sam', None, s) for s in (0, 1)] +
        [(o, b, s) for o in ('arsam', 'looksam') for b in (0.25, 0.5)
         for s in (0, 1)])
    assert {c['threads'] for c in calls} == {max(1, (os.cpu_count() or 1)
                                                 // 2)}
    labels = [r['label'] for r in report['rows']]
    assert labels == ['base', 'sam', 'arsam@0.25', 'looksam@0.25',
                      'arsam@0.5', 'looksam@0.5']
    text = report['markdown']
    assert '### toy_sgd: accuracy/top1 against cost' in text
    assert (tmp_path / 'plots' / 'toy_sgd_frontier.png').stat().st_size > 0
    # resume with one more budget runs only its runs
    calls.clear()
    bench([TOY], ['base', 'sam', 'arsam', 'looksam'], resume=True,
          **dict(kwargs, budgets=[0.25, 0.5, 0.1]))
    assert sorted({(c['optimizer'], c['budget']) for c in calls}) == [
        ('arsam', 0.1), ('looksam', 0.1)]
    with pytest.raises(ValueError, match=r'budgets must be in \(0, 1\]'):
        bench([TOY], ['arsam'], **dict(kwargs, budgets=[0]))
    with pytest.raises(ValueError, match='need a budgeted optimizer'):
        bench([TOY], ['base', 'sam'], **kwargs)
    with pytest.raises(ValueError, match='jobs must be >= 1'):
        bench([TOY], ['arsam'], **dict(kwargs, jobs=0))


def _row(optimizer, budget, mean, sd, evals, values=None):
    return dict(task='t', optimizer=optimizer, budget=budget,
                label=f'{optimizer}@{budget}' if budget else optimizer,
                metric='m', metric_mean=mean, metric_sd=sd,
                grad_evals_per_iter=evals, cost_x_base=None, seeds=3,
                metric_by_seed=[[s, v] for s, v in enumerate(values or [])])


#: Each seed moves every variant together (seeds 0-2), as in the suites.
_SEED_SHIFT = (0.0, 5.0, -3.0)


def _paired_rows(spec, noise=0.2, rng_seed=0):
    """Rows of variants ``(optimizer, budget, mean, evals)``: per seed the
    mean + the seed's shift + run-to-run noise."""
    import numpy as np
    rng = np.random.default_rng(rng_seed)
    rows = []
    for optimizer, budget, mean, evals in spec:
        values = [mean + shift + rng.normal(0, noise)
                  for shift in _SEED_SHIFT]
        rows.append(_row(optimizer, budget, float(np.mean(values)),
                         float(np.std(values, ddof=1)), evals, values))
    return rows


_SPEC = [('base', None, 80, 1.0), ('sam', None, 90, 2.0),
         ('arsam', 0.1, 86, 1.1), ('periodic', 0.1, 84, 1.1),
         ('arsam', 0.3, 89.5, 1.3), ('periodic', 0.3, 89.5, 1.33),
         ('arsam', 0.5, 88, 1.5), ('periodic', 0.5, 90, 1.5)]


def keep_at(result, budget, method='arsam'):
    return result['keeps'][budget][method]


def test_frontier_calls_a_method_ahead_only_when_paired_tests_say_so():
    """The seeds move every variant by up to 8 points, far beyond the
    differences (the former rule's sds): only the paired comparisons see
    ARSAM 2 ahead of periodic at 0.1 and 2 behind at 0.5."""
    from arsam_mm.benchmark.frontier import analyse
    from arsam_mm.benchmark.markdown import frontier_markdown
    from arsam_mm.benchmark.stats import TwoWay
    rows = _paired_rows(_SPEC)
    assert all(r['metric_sd'] > 2 for r in rows)
    result = analyse(rows, 't')
    # each budget's family: 2 methods x (base, SAM) + ARSAM - periodic
    assert [len(f) for f in result['comparisons'].values()] == [5, 5, 5]
    first = result['comparisons'][0.1]
    assert [(c['a'], c['b']) for c in first] == [
        ('arsam@0.1', 'base'), ('arsam@0.1', 'sam'),
        ('periodic@0.1', 'base'), ('periodic@0.1', 'sam'),
        ('arsam@0.1', 'periodic@0.1')]
    model = TwoWay({r['label']: dict(r['metric_by_seed']) for r in rows})
    assert result['model']['df'] == 14 and result['model']['sd'] == \
        pytest.approx(model.sd)
    est = model.contrast({'arsam@0.1': 1, 'periodic@0.1': -1})
    assert (first[4]['mean'], first[4]['lo'], first[4]['p']) == (
        pytest.approx(est.mean), pytest.approx(est.lo), pytest.approx(est.p))
    assert [c['ahead'] for c in first] == [
        'arsam@0.1', 'sam', 'periodic@0.1', 'sam', 'arsam@0.1']
    assert result['arsam_behind'] == {0.1: [], 0.3: [], 0.5: ['periodic']}
    assert result['arsam_ahead'] == {0.1: ['periodic'], 0.3: [], 0.5: []}
    tie = result['comparisons'][0.3][4]
    assert tie['ahead'] is None and tie['p_holm'] > 0.05
    assert tie['seeds_needed'] is None or tie['seeds_needed'] > 3
    # SAM beats the base: the gate passes, and the shares are judged
    assert result['gate']['passed']
    keep = result['keeps'][0.1]
    means = {r['label']: r['metric_mean'] for r in rows}
    assert keep['arsam']['share'] == pytest.approx(
        (means['arsam@0.1'] - means['base']) /
        (means['sam'] - means['base']))
    assert keep['arsam']['keeps'] and not keep['periodic']['keeps']
    assert keep['arsam']['lo'] < keep['arsam']['share'] < keep['arsam']['hi']
    assert result['keeps_half']['arsam']['label'] == 'arsam@0.1'
    assert result['keeps_half']['periodic']['label'] == 'periodic@0.3'
    assert result['cheapest']['label'] == 'arsam@0.1'
    # the target: the largest estimated share within 1.3 evals (periodic
    # at 0.3 takes 1.33), 0.925 [0.898, 0.952] here
    target = result['target']
    assert target['label'] == 'arsam@0.3' and target['evals'] == 1.3
    assert target['share'] == pytest.approx(keep_at(result, 0.3)['share'])
    assert target['met'] and target['lo'] < 0.9 < target['share']
    text = frontier_markdown(result, 't')
    assert ("keeps at least 0.9 of SAM's gain (estimated share) at <= 1.3 "
            'gradient evaluations per iteration: met in the estimate '
            '(arsam@0.3, 1.30 evals, share +0.925 [0.898, 0.952]; the '
            'interval reaches below 0.9, so these seeds do not establish '
            'it)') in text
    assert 'not met: at budget 0.5 periodic ahead' in text
    assert 'Target' not in frontier_markdown(result, 't', targets=False)
    for mean, verdict in ((90, 'met (arsam@0.3, 1.30 evals, share +0.975 '
                               '[0.948, 1]; the interval excludes shares '
                               'below 0.9)'),
                          (88, 'not met (closest: arsam@0.3, 1.30 evals, '
                               'share +0.774')):
        spec = [s if s[:2] != ('arsam', 0.3) else ('arsam', 0.3, mean, 1.3)
                for s in _SPEC]
        assert f'iteration: {verdict}' in frontier_markdown(
            analyse(_paired_rows(spec), 't'), 't')
    assert 'SAM does not beat' not in text
    assert '(5 at budget 0.1, 5 at budget 0.3, 5 at budget 0.5)' in text
    assert '| 0.1 | arsam@0.1 - periodic@0.1 | +' in text

    # SAM level with the base: the gate fails, no share is judged
    rows = _paired_rows([('sam', None, 80.1, 2.0)] + _SPEC[:1] + _SPEC[2:])
    result = analyse(rows, 't')
    assert not result['gate']['passed'] and result['keeps'] == {}
    assert result['cheapest'] is None and result['target'] is None
    text = frontier_markdown(result, 't')
    assert '**SAM does not beat the base optimizer on this task**' in text
    assert 'evaluations per iteration: not judged (SAM does not beat' in text
    assert analyse([_row('base', None, 80, 1, 1.0)], 't') is None
    # a variant with fewer seeds (a suite cut short) is left out, and named
    rows.append(dict(_row('looksam', 0.3, 99, 0, 1.33, [99]), seeds=1))
    result = analyse(rows, 't')
    assert 'looksam' not in result['cells']
    assert result['partial'] == ['looksam@0.3']
    assert 'Left out (fewer seeds' in frontier_markdown(result, 't')
    # three seeds each, but not the same three: nothing is paired
    rows = _paired_rows(_SPEC)
    rows[0]['metric_by_seed'] = [[s + 3, v] for s, v in
                                 rows[0]['metric_by_seed']]
    result = analyse(rows, 't')
    assert result['model'] is None and result['comparisons'] == {}
    text = frontier_markdown(result, 't')
    assert '**Fewer than 2 seeds shared by every variant**' in text
    assert 'Target' not in text


def test_a_one_seed_frontier_names_no_leader_and_judges_no_target():
    """One seed has no spread (as `make bench` runs): a lead of 10 points
    between single runs is not called ahead, and no target is judged."""
    from arsam_mm.benchmark.frontier import analyse
    from arsam_mm.benchmark.markdown import frontier_markdown
    from arsam_mm.benchmark.report import aggregate
    rows = [dict(_row(*args), seeds=1) for args in (
        ('base', None, 80, None, 1.0, [80]), ('sam', None, 70, None, 2.0,
                                              [70]),
        ('arsam', 0.3, 60, None, 1.3, [60]),
        ('periodic', 0.3, 70, None, 1.3, [70]))]
    result = analyse(rows, 't')
    assert result['seeds'] == 1 and result['model'] is None
    assert result['comparisons'] == {} and result['gate'] is None
    assert result['arsam_behind'] == {} and result['cheapest'] is None
    text = frontier_markdown(result, 't')
    assert 'One seed per method: no spread' in text
    assert '| periodic | 70 (1.30 evals) |' in text  # no "± 0"
    for verdict in ('Target', 'SAM does not beat', 'ahead |'):
        assert verdict not in text
    # aggregate: one seed's spread is None, not 0
    row, = aggregate([_record('t', 'base', 0, [0.1] * 4, [0] * 4, 50.0)])
    assert row['metric_mean'] == 50.0 and row['metric_sd'] is None
    assert row['sec_sd'] is None
    assert row['metric_by_seed'] == [[0, 50.0]]


def test_cli_rejects_a_bad_budget_without_traceback(tmp_path):
    out = subprocess.run(
        [sys.executable, 'tools/benchmark.py', TOY, '--budgets', '1.5',
         '--work-dir', str(tmp_path)], cwd=ROOT, capture_output=True,
        text=True)
    assert out.returncode != 0
    assert 'error: budgets must be in (0, 1], got 1.5' in out.stderr
    assert 'Traceback' not in out.stderr


def test_step_costs_price_the_runs_of_a_real_suite(tmp_path, monkeypatch):
    """End to end on the toy config: step costs measured in their own
    process, every run's passes priced with them, loads recorded.
    Late-phase SAM gets the run length from the worker's Runner: its last
    3 of 6 steps are SAM steps."""
    monkeypatch.chdir(ROOT)
    # The step-cost process runs 2 warm-up + 4 timed rounds: late-phase SAM
    # at 0.5 takes SAM steps in the last 3 of those 6, so one of its
    # one-pass steps is timed (with 3 timed rounds, half up gives 3 SAM
    # steps of 5 and both one-pass steps fall in the warm-up).
    report = bench([TOY], ['base', 'sam', 'periodic', 'latesam'],
                   iters=6, repeats=1, work_dir=str(tmp_path), evals=1,
                   budgets=[0.5], jobs=2, cost_rounds=4)
    saved = json.loads((tmp_path / 'records.json').read_text())
    costs = saved['step_costs']['toy_sgd']
    assert set(costs['samples']) == {'base', 'sam_two', 'periodic_one',
                                     'periodic_two', 'latesam_one',
                                     'latesam_two'}
    assert costs['clock'] == 'process CPU time'
    rows = {r['label']: r for r in report['rows']}
    assert rows['base']['cost_x_base'] == 1.0
    assert rows['sam']['cost_x_base'] == pytest.approx(
        costs['x_base']['sam_two'])
    x = costs['x_base']
    assert rows['periodic@0.5']['cost_x_base'] == pytest.approx(
        (x['periodic_one'] + x['periodic_two']) / 2)
    late = rows['latesam@0.5']
    assert late['grad_evals_per_iter'] == 1.5
    assert late['cost_x_base'] == pytest.approx(
        (x['latesam_one'] + x['latesam_two']) / 2)
    assert all(len(r['result']['load']) == 2 for r in saved['records'])
    assert 'Step costs' in report['markdown']


def test_suite_runs_each_configs_own_length_scaled(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    calls = []
    _fake_runs(monkeypatch, calls)
    report = bench([TOY], ['base', 'arsam'], iters=None, scale=0.5,
                   repeats=1, work_dir=str(tmp_path), evals=1)
    assert [c['iters'] for c in calls] == [10, 10]  # toy max_iters 20
    assert calls[1]['arsam'] == default_arsam(10)
    assert "each config's own max_iters x 0.5" in report['markdown']
    with pytest.raises(ValueError, match='scale must be > 0'):
        bench([TOY], ['base'], iters=None, scale=0, repeats=1,
              work_dir=str(tmp_path))
    with pytest.raises(RecordsError, match='scale was 0.5, now None'):
        bench([TOY], ['base'], iters=None, repeats=1, resume=True,
              work_dir=str(tmp_path), evals=1)


def test_task_rho_gives_a_task_its_own_radius(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    calls = []
    _fake_runs(monkeypatch, calls)
    bench([TOY], ['base', 'sam'], iters=4, repeats=1,
          work_dir=str(tmp_path), evals=1, task_rho=dict(toy_sgd=0.2))
    assert [c['rho'] for c in calls] == [0.2, 0.2]
    with pytest.raises(ValueError, match=r"task_rho names tasks \['toy'\]"):
        bench([TOY], ['base'], iters=4, repeats=1,
              work_dir=str(tmp_path), task_rho=dict(toy=0.2))


def test_quick_suite_is_the_frontier_tasks_with_their_radii():
    """`make bench` runs the frontier configs short, each with the radius
    its search chose, and the Makefile generates the data they read."""
    sys.path.insert(0, str(ROOT / 'tools'))
    try:
        import benchmark as cli
    finally:
        sys.path.pop(0)
    stems = [Path(c).stem for c in cli.QUICK['configs']]
    assert all('/frontier/' in c and (ROOT / c).exists()
               for c in cli.QUICK['configs'])
    assert set(cli.QUICK['task_rho']) <= set(stems)
    makefile = (ROOT / 'Makefile').read_text()
    for config in cli.QUICK['configs']:
        cfg = Config.fromfile(str(ROOT / config))
        root = cfg.train_dataloader.dataset.data_root.rstrip('/')
        assert f'--out {root}' in makefile, root


def test_quick_is_a_profile_the_flags_override(cli):
    """--quick selects the QUICK preset, a plain run the DEFAULT one; a
    flag given overrides its setting (--iters the run's length, scale
    included), and a frontier's validations, test split and optimizers
    follow from the budgets where nothing sets them."""
    parser = cli.build_parser()

    def settings(*argv):
        return cli.parse_args(parser, list(argv)).settings

    quick = settings('--quick')
    assert {k: quick[k] for k in cli.QUICK} == cli.QUICK
    assert quick['optimizers'] == ['base', 'sam', 'arsam', 'latesam']
    assert quick['score_test'] is True and quick['evals'] == 8
    assert quick['repeats'] >= 3 and quick['budgets'] == [0.5]
    assert settings('--quick', '--repeats', '3', '--jobs', '1') == dict(
        quick, repeats=3, jobs=1)
    assert settings('--quick', '--iters', '8') == dict(quick, iters=8,
                                                       scale=1.0)
    assert settings('--quick', TOY)['configs'] == [TOY]
    plain = settings(TOY)
    assert plain == dict(cli.DEFAULT, configs=[TOY], score_test=False,
                         optimizers=['base', 'sam', 'arsam'])
    assert settings(TOY, '--iters-scale', '0.5') == dict(plain, iters=None,
                                                         scale=0.5)
    frontier = settings(TOY, '--budgets', '0.5')
    assert frontier['evals'] == cli.FRONTIER_EVALS
    assert frontier['score_test'] and 'gsam' not in frontier['optimizers']
    assert settings(TOY, '--budgets', '0.5', '--evals', '2',
                    '--no-score-test')['evals'] == 2
    smoke = settings(TOY, '--smoke', '--iters', '4', '--budgets', '0.5')
    assert smoke['smoke'] == 'data/smoke' and not smoke['score_test']
    assert settings(TOY, '--method-args', 'looksam.alpha=0.2')[
        'method_args'] == {'looksam': {'alpha': 0.2}}


def test_settings_are_checked_frozen_and_recorded(monkeypatch):
    import dataclasses
    monkeypatch.chdir(ROOT)
    settings = SuiteSettings([TOY], ['periodic', 'arsam', 'base'], iters=300,
                             repeats=2, jobs=2, task_rho=dict(toy_sgd=0.1))
    assert settings.optimizers == ['base', 'arsam', 'periodic']
    assert settings.variants == [('base', None), ('arsam', None),
                                 ('periodic', None)]
    assert settings.rho_of('toy_sgd') == 0.1
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.iters = 0
    recorded = settings.record()
    assert recorded['arsam'] == default_arsam(300)
    assert recorded['threads'] == settings.threads
    assert 'scale' not in recorded and 'score_test' not in recorded
    again = SuiteSettings.from_record(recorded)
    assert again.record() == recorded and again.mismatch(recorded) is None
    assert SuiteSettings.from_record(dict(recorded, evals=2)).mismatch(
        recorded) == ('evals', 4, 2)
    assert set(SuiteSettings.RESUME_KEYS) <= {
        f.name for f in dataclasses.fields(SuiteSettings)}
    # A note is recorded and printed, but a resumed suite may change it.
    noted = SuiteSettings.from_record(dict(recorded, note='not the GPU'))
    assert noted.record()['note'] == 'not the GPU' and 'note' not in \
        SuiteSettings.RESUME_KEYS and noted.mismatch(recorded) is None
    from arsam_mm.benchmark.markdown.report import report_markdown
    env = dict(date='d', device='cpu', machine='m', python='3',
               versions={})
    assert '\n- what this suite cannot show: not the GPU\n' in \
        report_markdown([], {}, env, 'cmd', noted.record(), [], ROOT)
    plain = report_markdown([], {}, env, 'cmd', recorded, [], ROOT)
    assert 'cannot show' not in plain
    with pytest.raises(ValueError,
                       match="note must be one line of text, got 'a\\\\nb'"):
        SuiteSettings.from_record(dict(recorded, note='a\nb'))


def test_load_beyond_the_suites_own_threads_flags_the_raw_columns():
    from arsam_mm.benchmark.report import load_report

    def rec(*load):
        return dict(result=dict(load=list(load)))

    settings = dict(jobs=2, threads=1)
    quiet = load_report([rec(0.3, 1.9), rec(2.0, 2.4)], {}, settings)
    assert quiet == dict(own=2, min=0.3, max=2.4, changed=False)
    costs = {'t': dict(load=[3.1, 2.0])}  # a hog during the step costs
    assert load_report([rec(1.0, 2.0)], costs, settings)['changed']
    assert load_report([dict(result={})], {}, settings) == {}


def test_method_args_reach_their_wrapper_only():
    from arsam_mm.benchmark.variants import parse_method_args
    args = parse_method_args({'looksam.alpha': 0.1, 'gsam.alpha': 0.3})
    assert args == {'looksam': {'alpha': 0.1}, 'gsam': {'alpha': 0.3}}
    cfg = Config.fromfile(TOY)
    look = make_variant(cfg, 'looksam', budget=0.2, method_args=args)
    assert look.optim_wrapper.alpha == 0.1 and look.optim_wrapper.interval == 5
    assert 'alpha' not in make_variant(cfg, 'sam', method_args=args
                                       ).optim_wrapper
    with pytest.raises(ValueError, match="OPTIMIZER.ARGUMENT.*'alpha'"):
        parse_method_args({'alpha': 0.1})
    with pytest.raises(ValueError, match="'base.lr'"):
        parse_method_args({'base.lr': 0.1})


@pytest.fixture
def cli():
    """tools/benchmark.py as a module."""
    sys.path.insert(0, str(ROOT / 'tools'))
    try:
        import benchmark
    finally:
        sys.path.pop(0)
    return benchmark


_LOOKSAM_ARGS = ('accumulative_counts, alpha, clip_grad, interval, '
                 'optimizer, replay_random, rho')
#: How a key of --method-args that names no method is refused.
_KEYS = ('argument --method-args: method_args keys must be '
         f'OPTIMIZER.ARGUMENT with OPTIMIZER in {tuple(WRAPPERS)}, got ')
_ARSAM_ARGS = ('accumulative_counts, alpha, beta, clip_grad, max_reuse_steps,'
               ' max_sam_ratio, num_blocks, optimizer, replay_random, rho, '
               'seed, stat_tensors, target_ratio, warmup_epochs, '
               'warmup_iters, warmup_ratio, window')


@pytest.mark.parametrize('argv,message', [
    (['no_such_config.py'], "config file 'no_such_config.py' does not exist"),
    ([TOY, '--method-args', 'foo'],
     "argument --method-args: expected KEY=VALUE pairs, got 'foo'"),
    ([TOY, '--method-args', 'alpha=0.1'],
     _KEYS + "'alpha'"),
    ([TOY, '--method-args', 'adam.lr=0.1'],
     _KEYS + "'adam.lr'"),
    ([TOY, '--method-args', 'looksam.alhpa=0.1'],
     "method_args of looksam: LookSAMOptimWrapper got an unknown argument "
     f"'alhpa' (did you mean 'alpha'?); valid arguments: {_LOOKSAM_ARGS}"),
    ([TOY, '--method-args', 'looksam.alpha=-0.5'],
     'method_args of looksam: alpha must be >= 0, got -0.5'),
    ([TOY, '--budgets', '0.5', '--method-args', 'arsam.windw=10'],
     "method_args of arsam: ARSAMOptimWrapper got an unknown argument "
     f"'windw' (did you mean 'window'?); valid arguments: {_ARSAM_ARGS}"),
    ([TOY, '--arsam', 'windw=10'],
     "arsam: ARSAMOptimWrapper got an unknown argument 'windw' (did you "
     f"mean 'window'?); valid arguments: {_ARSAM_ARGS}"),
    ([TOY, '--rho', '-1'], 'rho must be >= 0, got -1.0'),
    ([TOY, '--rho', 'nan'], 'rho must be finite, got nan'),
    ([TOY, '--rho', 'abc'], "argument --rho: invalid float value: 'abc'"),
    ([TOY, '--task-rho', 'toy_sgd=-0.1'],
     'task_rho of toy_sgd must be >= 0, got -0.1'),
    ([TOY, '--task-rho', 'toy_sgd=abc'],
     "task_rho of toy_sgd must be a number, got 'abc'"),
    ([TOY, '--task-rho', 'toy_sgd'],
     "argument --task-rho: expected KEY=VALUE pairs, got 'toy_sgd'"),
    ([TOY, '--task-rho', 'toy=0.1'],
     "task_rho names tasks ['toy'] that are not among the configs' file "
     "names ['toy_sgd']"),
    ([TOY, '--target', 'toy_sgd=high'],
     "targets of toy_sgd must be a number, got 'high'"),
    ([TOY, '--skip', '-1'], 'skip must be >= 0, got -1'),
    ([TOY, '--jobs', '0'], 'jobs must be >= 1, got 0'),
    ([TOY, '--cfg-options', 'foo'],
     "argument --cfg-options: expected KEY=VALUE pairs, got 'foo'"),
    ([TOY, '--budgets', '0.5'],  # frontier runs score a test split
     f'score_test: config {TOY}: scoring the test split needs '
     'test_dataloader and test_evaluator in the config, got None and None'),
])
def test_cli_rejects_each_bad_argument_in_one_line(cli, tmp_path, capsys,
                                                   monkeypatch, argv,
                                                   message):
    """One line on stderr naming the argument and the value, exit status 2,
    and nothing run: no step costs, no run, no work dir."""
    from arsam_mm.benchmark import suite
    spawned = []
    monkeypatch.setattr(suite, '_spawn', lambda *a: spawned.append(a))
    monkeypatch.chdir(ROOT)
    work_dir = tmp_path / 'bench'
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv + ['--iters', '4', '--repeats', '1', '--cost-rounds',
                         '2', '--work-dir', str(work_dir)])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert err.endswith(f': error: {message}\n'), err
    assert err.count('\n') == 1 and out == ''
    assert not spawned and not work_dir.exists()


def test_cli_rejects_a_config_it_cannot_use(cli, tmp_path, capsys):
    """A config that does not load, and a work dir that is a file."""
    bad = tmp_path / 'broken.py'
    bad.write_text('x = (\n')
    argv = ['--iters', '4', '--work-dir', str(tmp_path / 'bench')]
    with pytest.raises(SystemExit):
        cli.main([str(bad)] + argv)
    assert capsys.readouterr().err.endswith(
        f": error: config file '{bad}' cannot be loaded: SyntaxError: '(' "
        'was never closed (<unknown>, line 1)\n')
    with pytest.raises(SystemExit):
        cli.main([TOY, '--iters', '4', '--work-dir', str(bad)])
    assert capsys.readouterr().err.endswith(
        f": error: work_dir must be a folder, got the file '{bad}'\n")
    assert not (tmp_path / 'bench').exists()


#: A config with an ``mmseg::`` base: mmengine resolves it with
#: pkg_resources.
SEG = ('configs/mmseg/frontier/'
       'fcn_r18-w32-2s-d4_1xb8-320iter_cityscapes-64x64-noise20_sgd.py')


def test_cli_names_a_mistyped_method_argument_without_traceback(tmp_path):
    """The real process: the error line is all of stderr (the config, loaded
    by the checks, adds no pkg_resources warning)."""
    out = subprocess.run(
        [sys.executable, 'tools/benchmark.py', SEG, '--method-args',
         'looksam.alhpa=0.1', '--work-dir', str(tmp_path / 'bench')],
        cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr == (
        'benchmark.py: error: method_args of looksam: LookSAMOptimWrapper '
        "got an unknown argument 'alhpa' (did you mean 'alpha'?); valid "
        f'arguments: {_LOOKSAM_ARGS}\n')
    assert out.stdout == '' and not (tmp_path / 'bench').exists()


def test_a_run_process_loads_a_config_without_pkg_resources_warning():
    """A run's process, started as the suite starts it (its worker module
    imported first), loads a config with an ``mmseg::`` base, which makes
    mmengine import pkg_resources: no deprecation warning in its log, with
    setuptools 80.9 to 81 (which warn) as with the pinned 80.8.0."""
    code = ('import sys; import arsam_mm.benchmark.worker; '
            'from mmengine.config import Config; '
            'Config.fromfile(sys.argv[1]); '
            'from mmengine.utils import is_installed; '
            "print(is_installed('mmseg'))")
    out = subprocess.run([sys.executable, '-c', code, SEG], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == 'True\n'
    assert 'pkg_resources' not in out.stderr, out.stderr


def test_suite_takes_a_zero_radius_and_the_quick_settings(tmp_path,
                                                          monkeypatch, cli):
    """rho = 0 is SAM's limiting case (the base optimizer's steps), which
    the wrappers accept; `make bench`'s settings pass the checks."""
    monkeypatch.chdir(ROOT)
    calls = []
    _fake_runs(monkeypatch, calls)
    bench([TOY], ['base', 'sam'], iters=4, repeats=1,
          work_dir=str(tmp_path), evals=1, rho=0.0)
    assert [c['rho'] for c in calls] == [0.0, 0.0]
    quick = cli.parse_args(cli.build_parser(), ['--quick']).settings
    SuiteSettings(**quick)  # checked when made


# ------------------------------------------------------------- test splits

TOY_TEST = str(ROOT / 'tests' / 'configs' / 'toy_sgd_test.py')


def _toy_runner(tmp_path, name, score_test, iters=16, evals=8):
    """An in-process Runner of the toy config with a test split, as the
    benchmark's worker sets it up, and the metrics of each validation."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from arsam_mm.benchmark.worker import _iteration_budget, score_test_split
    from tests._toy import ToyDataset
    cfg = Config.fromfile(TOY_TEST)
    _iteration_budget(cfg, iters, evals)
    if score_test:
        score_test_split(cfg)
    cfg.work_dir = str(tmp_path / name)
    cfg.experiment_name = name
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1,
                                        save_last=False)
    seen = []
    test = ToyDataset(size=40, seed=0, sample_seed=2)  # the test split

    class Keep(Hook):
        def after_val_epoch(self, runner, metrics=None):
            with torch.no_grad():  # an independent accuracy on test
                pred = runner.model.logits(test.inputs).argmax(1)
            metrics = dict(metrics, reference=100 * (
                pred == test.labels).double().mean().item())
            seen.append((runner.iter, metrics))

    runner = Runner.from_cfg(cfg)
    runner.register_hook(Keep())
    return runner, seen


def test_val_test_loop_scores_the_test_split_at_every_validation(tmp_path):
    runner, seen = _toy_runner(tmp_path, 'both', score_test=True)
    assert type(runner.val_loop).__name__ == 'ValTestLoop'
    runner.train()
    assert [it for it, _ in seen] == list(range(2, 17, 2))
    for _, metrics in seen:  # val first, so save_best='auto' picks val
        reference = metrics.pop('reference')
        assert list(metrics) == ['accuracy/top1', 'test/accuracy/top1']
        assert metrics['test/accuracy/top1'] == pytest.approx(reference)
    # The last test figure is mmengine's own TestLoop on the final weights.
    assert runner.test() == {'accuracy/top1': seen[-1][1][
        'test/accuracy/top1']}
    # Scoring the test split changes nothing else: the validation curve is
    # the one of the same run without it, and the test split is not val.
    plain, alone = _toy_runner(tmp_path, 'val', score_test=False)
    plain.train()
    for _, metrics in alone:
        metrics.pop('reference')
    assert [(it, m) for it, m in alone] == [
        (it, {'accuracy/top1': m['accuracy/top1']}) for it, m in seen]
    assert any(m['accuracy/top1'] != m['test/accuracy/top1']
               for _, m in seen)
    # ... and the training: the same weights, bit for bit.
    weights = runner.model.state_dict()
    for name, value in plain.model.state_dict().items():
        assert torch.equal(value, weights[name]), name


def test_scoring_the_test_split_needs_one_apart_from_val():
    from arsam_mm.benchmark.worker import score_test_split
    cfg = Config.fromfile(TOY)
    with pytest.raises(ValueError, match='needs test_dataloader and '
                       'test_evaluator in the config, got None and None'):
        score_test_split(cfg)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    with pytest.raises(ValueError, match="the config's test_dataloader is "
                       'its val_dataloader'):
        score_test_split(cfg)
    cfg = Config.fromfile(TOY_TEST)
    cfg.val_cfg = dict(type='MyLoop')
    with pytest.raises(ValueError, match="replaces ValLoop, but val_cfg is "
                       "{'type': 'MyLoop'}"):
        score_test_split(cfg)


def test_best_on_val_takes_the_earliest_of_ties():
    from arsam_mm.benchmark.report import best_on_val

    def evals(*values):
        return [dict(iter=i, metrics={} if v is None else {'m': v})
                for i, v in enumerate(values)]

    assert best_on_val(evals(1, 3, 2, 3), 'm') == 1
    assert best_on_val(evals(5, 5, 5), 'm') == 0
    assert best_on_val(evals(None, float('nan'), 2, 1), 'm') == 2
    assert best_on_val(evals(None, None), 'm') is None
    assert best_on_val([], 'm') is None


def _curve_record(optimizer, seed, vals, tests, budget=None, task='t'):
    """A run validated len(vals) times, 10 iterations apart, with val and
    test accuracy at each validation."""
    rec = _record(task, optimizer, seed, [1.0] * 10 * len(vals),
                  [0] * 10 * len(vals), vals[-1])
    rec['result']['evals'] = [
        dict(iter=10 * (i + 1), train_seconds=float(i), grad_evals=i,
             metrics={'accuracy/top1': v, 'test/accuracy/top1': t})
        for i, (v, t) in enumerate(zip(vals, tests))]
    rec['budget'] = budget
    return rec


def test_best_and_final_test_metrics_and_their_section():
    from arsam_mm.benchmark.frontier import analyse
    from arsam_mm.benchmark.markdown import best_vs_final_markdown
    recs = [
        _curve_record('base', 0, [80, 90, 85], [70, 88, 75]),
        _curve_record('base', 1, [82, 82, 81], [71, 60, 72]),  # tie: earliest
        _curve_record('sam', 0, [80, 86, 90], [70, 80, 91]),
        _curve_record('sam', 1, [84, 88, 86], [70, 87, 89]),
        _curve_record('arsam', 0, [80, 90, 90], [70, 84, 99], budget=0.5),
        _curve_record('arsam', 1, [81, 90, 91], [70, 84, 85], budget=0.5),
        _curve_record('periodic', 0, [1, 2, 3], [4, 5, 6], budget=0.5),
        _curve_record('periodic', 1, [1, 2, 3], [4, 5, 7], budget=0.5),
    ]
    rows = aggregate(recs, skip=0)
    by = {r['optimizer']: r for r in rows}
    base = by['base']
    assert base['metric'] == 'accuracy/top1'  # never the test metric
    assert base['test_metric'] == 'test/accuracy/top1'
    assert base['run_seeds'] == [0, 1]
    assert base['test_final'] == [75, 72]
    assert base['test_best_val'] == [88, 71]
    assert base['best_val_iter'] == [20, 10]
    assert base['test_best_val_mean'] == 79.5
    assert base['test_best_val_sd'] == pytest.approx(math.sqrt(2 * 8.5**2))
    assert by['arsam']['test_best_val'] == [84, 85]
    assert by['arsam']['best_val_iter'] == [20, 30]
    assert by['arsam']['test_final_mean'] == 92
    text = best_vs_final_markdown(rows).splitlines()
    assert text[0] == '## Test split: best-on-val and final checkpoints'
    assert '| t | base | 2 | 83.0000 ± 2.8284 | 73.5000 ± 2.1213 | ' \
        '79.5000 ± 12.0208 | 20, 10 |' in text
    assert '| t | arsam@0.5 | 2 | 90.5000 ± 0.7071 | 92.0000 ± 9.8995 | ' \
        '84.5000 ± 0.7071 | 20, 30 |' in text
    assert 'Metric: accuracy/top1 (test: test/accuracy/top1).' in text
    # The frontier scores what it is told: val by default, else test.
    cells = {m: analyse(rows, 't', metric=m)['cells']['arsam'][0.5]
             for m in ('metric', 'test_final', 'test_best_val')}
    assert [c['metric_mean'] for c in cells.values()] == [90.5, 92, 84.5]
    assert cells['test_best_val']['metric'] == \
        'test/accuracy/top1 (at best val)'
    # ... seed by seed, for its paired statistics
    assert cells['test_final']['metric_by_seed'] == [[0, 99], [1, 85]]
    assert cells['test_best_val']['metric_by_seed'] == [[0, 84], [1, 85]]
    assert cells['metric']['metric_by_seed'] == [[0, 90], [1, 91]]
    with pytest.raises(ValueError, match="metric must be one of "
                       r"\('metric', 'test_final', 'test_best_val'\), got "
                       "'test'"):
        analyse(rows, 't', metric='test')


def test_report_judges_the_targets_at_the_best_on_val_checkpoint(tmp_path):
    """With a test split the report gives the frontier of the final test
    metric, without targets, then the frontier of the test metric at the
    best-on-val checkpoint, which judges them (``frontier_best_val``)."""
    from arsam_mm.benchmark.reporting import write_report
    recs = [_curve_record(o, seed, [80, 90, v], [70, t + seed, t - seed],
                          budget=b)
            for o, b, v, t in (('base', None, 85, 75), ('sam', None, 90, 90),
                               ('arsam', 0.3, 90, 89),
                               ('periodic', 0.3, 86, 77))
            for seed in range(3)]
    settings = dict(configs=['t.py'], optimizers=['base', 'sam', 'arsam',
                                                  'periodic'],
                    iters=30, repeats=3, evals=3, skip=0, rho=0.05,
                    arsam=None, cfg_options={}, targets={}, budgets=[0.3],
                    jobs=1, threads=None, cost_rounds=0, score_test=True)
    env = dict(date='d', device='cpu', machine='m', python='3', versions={})
    (tmp_path / 'records.json').write_text(json.dumps(dict(
        command='cmd', environment=env, settings=settings, records=recs)))
    report = write_report(str(tmp_path))
    text = report['markdown']
    final = text.index('### t: test/accuracy/top1 (final) against cost')
    best = text.index('### t: test/accuracy/top1 (at best val) against cost')
    assert final < best and 'Target' not in text[final:best]
    assert text.count('Target: ARSAM on the frontier') == 1
    assert 'seed x variant model of the test metric at the best-on-val ' \
        'checkpoint' in text[best:]
    saved = json.loads((tmp_path / 'report.json').read_text())
    assert saved['frontier']['t']['scored'] == 'test_final'
    judged = saved['frontier_best_val']['t']
    assert judged['scored'] == 'test_best_val'
    # at the best-on-val checkpoint (the second validation, the earliest
    # of ties) ARSAM scores 89 + seed, SAM 90 + seed, the base 75 + seed
    assert judged['target']['label'] == 'arsam@0.3' and \
        judged['target']['share'] == pytest.approx(14 / 15)


def test_runs_without_a_test_split_report_as_before():
    from arsam_mm.benchmark.markdown import best_vs_final_markdown
    from arsam_mm.benchmark.plots import plot_val_test
    recs = [_record('t', 'base', 0, [1.0] * 4, [0] * 4, 80),
            _record('t', 'sam', 0, [2.0] * 4, [1] * 4, 90)]
    rows = aggregate(recs, skip=0)
    assert not any('test_metric' in r or 'test_final' in r for r in rows)
    assert 'No curves recorded: these runs scored no test split' in \
        best_vs_final_markdown(rows)
    assert plot_val_test('t', recs, Path('/nonexistent')) is None


@pytest.mark.timeout(600)
def test_suite_scores_val_and_test_and_reports_both(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    report = bench([TOY_TEST], ['base', 'sam'], iters=16, repeats=1,
                   work_dir=str(tmp_path), evals=8, score_test=True)
    raw = json.loads((tmp_path / 'records.json').read_text())
    assert raw['settings']['score_test'] is True
    for rec in raw['records']:  # the whole curve, both splits
        evals = rec['result']['evals']
        assert [e['iter'] for e in evals] == list(range(2, 17, 2))
        assert all(set(e['metrics']) == {'accuracy/top1',
                                         'test/accuracy/top1'}
                   for e in evals)
    row = {r['optimizer']: r for r in report['rows']}['sam']
    assert raw['records'][0]['result']['split_sizes'] == dict(
        train=64, val=48, test=40)
    evals = raw['records'][1]['result']['evals']
    assert row['test_final'] == [evals[-1]['metrics']['test/accuracy/top1']]
    text = (tmp_path / 'report.md').read_text()
    assert '## Test split: best-on-val and final checkpoints' in text
    assert '| toy_sgd_test | sam | 1 |' in text
    assert 'on the validation split (the test split: below)' in text
    assert 'Split sizes (dataset items): toy_sgd_test train 64, val 48, ' \
        'test 40.' in text
    plot = tmp_path / 'plots' / 'toy_sgd_test_val_test.png'
    assert plot.stat().st_size > 0 and f'({plot.relative_to(tmp_path)})' \
        in text
    with pytest.raises(RecordsError, match='score_test was True, now None'):
        bench([TOY_TEST], ['base', 'sam'], iters=16, repeats=1,
              work_dir=str(tmp_path), evals=8, resume=True)
