"""No host read on steps that do not log, for every member (CPU).

CI has no GPU, so a host sync is observed where it starts: every way a
tensor reaches Python (``item``, ``tolist``, ``float``, ``int``, ``bool``,
``__index__``, ``cpu``, ``numpy``) is wrapped while the wrappers train, and
each call made from inside ``arsam_mm`` is recorded with the function that
made it. On a GPU each such call on a device tensor is a wait for the
device (``tests/test_cuda_sync.py`` checks the same there).

The only reads allowed on a step that does not log:

* the schedules' draws from their own CPU generator (host tensors:
  ``plan``, ``_draw_in_window``) and ARSAM's statistics, copied to the host
  without blocking and read once per window (``HostQueue.drain``);
* AE-SAM's decision, which needs ``||g||^2`` on the host: one per update
  (``decide``); ASAM's skip test: one per SAM step (``restore``).

Everything the wrappers log waits in the MessageHub until it is read
(``DeferredHistoryBuffer``): reading it costs one read per figure, and the
values equal independent counts at every iteration, with a Runner whose
LoggerHook prints every few iterations too.
"""
import json
import os.path as osp
import sys
from collections import Counter
from contextlib import contextmanager

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

import arsam_mm
from arsam_mm.engine.optim_wrappers.deferred_scalars import \
    DeferredHistoryBuffer
from tests._runner import Recorder, make_runner, toy
from tests._toy import ToyModel, make_batches

PACKAGE = osp.dirname(osp.abspath(arsam_mm.__file__)) + osp.sep
READS = ('item', 'tolist', '__float__', '__int__', '__bool__', '__index__',
         'cpu', 'numpy')
#: Reads of host tensors: the schedules' CPU generators, ARSAM's window.
HOST = {('randomized.py', 'plan'), ('arsam.py', '_draw_in_window'),
        ('host_queue.py', 'drain')}
SGD = dict(type='SGD', lr=0.1, momentum=0.9)
ITERS = 24

MEMBERS = {
    'sam': dict(type='SAMOptimWrapper'),
    'asam': dict(type='SAMOptimWrapper', adaptive=True, rho=0.5),
    'arsam': dict(type='ARSAMOptimWrapper', warmup_iters=2, window=4,
                  seed=0),
    'looksam': dict(type='LookSAMOptimWrapper', interval=3),
    'randomsam': dict(type='RandomSAMOptimWrapper', prob=0.5, seed=0),
    'gsam': dict(type='GSAMOptimWrapper', interval=2),
    'aesam': dict(type='AESAMOptimWrapper'),
    'latesam': dict(type='LateSAMOptimWrapper', target_ratio=0.5),
}


def _caller() -> tuple:
    """(file, function) of the innermost ``arsam_mm`` frame, or None."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(PACKAGE):
            return osp.basename(name), frame.f_code.co_name
        frame = frame.f_back
    return None


@contextmanager
def host_reads():
    """Record ``(file, function)`` of every tensor read made from
    ``arsam_mm`` inside the block, in the list it yields."""
    reads = []
    saved = {name: getattr(torch.Tensor, name) for name in READS}

    def wrap(name):
        original = saved[name]

        def read(self, *args, **kwargs):
            caller = _caller()
            if caller is not None:
                reads.append(caller)
            return original(self, *args, **kwargs)

        return read

    try:
        for name in READS:
            setattr(torch.Tensor, name, wrap(name))
        yield reads
    finally:
        for name, original in saved.items():
            setattr(torch.Tensor, name, original)


def test_host_reads_sees_reads():
    """The probe itself: every kind of read is seen, with its caller."""
    from arsam_mm.core import RandomSchedule
    t = torch.ones(())
    with host_reads() as reads:
        RandomSchedule(0.5, seed=0).plan()
        float(t), int(t), bool(t), t.item(), t.tolist(), t.cpu()
    assert reads == [('randomized.py', 'plan')]  # the test is no arsam_mm


def test_the_queue_is_bounded(monkeypatch):
    """Without a reader the buffer reads its queue every ``max_pending``
    values (bounded memory), in order, host values included."""
    monkeypatch.setattr(DeferredHistoryBuffer, 'max_pending', 3)
    buf = DeferredHistoryBuffer()
    t = [torch.tensor(float(i)) for i in range(4)]
    with host_reads() as reads:
        buf.defer(float, (t[0], ))
        buf.update(7)
        assert reads == []
        buf.defer(lambda a, b, c: a + b * c, (t[1], t[2], 10))
        assert reads == [('deferred_scalars.py', 'fold')]
        buf.defer(float, (t[3], ))
        assert len(reads) == 1
    assert buf.data[0].tolist() == [0.0, 7.0, 21.0, 3.0]
    assert buf.data[1].tolist() == [1, 1, 1, 1]


def train(name, iters=ITERS, hub_name=None):
    """Train a ToyModel through ``train_step``, recording the reads of
    every iteration; returns the wrapper, the reads and the forwards."""
    MessageHub.get_instance(hub_name or f'host_reads_{name}')
    torch.manual_seed(0)
    model = ToyModel(bn=True, dropout=0.1)
    wrapper = build_optim_wrapper(
        model, dict(MEMBERS[name], optimizer=dict(SGD)))
    wrapper.initialize_count_status(model, 0, iters)
    model.record = True
    per_iter, forwards = [], []
    for data in make_batches(iters):
        before = len(model.seen)
        with host_reads() as reads:
            model.train_step(data, wrapper)
        per_iter.append(Counter(r for r in reads if r not in HOST))
        forwards.append(len(model.seen) - before)
    return wrapper, per_iter, forwards


@pytest.mark.parametrize('name', sorted(MEMBERS))
def test_steps_read_nothing_until_the_log_is_read(name):
    wrapper, per_iter, forwards = train(name)
    sams = [f - 1 for f in forwards]
    assert 0 < sum(sams) and (sum(sams) < ITERS or name in ('sam', 'asam'))
    for i, (reads, sam) in enumerate(zip(per_iter, sams)):
        expected = Counter()
        if name == 'aesam':  # decides from ||g||^2 on the host
            expected[('sharpness_aware.py', 'decide')] = 1
        if name == 'asam' and sam:  # skips a non-finite update
            expected[('sam_step.py', '_skip_if_failed')] = 1
        assert reads == expected, (i, reads)

    # Reading the log: one read per figure, and every value exact.
    hub = MessageHub.get_current_instance()
    keys = [k for k in hub.log_scalars if k.startswith('train/')]
    with host_reads() as reads:
        logged = {k: hub.get_scalar(k).data[0].tolist() for k in keys}
    assert set(reads) <= {('deferred_scalars.py', 'fold')}
    assert len(reads) <= len(keys)
    assert logged['train/sam_step'] == sams
    assert hub.get_scalar('train/sam_step').data[0].dtype.kind == 'i'
    done = [sum(sams[:i + 1]) for i in range(ITERS)]
    assert logged['train/sam_fraction'] == pytest.approx(
        [d / (i + 1) for i, d in enumerate(done)], rel=0, abs=1e-15)
    assert logged['train/grad_evals'] == [
        sum(forwards[:i + 1]) for i in range(ITERS)]
    sa = wrapper.sharpness
    assert sa.sam_steps == done[-1]
    if sa.stores:
        norm = torch.sqrt(sum((b.double()**2).sum()
                              for b in sa.store.buffers.values()))
        last = logged[f'train/{sa.correction.log_name}'][-1]
        assert last == pytest.approx(float(norm), rel=1e-6)


def test_a_failed_sam_step_is_logged_without_reads():
    """A pass 2 that is not finite falls back to ``g`` and is not counted:
    the logged figures say so once read, though no step read a flag."""
    MessageHub.get_instance('host_reads_failed')
    torch.manual_seed(0)
    model = ToyModel()
    wrapper = build_optim_wrapper(
        model, dict(type='SAMOptimWrapper', optimizer=dict(SGD)))
    calls = []

    def poison(module, args, output):  # pass 2 of iteration 2 only
        calls.append(1)
        if len(calls) == 6:
            return output * float('inf')

    model.fc2.register_forward_hook(poison)
    with host_reads() as reads:
        for data in make_batches(4):
            model.train_step(data, wrapper)
    assert reads == []
    hub = MessageHub.get_current_instance()
    assert hub.get_scalar('train/sam_step').data[0].tolist() == [1, 1, 0, 1]
    assert hub.get_scalar('train/sam_fraction').data[0].tolist() == [
        1.0, 1.0, 2 / 3, 3 / 4]
    assert wrapper.sharpness.sam_steps == 3


def test_a_checkpoint_holds_plain_history_buffers():
    """``MessageHub.state_dict`` copies the waiting figures as mmengine's
    own ``HistoryBuffer`` (loadable with ``weights_only``), values read."""
    from mmengine.logging import HistoryBuffer
    wrapper, _, forwards = train('arsam', iters=6,
                                 hub_name='host_reads_state')
    hub = MessageHub.get_current_instance()
    state = hub.state_dict()
    for key in ('train/sam_step', 'train/sam_fraction', 'train/psf_norm'):
        buf = state['log_scalars'][key]
        assert type(buf) is HistoryBuffer
        assert '_pending' not in buf.__dict__
    assert state['log_scalars']['train/sam_step'].data[0].tolist() == [
        f - 1 for f in forwards]
    restored = MessageHub.get_instance('host_reads_state_loaded')
    restored.load_state_dict(state)
    # Training on after a resume keeps the loaded history in order.
    model = ToyModel()
    wrapper = build_optim_wrapper(
        model, dict(MEMBERS['sam'], optimizer=dict(SGD)))
    model.train_step(make_batches(1)[0], wrapper)
    data = restored.get_scalar('train/sam_step').data[0].tolist()
    assert data == [f - 1 for f in forwards] + [1]


def test_a_runner_reads_only_when_the_logger_prints(tmp_path):
    """With a LoggerHook printing every 5 iterations, the wrappers' figures
    reach the host at those iterations only, and what is printed and sent
    to the visualization backend equals independent counts."""
    iters, interval = 12, 5
    model = toy()
    model.record = True
    reads_at, forwards = {}, []
    probe = host_reads()
    reads = probe.__enter__()

    def record(runner):
        forwards.append(len(model.seen))
        reads_at[runner.iter] = [r for r in reads if r not in HOST]
        reads.clear()

    cfg = dict(type='ARSAMOptimWrapper', warmup_iters=2, window=4,
               max_reuse_steps=2, seed=0, optimizer=dict(SGD))
    runner = make_runner(tmp_path, model, cfg, max_iters=iters,
                         custom_hooks=[Recorder(record, priority='LOWEST')],
                         log_interval=interval)
    try:
        runner.train()
    finally:
        probe.__exit__(None, None, None)
    logged_at = {i for i in range(iters) if (i + 1) % interval == 0}
    saved_at = iters - 1  # CheckpointHook's save_last
    assert {i for i, r in reads_at.items() if r} == logged_at | {saved_at}
    fold = ('deferred_scalars.py', 'fold')
    for i in logged_at:
        assert set(reads_at[i]) == {fold}
    # The checkpoint copies the MessageHub and reads the SAM step count.
    assert set(reads_at[saved_at]) == {fold,
                                       ('counters.py', 'sam_steps')}
    # What the backend received, against the forwards counted by the model.
    passes = [b - a for a, b in zip([0] + forwards, forwards)]
    files = runner.visualizer.get_backend('LocalVisBackend')._scalar_save_file
    with open(files) as f:
        rows = [json.loads(line) for line in f]
    rows = [r for r in rows if 'sam_step' in r]
    assert [r['iter'] for r in rows] == sorted(i + 1 for i in logged_at)
    for row in rows:
        i = row['iter']
        done = sum(passes[:i]) - i
        assert row['sam_step'] == passes[i - 1] - 1
        assert isinstance(row['sam_step'], int)  # printed as 0 or 1
        assert row['grad_evals'] == sum(passes[:i])
        assert row['sam_fraction'] == pytest.approx(done / i)
