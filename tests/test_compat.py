"""``import arsam_mm`` and the compatibility layer (:mod:`arsam_mm.compat`):
what the import loads, and both branches of each part.

Branches that need another import state (a fresh interpreter, mmcv with or
without compiled ops) run in fresh interpreters, started together by one
fixture so that they overlap; the checkpoint cases run here.
"""
import importlib.machinery
import json
import os
import pickle
import pickletools
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import arsam_mm  # noqa: F401  (applies the compatibility layer)
from arsam_mm import compat

REPO = Path(__file__).resolve().parents[1]
SAFE_LOAD = compat._torch_version() >= (2, 6)
needs_safe_load = pytest.mark.skipif(
    not SAFE_LOAD, reason='torch < 2.6 loads without weights_only')


def _installed(*names):
    """Whether the packages are on the path (this module's finder aside)."""
    find_spec = importlib.machinery.PathFinder.find_spec
    return all(find_spec(name) is not None for name in names)


needs_models = pytest.mark.skipif(
    not _installed('mmcv', 'mmengine', 'mmseg', 'mmpose'),
    reason='needs mmcv, mmengine, mmsegmentation and mmpose')
needs_mmcv_lite = pytest.mark.skipif(
    not _installed('mmcv') or compat.mmcv_ops_available()
    or not compat.mmcv_lite_installed(),
    reason='needs mmcv-lite (mmcv without compiled ops)')

# Shared by the scenario scripts: report an error as [type, message].
_PRELUDE = '''
import json, sys

def error_of(fn):
    try:
        fn()
    except Exception as exc:
        return [type(exc).__name__, str(exc)]
    return None

out = {}
'''

# Nothing but ``import arsam_mm``: what it loads and installs.
_LIGHT = '''
finders = list(sys.meta_path)
import arsam_mm, sys
out['loaded'] = sorted(
    name for name in ('mmpretrain', 'torchvision', 'mmcv', 'mmseg', 'mmpose',
                      'mmdet') if name in sys.modules)
out['finders'] = [type(f).__name__ for f in sys.meta_path
                  if f not in finders]
out['mm_loaded'] = sorted(name for name in sys.modules
                          if name.split('.')[0] in ('mmengine', 'mmcv'))
out['engine_loaded'] = 'arsam_mm.engine' in sys.modules
import arsam_mm.core
out['core_loaded'] = sorted(
    name for name in sys.modules
    if name.split('.')[0] in ('mmengine', 'mmcv', 'mmseg', 'mmpose',
                              'mmdet', 'mmpretrain'))
'''

# Under mmengine, as a config's custom_imports does it.
_UNDER_MMENGINE = '''
import mmengine.config
from mmengine.registry import OPTIM_WRAPPERS
import arsam_mm
out['registered'] = OPTIM_WRAPPERS.get('ARSAMOptimWrapper').__name__
'''

# mmcv-lite as installed here.
_LITE = '''
import arsam_mm
from arsam_mm import compat
import mmseg.models, mmpose.models, mmpose.visualization
import torch, mmcv.ops
from mmengine.utils.dl_utils import collect_env, mmcv_full_available

out['ops_available'] = compat.mmcv_ops_available()
out['ext_is_stub'] = isinstance(sys.modules['mmcv._ext'],
                                compat._MissingMmcvExt)
boxes = torch.tensor([[0., 0., 2., 2.], [0., 0., 2., 1.]])
out['nms'] = error_of(
    lambda: mmcv.ops.nms(boxes, torch.tensor([.9, .8]), 0.5))
conv = mmcv.ops.DeformConv2d(2, 2, 3, padding=1)
x = torch.rand(1, 2, 5, 5)
out['dcn'] = error_of(lambda: conv(x, torch.zeros(1, 18, 5, 5)))

class MyDCN(mmcv.ops.ModulatedDeformConv2d):
    pass

out['dcn_subclass'] = error_of(lambda: MyDCN(2, 2, 3, padding=1)(
    x, torch.zeros(1, 18, 5, 5), torch.ones(1, 9, 5, 5)))
out['point_sample'] = list(
    mmcv.ops.point_sample(torch.rand(1, 1, 4, 4), torch.rand(1, 3, 2)).shape)
out['compiler'] = mmcv.ops.get_compiler_version()
out['mmcv_full_available'] = mmcv_full_available()
out['env'] = error_of(collect_env)
out['other_name'] = error_of(lambda: __import__('mmcv._ext2'))
'''

# Full mmcv: a compiled extension importable as ``mmcv._ext``.
_FULL = '''
import types

class FakeExt(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return lambda *args, **kwargs: 'compiled ' + name

fake = FakeExt('mmcv._ext')
sys.modules['mmcv._ext'] = fake
import arsam_mm
from arsam_mm import compat
import mmcv.ops

out['ops_available'] = compat.mmcv_ops_available()
out['ext_finder_installed'] = compat._MMCV_EXT_FINDER in sys.meta_path
out['ext_is_fake'] = sys.modules['mmcv.ops.nms'].ext_module is fake
out['compiler'] = mmcv.ops.get_compiler_version()
'''


class _Scenario:
    """One fresh interpreter; its result is read when first needed."""

    def __init__(self, name, code, workdir):
        self.name = name
        self.stdout = workdir / f'{name}.out'
        self.stderr = workdir / f'{name}.err'
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [str(REPO), env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
        script = _PRELUDE + code + "\nprint('RESULT', json.dumps(out))\n"
        with open(self.stdout, 'w') as out, open(self.stderr, 'w') as err:
            self.proc = subprocess.Popen([sys.executable, '-c', script],
                                         cwd=REPO,
                                         env=env,
                                         stdout=out,
                                         stderr=err)
        self._result = None

    def result(self):
        if self._result is None:
            rc = self.proc.wait(timeout=300)
            stdout = self.stdout.read_text()
            lines = [x for x in stdout.splitlines() if x.startswith('RESULT ')]
            assert rc == 0 and lines, (
                f'scenario {self.name} failed (rc={rc}):\n'
                f'{self.stderr.read_text()[-4000:]}')
            self._result = json.loads(lines[-1][len('RESULT '):])
        return self._result

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope='module')
def scenarios(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('compat')
    started = {
        name: _Scenario(name, code, workdir)
        for name, code in (('light', _LIGHT), ('lite', _LITE),
                           ('full', _FULL), ('mmengine', _UNDER_MMENGINE))
    }
    yield started
    for scenario in started.values():
        scenario.stop()


# ---------------------------------------------------------------------------
# import arsam_mm
# ---------------------------------------------------------------------------


def test_import_is_light(scenarios):
    """``import arsam_mm`` and ``import arsam_mm.core`` outside mmengine
    load no OpenMMLab module, no torchvision, nothing of the engine; at
    most the mmcv._ext finder (an import hook) is installed."""
    out = scenarios['light'].result()
    assert out['loaded'] == []
    expected = []
    if _installed('mmcv') and not compat.mmcv_ops_available() and \
            compat.mmcv_lite_installed():
        expected = ['_MmcvExtFinder']
    assert out['finders'] == expected
    assert out['mm_loaded'] == [] and out['core_loaded'] == []
    assert out['engine_loaded'] is False


@pytest.mark.skipif(not _installed('mmengine'), reason='needs mmengine')
def test_import_under_mmengine_registers_the_wrappers(scenarios):
    """A config's ``custom_imports=['arsam_mm']`` (mmengine imported first)
    registers the wrappers."""
    assert scenarios['mmengine'].result()['registered'] == \
        'ARSAMOptimWrapper'


def test_import_light_command():
    """The check as a user would type it."""
    code = ('import arsam_mm, sys; assert "mmpretrain" not in sys.modules '
            'and "torchvision" not in sys.modules')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=REPO)


# ---------------------------------------------------------------------------
# 1. mmcv-lite
# ---------------------------------------------------------------------------


@needs_models
@needs_mmcv_lite
def test_mmcv_lite_models_import_and_compiled_ops_raise(scenarios):
    out = scenarios['lite'].result()  # imported mmseg/mmpose models
    assert out['ops_available'] is False
    assert out['ext_is_stub'] is True
    for key in ('nms', 'dcn', 'dcn_subclass'):
        kind, message = out[key]
        assert kind == 'RuntimeError', (key, out[key])
        assert 'full mmcv with compiled ops' in message
        assert 'MMCV_WITH_OPS=1 pip install' in message
        assert '--no-build-isolation mmcv==' in message
    assert '`nms`' in out['nms'][1]
    assert '`deform_conv_forward`' in out['dcn'][1]


@needs_models
@needs_mmcv_lite
def test_mmcv_lite_keeps_pure_python_ops_and_env_report(scenarios):
    out = scenarios['lite'].result()
    assert out['point_sample'] == [1, 1, 3]
    assert out['compiler'].startswith('n/a')
    # mmengine now sees mmcv.ops as importable and checks DCN classes.
    assert out['mmcv_full_available'] is True
    assert out['env'] is None  # collect_env (every Runner) works
    # The finder answers mmcv._ext only.
    assert out['other_name'][0] == 'ModuleNotFoundError'


@needs_models
def test_full_mmcv_is_left_alone(scenarios):
    out = scenarios['full'].result()
    assert out['ops_available'] is True
    assert out['ext_finder_installed'] is False
    assert out['ext_is_fake'] is True
    assert out['compiler'] == 'compiled get_compiler_version'


@pytest.mark.parametrize('with_ext', [True, False])
def test_mmcv_ops_available_looks_for_the_extension_file(
        tmp_path, monkeypatch, with_ext):
    package = tmp_path / 'mmcv'
    package.mkdir()
    (package / '__init__.py').write_text('raise AssertionError("imported")\n')
    if with_ext:
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        (package / f'_ext{suffix}').write_bytes(b'')
    for name in ('mmcv', 'mmcv._ext'):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert compat.mmcv_ops_available() is with_ext
    assert 'mmcv' not in sys.modules


@pytest.fixture
def no_ext_finder(monkeypatch):
    """``sys.meta_path`` without the stand-in's finder, restored after."""
    monkeypatch.setattr(
        sys, 'meta_path',
        [f for f in sys.meta_path if f is not compat._MMCV_EXT_FINDER])


@pytest.mark.parametrize('case', ['no mmcv', 'full mmcv', 'not mmcv-lite'])
def test_no_stand_in_unless_mmcv_lite_without_ext(monkeypatch, no_ext_finder,
                                                  case):
    find_spec = compat._find_spec_quietly
    if case == 'no mmcv':
        monkeypatch.setattr(
            compat, '_find_spec_quietly',
            lambda name: None if name == 'mmcv' else find_spec(name))
    elif case == 'full mmcv':
        monkeypatch.setattr(compat, 'mmcv_ops_available', lambda: True)
    else:  # a full mmcv distribution whose extension is missing
        monkeypatch.setattr(compat, 'mmcv_lite_installed', lambda: False)
    assert compat.install_mmcv_ext_stub() is False
    compat.apply_compat()
    assert compat._MMCV_EXT_FINDER not in sys.meta_path


@needs_mmcv_lite
def test_stand_in_on_mmcv_lite(no_ext_finder):
    assert compat.install_mmcv_ext_stub() is True
    assert sys.meta_path[-1] is compat._MMCV_EXT_FINDER
    assert compat.install_mmcv_ext_stub() is True
    assert sys.meta_path.count(compat._MMCV_EXT_FINDER) == 1


def test_mmcv_lite_installed_reads_the_metadata():
    import importlib.metadata
    try:
        importlib.metadata.distribution('mmcv-lite')
        expected = True
    except importlib.metadata.PackageNotFoundError:
        expected = False
    assert compat.mmcv_lite_installed() is expected


def test_mmcv_ext_stub_module():
    ext = compat._MissingMmcvExt('mmcv._ext')
    with pytest.raises(RuntimeError, match='full mmcv with compiled ops') \
            as info:
        ext.roi_align_forward(torch.zeros(1))
    assert '`roi_align_forward`' in str(info.value)
    assert ext.get_compiling_cuda_version().startswith('n/a')
    with pytest.raises(AttributeError):
        ext.__path__
    finder = compat._MMCV_EXT_FINDER
    assert finder.find_spec('mmcv._ext') is not None
    for name in ('mmcv', 'mmcv.ops', 'mmcv._ext2', 'torchvision'):
        assert finder.find_spec(name) is None


# ---------------------------------------------------------------------------
# 2. torch.load(weights_only=True) and mmengine checkpoints
# ---------------------------------------------------------------------------


def _globals_in(path):
    """The GLOBAL names a torch.save'd file's pickle refers to."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith('data.pkl'))
        data = archive.read(name)
    names = {
        arg.replace(' ', '.')
        for op, arg, _ in pickletools.genops(data) if op.name == 'GLOBAL'
    }
    # Protocol 2 writes Python 2's name for the builtins module.
    return {re.sub(r'^__builtin__\.', 'builtins.', n) for n in names}


def _mmengine_checkpoint():
    """A checkpoint as mmengine's Runner writes it, with its numpy values."""
    from mmengine.logging import MessageHub
    from mmengine.optim.scheduler import LinearLR, OneCycleLR

    hub = MessageHub.get_instance('arsam_mm_test_compat_save')
    for value in (1.0, 0.5, np.float64(0.25)):
        hub.update_scalar('train/loss', value)
    hub.update_info('best_score', np.float64(0.75))
    dataset_meta = dict(
        classes=('a', 'b'),
        sigmas=np.array([0.1, 0.2], dtype=np.float32),
        flip_indices=np.arange(2),
        num_keypoints=np.int64(2))
    hub.update_info('dataset_meta', dataset_meta)

    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedulers = [
        OneCycleLR(optimizer, eta_max=0.1, total_steps=10, by_epoch=False),
        LinearLR(optimizer, start_factor=0.5, by_epoch=False, end=4),
    ]
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    for scheduler in schedulers:
        scheduler.step()
    return dict(
        meta=dict(iter=1, seed=0, dataset_meta=dataset_meta),
        state_dict=model.state_dict(),
        optimizer=optimizer.state_dict(),
        param_schedulers=[s.state_dict() for s in schedulers],
        message_hub=hub.state_dict())


@needs_safe_load
def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    pytest.importorskip('mmengine')
    from mmengine.logging import MessageHub
    from mmengine.optim.scheduler import OneCycleLR, param_scheduler
    from mmengine.runner import load_checkpoint
    from mmengine.runner.checkpoint import save_checkpoint

    path = tmp_path / 'iter_1.pth'
    save_checkpoint(_mmengine_checkpoint(), str(path))
    found = _globals_in(path)
    assert {
        'builtins.getattr',
        'mmengine.logging.history_buffer.HistoryBuffer',
        'mmengine.optim.scheduler.param_scheduler.OneCycleParamScheduler',
        'numpy.ndarray',
        'numpy.dtype',
    } <= found
    for name in ('_reconstruct', 'scalar'):  # numpy 1 or numpy 2 spelling
        assert {
            f'numpy.core.multiarray.{name}', f'numpy._core.multiarray.{name}'
        } & found

    # mmengine's own path: torch.load with the default weights_only.
    ckpt = load_checkpoint(
        torch.nn.Linear(2, 1), str(path), map_location='cpu')
    again = torch.load(path, map_location='cpu', weights_only=True)
    assert again['meta']['iter'] == 1

    hub = MessageHub.get_instance('arsam_mm_test_compat_load')
    hub.load_state_dict(ckpt['message_hub'])
    loss = hub.get_scalar('train/loss')
    assert loss.current() == 0.25
    assert loss.mean() == pytest.approx(1.75 / 3)
    assert hub.get_info('best_score') == 0.75
    meta = ckpt['meta']['dataset_meta']
    assert meta['sigmas'].dtype == np.float32
    np.testing.assert_array_equal(meta['sigmas'], np.float32([0.1, 0.2]))
    np.testing.assert_array_equal(meta['flip_indices'], [0, 1])
    assert meta['num_keypoints'] == 2

    optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    optimizer.load_state_dict(ckpt['optimizer'])
    scheduler = OneCycleLR(
        optimizer, eta_max=0.1, total_steps=10, by_epoch=False)
    scheduler.load_state_dict(ckpt['param_schedulers'][0])
    one_cycle = param_scheduler.OneCycleParamScheduler
    assert scheduler.anneal_func is one_cycle._annealing_cos
    assert scheduler.last_step == 1


@needs_safe_load
def test_numpy_arrays_load_under_either_numpy_spelling(tmp_path):
    source = tmp_path / 'saved.pth'
    torch.save({'x': np.arange(3.0), 'y': np.float32(2)}, source)
    with zipfile.ZipFile(source) as archive:
        entries = [(i.filename, archive.read(i)) for i in archive.infolist()]
    old, new = b'numpy.core.multiarray\n', b'numpy._core.multiarray\n'
    pickled = next(d for n, d in entries if n.endswith('data.pkl'))
    if old not in pickled:
        old, new = new, old
    # Rewrite the pickle as the other numpy major version writes it.
    other = tmp_path / 'other_numpy.pth'
    with zipfile.ZipFile(other, 'w', zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            if name.endswith('data.pkl'):
                assert old in data
                data = data.replace(old, new)
            archive.writestr(name, data)
    loaded = torch.load(other, weights_only=True)
    np.testing.assert_array_equal(loaded['x'], [0.0, 1.0, 2.0])
    assert loaded['y'] == np.float32(2)


class _Payload:
    """An arbitrary class, not allow-listed."""

    def __init__(self):
        self.value = 1


class _Reduce:
    """Pickles as ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


_EVIL = [
    'arbitrary class', 'os.system', 'getattr(HistoryBuffer, __init__)',
    'getattr(HistoryBuffer, update)', 'getattr(ndarray, tofile)',
    'getattr(OneCycleParamScheduler, step)', 'OneCycleParamScheduler(None)'
]


def _evil_payload(kind):
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.optim.scheduler import param_scheduler
    one_cycle = param_scheduler.OneCycleParamScheduler
    payloads = {
        'arbitrary class': _Payload(),
        'os.system': _Reduce(os.system, 'exit 0'),
        'OneCycleParamScheduler(None)': _Reduce(one_cycle, None),
    }
    for cls, name in ((HistoryBuffer, '__init__'), (HistoryBuffer, 'update'),
                      (np.ndarray, 'tofile'), (one_cycle, 'step')):
        payloads[f'getattr({cls.__name__}, {name})'] = _Reduce(
            getattr, cls, name)
    return payloads[kind]


@needs_safe_load
@pytest.mark.parametrize('kind', _EVIL)
def test_unexpected_globals_are_refused(tmp_path, kind):
    pytest.importorskip('mmengine')
    from mmengine.runner import load_checkpoint

    path = tmp_path / 'evil.pth'
    torch.save({'meta': {}, 'message_hub': _evil_payload(kind)}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(torch.nn.Linear(2, 1), str(path))


def test_allow_list_only_from_torch_2_6(monkeypatch):
    pytest.importorskip('mmengine')
    from mmengine.logging.history_buffer import HistoryBuffer

    calls = []
    monkeypatch.setattr(
        torch.serialization, 'add_safe_globals', calls.append,
        raising=False)
    monkeypatch.setattr(compat, '_torch_version', lambda: (2, 5))
    assert compat.allow_mmengine_checkpoint_globals() is False
    compat.apply_compat()
    assert calls == []
    monkeypatch.setattr(compat, '_torch_version', lambda: (2, 6))
    assert compat.allow_mmengine_checkpoint_globals() is True
    assert len(calls) == 1
    assert HistoryBuffer in calls[0] and np.ndarray in calls[0]
    assert not any(
        entry is getattr or (isinstance(entry, tuple) and entry[0] is getattr)
        for entry in calls[0])


def test_no_allow_list_without_mmengine(monkeypatch):
    calls = []
    monkeypatch.setattr(
        torch.serialization, 'add_safe_globals', calls.append,
        raising=False)
    monkeypatch.setattr(compat, '_torch_version', lambda: (2, 6))
    find_spec = compat._find_spec_quietly
    monkeypatch.setattr(
        compat, '_find_spec_quietly',
        lambda name: None if name == 'mmengine' else find_spec(name))
    assert compat.allow_mmengine_checkpoint_globals() is False
    assert calls == []


def test_apply_compat_is_idempotent():
    safe_globals = getattr(torch.serialization, 'get_safe_globals', list)
    before = len(safe_globals())
    compat.apply_compat()
    compat.apply_compat()
    assert sys.meta_path.count(compat._MMCV_EXT_FINDER) <= 1
    assert len(safe_globals()) == before
