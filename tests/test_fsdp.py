"""The family under FSDP: 2 processes, gloo, CPU, float64.

Each rank runs ``tests/_fsdp_worker.py``: the toy model in mmengine's
``MMFullyShardedDataParallel`` (FULL_SHARD, ``use_orig_params=True``),
stepped by its ``train_step`` on half of every batch. The same wrapper on
one process with the whole batches is the reference: both ranks must take
its decisions and end at its weights (gathered full parameters) to 1e-12.
A rank that scales the perturbation by its own shard's norm instead of the
norm reduced over the shard group ends 1.7e-2 away from SAM.
"""
import pytest
import torch

from tests._fsdp_worker import VARIANTS, train
from tests._launch import HERE, WORLD_SIZE, launch, needs_gloo

_TORCH = tuple(int(x) for x in torch.__version__.split('+')[0].split('.')[:2])
pytestmark = [
    needs_gloo,
    pytest.mark.skipif(
        _TORCH < (2, 4),
        reason="FSDP on a CPU: torch 2.1's FSDP creates CUDA streams and "
        'fails there; these tests ran on torch 2.14, 2.2-2.3 not tried')
]

WORKER = f'{HERE}/_fsdp_worker.py'
TOL = 1e-12


@pytest.fixture(scope='module')
def quick(tmp_path_factory):
    return launch(['sam'], tmp_path_factory.mktemp('fsdp'), WORKER)


@pytest.fixture(scope='module')
def slow_runs(tmp_path_factory):
    names = [v for v in VARIANTS if v != 'sam']
    return launch(names, tmp_path_factory.mktemp('fsdp_slow'), WORKER)


def max_diff(a, b) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def assert_matches_single_process(variant, records) -> dict:
    """Every rank decided and ended as the single-process run."""
    want = train(variant, distributed=False)
    assert len(records) == WORLD_SIZE
    sharded = not variant.endswith('_noshard')
    # Rank 0 holds no element of fc2 (the flat parameter splits 34 / 33).
    assert (0 in records[0]['local_sizes']) == sharded
    for rec in records:
        assert rec['decisions'] == want['decisions']
        assert rec['sam_steps'] == want['sam_steps']
        assert rec['params'].keys() == want['params'].keys()
        for name, value in rec['init'].items():
            assert torch.equal(value, want['init'][name])
        assert rec['stats'].keys() == want['stats'].keys()
        for key, values in want['stats'].items():
            assert len(rec['stats'][key]) == len(values), key
            torch.testing.assert_close(
                torch.tensor(rec['stats'][key]), torch.tensor(values),
                rtol=TOL, atol=0, msg=key)
        diff = max_diff(rec['params'], want['params'])
        assert diff < TOL, (variant, diff)
        # It trained: the weights moved by far more than the tolerance.
        assert max_diff(rec['params'], rec['init']) > 1e-3
    return want


def test_sam_fsdp_matches_single_process(quick):
    """SAM, 3 steps: the perturbation is scaled by the norm of the whole
    gradient, not each rank's shard."""
    want = assert_matches_single_process('sam', quick['sam'])
    assert want['decisions'] == [(True, 0.0)] * 3
    assert all(rec['reduces'] for rec in quick['sam'])


@pytest.mark.slow
def test_plain_optim_wrapper_fsdp_matches_single_process(slow_runs):
    """The harness: mmengine's OptimWrapper matches without any help."""
    assert_matches_single_process('sgd', slow_runs['sgd'])


@pytest.mark.slow
def test_plain_optim_wrapper_fsdp_clips_by_shard_norms(slow_runs):
    """mmengine's own clipping under FSDP clips each shard by its own
    norm (documented; the family's wrappers clip by the whole norm)."""
    want = train('sgd_clip', distributed=False)
    for rec in slow_runs['sgd_clip']:
        assert max_diff(rec['params'], want['params']) > 1e-3


@pytest.mark.slow
def test_sam_fsdp_clips_by_the_whole_models_norm(slow_runs):
    assert_matches_single_process('sam_clip', slow_runs['sam_clip'])
    assert all(rec['reduces'] for rec in slow_runs['sam_clip'])


@pytest.mark.slow
def test_sam_fsdp_no_shard_needs_no_reduction(slow_runs):
    assert_matches_single_process('sam_noshard', slow_runs['sam_noshard'])
    assert not any(rec['reduces'] for rec in slow_runs['sam_noshard'])


@pytest.mark.slow
def test_sam_fsdp_long_run(slow_runs):
    assert_matches_single_process('sam_long', slow_runs['sam_long'])


@pytest.mark.slow
def test_arsam_fsdp_same_decisions_and_weights(slow_runs):
    """ARSAM: the statistics (norms of the last tensors' PSF and gradient)
    and the kept PSF's norm are reduced, so both ranks take the
    single-process run's SAM/reuse decisions."""
    want = assert_matches_single_process('arsam', slow_runs['arsam'])
    sam = sum(s for s, _ in want['decisions'])
    assert 3 < sam < len(want['decisions'])
    assert len(want['stats']['r_hist']) > 3
    assert any(not s and w > 0 for s, w in want['decisions'])


@pytest.mark.slow
@pytest.mark.parametrize(
    'variant', ['looksam', 'gsam', 'aesam', 'randomsam', 'latesam'])
def test_family_fsdp_matches_single_process(slow_runs, variant):
    """LookSAM's and GSAM's inner products and AE-SAM's ``||g||^2`` are
    reduced too, RandomSAM's draws come from rank 0's seed and late-phase
    SAM switches on every rank alike: the single-process decisions and
    weights."""
    want = assert_matches_single_process(variant, slow_runs[variant])
    sam = sum(s for s, _ in want['decisions'])
    assert 0 < sam < len(want['decisions'])


@pytest.mark.slow
@pytest.mark.parametrize('variant', ['sam_accum', 'arsam_accum'])
def test_fsdp_gradient_accumulation_matches_single_process(
        slow_runs, variant):
    """``accumulative_counts=2`` under FULL_SHARD: pass 1 of the first
    micro-batch runs under FSDP's ``no_sync`` (mmengine's
    ``optim_context``), pass 2 replays both kept micro-batches (the first
    under ``no_sync`` too) and the last backward of each pass
    reduce-scatters the accumulated gradient: the decisions and weights of
    the single-process run with the same micro-batches."""
    want = assert_matches_single_process(variant, slow_runs[variant])
    # One optimizer step per two micro-batches.
    assert want['sam_steps'] <= len(want['decisions']) // 2
    if variant == 'sam_accum':
        assert want['sam_steps'] == len(want['decisions']) // 2
    else:
        assert 3 < want['sam_steps'] < len(want['decisions']) // 2


# --- the hook and the refusals, in one process ----------------------------
def test_reduce_sum_reduces_the_local_sum_once():
    """The kernels hand the local sum of squares (inner product) to the
    hook once and take the square root of the reduced sum; a hook that
    doubles stands for two ranks holding equal shards."""
    from arsam_mm.core import kernels as K
    gen = torch.Generator().manual_seed(0)
    a = [torch.randn(3, 4, generator=gen, dtype=torch.float64),
         torch.zeros(0, dtype=torch.float64),  # an empty local shard
         torch.randn(5, generator=gen, dtype=torch.float64)]
    b = [torch.randn_like(t) for t in a]
    calls = []

    def double(t):
        calls.append(t.shape)
        t.mul_(2)

    for foreach in (False, True):
        calls.clear()
        norm = K.global_norm(a, foreach=foreach, reduce=double)
        want = torch.sqrt(2 * sum((t * t).sum() for t in a))
        torch.testing.assert_close(norm, want, rtol=1e-15, atol=0)
        assert calls == [torch.Size([])]
    dot = K.global_dot(a, b, reduce=double)
    torch.testing.assert_close(
        dot, 2 * sum((x * y).sum() for x, y in zip(a, b)), rtol=1e-15,
        atol=0)
    with pytest.raises(ValueError, match='global_norm with reduce needs'):
        K.global_norm([], reduce=double)
    with pytest.raises(ValueError, match='global_dot with reduce needs'):
        K.global_dot([], [], reduce=double)


def test_reduce_sum_reaches_the_correction():
    from arsam_mm import GSAMDirection, LookSAMReuse, SharpnessAware
    model = torch.nn.Linear(2, 1)
    sa = SharpnessAware(
        torch.optim.SGD(model.parameters(), lr=0.1),
        correction=LookSAMReuse(), direction=None)
    sa2 = SharpnessAware(
        torch.optim.SGD(model.parameters(), lr=0.1),
        direction=GSAMDirection())
    fn = lambda t: None  # noqa: E731
    for s in (sa, sa2):
        assert s.reduce_sum is None
        s.reduce_sum = fn
        assert s.correction.reduce is fn  # for its one-pass steps
        s.reduce_sum = None
        assert s.correction.reduce is None
    with pytest.raises(TypeError, match='reduce_sum must be callable'):
        sa.reduce_sum = 3


def test_sharded_rank_without_gradients_still_reduces():
    """A rank holding no gradient of the statistics' tensors (or of any)
    joins the reduction with an empty tensor (else the others hang)."""
    from arsam_mm import ARSAMSchedule, PSFReuse, SharpnessAware
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    model.double()
    sa = SharpnessAware(
        torch.optim.SGD(model.parameters(), lr=0.1),
        schedule=ARSAMSchedule(warmup_iters=2, stat_tensors=2),
        correction=PSFReuse())
    seen = []
    sa.reduce_sum = lambda t: seen.append((t.dtype, tuple(t.shape)))
    sa.begin()
    # Gradients of the first layer only: the statistics' tensors (the
    # last two parameters) have none on this rank.
    model[0](torch.ones(1, 2, dtype=torch.float64)).sum().backward()
    sa.perturb()
    model[0](torch.ones(1, 2, dtype=torch.float64)).sum().backward()
    sa.restore()
    # One call per pass, the partial sums stacked: pass 1's norm and
    # ||g||_N; pass 2's finiteness, ||v||_N and ||v||.
    assert seen == [(torch.float64, (2, )), (torch.float64, (3, ))]
    assert sa.schedule._grad_norm == 0


class MMDeepSpeedEngineWrapper:
    """Stands in for mmengine's wrapper of a DeepSpeed engine."""

    def __init__(self, model):
        self.model = model


ColossalAIModel = type('ModelWrapper', (torch.nn.Module, ),
                       {'__module__': 'colossalai.interface.model'})


@pytest.mark.parametrize('kind', ['deepspeed', 'colossalai'])
def test_deepspeed_and_colossalai_are_refused_before_training(kind):
    from mmengine.registry import OPTIM_WRAPPERS

    import arsam_mm  # noqa: F401
    from tests._toy import ToyModel
    model = ToyModel()
    model_wrapper = MMDeepSpeedEngineWrapper(model) \
        if kind == 'deepspeed' else ColossalAIModel()
    strategy = dict(deepspeed='DeepSpeedStrategy',
                    colossalai='ColossalAIStrategy')[kind]
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='SAMOptimWrapper',
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    match = f"SAMOptimWrapper cannot train a model prepared by mmengine's " \
        f'{strategy}'
    with pytest.raises(ValueError, match=match):
        wrapper.initialize_count_status(model_wrapper, 0, 10)
    with pytest.raises(ValueError, match=match):
        with wrapper.optim_context(model_wrapper):
            pass
    if kind == 'deepspeed':
        # DeepSpeed's train_step goes straight to update_params; its
        # strategy sets the wrapper's `model`.
        wrapper.model = model_wrapper
        with pytest.raises(ValueError, match='frees p.grad'):
            wrapper.update_params(model.logits(torch.ones(1, 4)).sum())


def test_sharded_rank_without_any_gradient_is_refused():
    from arsam_mm import SharpnessAware
    model = torch.nn.Linear(2, 1)
    sa = SharpnessAware(torch.optim.SGD(model.parameters(), lr=0.1))
    sa.reduce_sum = lambda t: None
    sa.begin()
    with pytest.raises(RuntimeError, match='holds no gradient element'):
        sa.perturb()
    sa.reduce_sum = None  # whole parameters: a no-op, as before
    assert bool(sa.perturb())


def test_sharded_sam_step_reduces_twice():
    """A plain SAM step adds two all_reduce calls: pass 1's norm (the
    perturbation's scale) and pass 2's finiteness test (so every rank falls
    back alike)."""
    from arsam_mm import SharpnessAware
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    sa = SharpnessAware(torch.optim.SGD(model.parameters(), lr=0.1))
    seen = []
    sa.reduce_sum = seen.append
    sa.step(lambda: model(x).square().mean().backward())
    assert len(seen) == 2


# --- FlexibleRunner with FSDPStrategy from a config -----------------------
FLEXIBLE_WORKER = f'{HERE}/_flexible_worker.py'


@pytest.fixture(scope='module')
def flexible_quick(tmp_path_factory):
    out = tmp_path_factory.mktemp('flexible')
    return out, launch(['sam'], out, FLEXIBLE_WORKER)


@pytest.fixture(scope='module')
def flexible_slow(tmp_path_factory):
    """ARSAM under FSDPStrategy; SAMFSDPStrategy runs with checkpoints,
    then resumed in fresh processes."""
    out = tmp_path_factory.mktemp('flexible_slow')
    jobs = ['arsam', 'arsam_ckpt', 'sam_ckpt', 'arsam_full']
    runs = launch(jobs + ['ampsam', 'ampsam_ckpt'], out, FLEXIBLE_WORKER)
    runs.update(launch([f'{job}_resume' for job in jobs[1:]], out,
                       FLEXIBLE_WORKER))
    return out, runs


def assert_flexible_matches_runner(variant, records, out,
                                   reference=None) -> dict:
    """Every rank of the FlexibleRunner run ends at the weights of the
    single-process Runner on the whole batches (of ``reference``)."""
    from tests._flexible_worker import VARIANTS as FLEX_VARIANTS
    from tests._flexible_worker import train as flexible_train
    reference = reference or variant
    want = flexible_train(reference, False, str(out / f'single_{variant}'))
    assert len(records) == WORLD_SIZE
    for rec in records:
        assert rec['wrapper'] == FLEX_VARIANTS[variant]['type']
        assert rec['reduces']
        assert rec['sam_steps'] == want['sam_steps']
        diff = max_diff(rec['params'], want['params'])
        assert diff < TOL, (variant, diff)
        assert max_diff(rec['params'], rec['init']) > 1e-3
    return want


def test_sam_flexible_runner_fsdp_matches_runner(flexible_quick):
    """mmengine's FlexibleRunner with FSDPStrategy built from a config
    (CPU settings in ``tests/_flexible_worker.py``): SAM ends at the
    single-process Runner's weights."""
    out, runs = flexible_quick
    want = assert_flexible_matches_runner('sam', runs['sam'], out)
    assert want['sam_steps'] == 12
    assert not any('SAMFSDPStrategy' in w for w in want['warnings'])


def test_fsdp_strategy_warns_that_checkpoints_lose_the_sam_state(
        flexible_quick):
    """Under mmengine's plain FSDPStrategy every rank is told, before the
    first iteration, that checkpoints lose the SAM state, with the config
    line of SAMFSDPStrategy (which keeps it: no warning, slow set)."""
    from arsam_mm.engine.optim_wrappers.fsdp import SAM_FSDP_STRATEGY
    _, runs = flexible_quick
    for rec in runs['sam']:
        found = [w for w in rec['warnings'] if 'SAMFSDPStrategy' in w]
        assert found == [
            'SAMOptimWrapper under FSDP without SAMFSDPStrategy: training '
            "is unaffected, but mmengine's FSDPStrategy saves only the "
            "optimizer's 'state' and 'param_groups', so checkpoints lose "
            'the SAM state (schedule, counters, kept vector) and a resumed '
            f'run starts it afresh. Use {SAM_FSDP_STRATEGY}'
        ]
    assert SAM_FSDP_STRATEGY == (
        "strategy = dict(type='SAMFSDPStrategy', "
        'model_wrapper=dict(use_orig_params=True))')


@pytest.mark.slow
def test_arsam_flexible_runner_fsdp_matches_runner(flexible_slow):
    out, runs = flexible_slow
    want = assert_flexible_matches_runner('arsam', runs['arsam'], out)
    assert 3 < want['sam_steps'] < 12


@pytest.mark.slow
@pytest.mark.parametrize('job', ['arsam_ckpt', 'sam_ckpt', 'arsam_full'])
def test_sam_fsdp_strategy_resumes_exactly(flexible_slow, job):
    """SAMFSDPStrategy keeps the SAM state (ARSAM's kept PSF, sharded)
    through a checkpoint (local: one file per rank; full: rank 0's file
    with every rank's entry): resumed at iteration 5 in fresh processes,
    the run ends bit-identical to the uninterrupted one."""
    _, runs = flexible_slow
    for whole, resumed in zip(runs[job], runs[f'{job}_resume']):
        # No warning that checkpoints lose the SAM state.
        for rec in (whole, resumed):
            assert not any('SAMFSDPStrategy' in w for w in rec['warnings'])
        assert resumed['sam_steps'] == whole['sam_steps']
        for name, value in whole['params'].items():
            assert torch.equal(resumed['params'][name], value), name


@pytest.mark.slow
def test_amp_twin_gets_sharded_grad_scaler(flexible_slow):
    """AmpSAMOptimWrapper with its scaler on the CPU: SAMFSDPStrategy
    gives it FSDP's ShardedGradScaler (found_inf reduced over the ranks),
    FSDPStrategy the plain GradScaler; both end at the fp32 single-process
    SAM run's weights (autocast stubbed, float64)."""
    out, runs = flexible_slow
    for job, scaler in (('ampsam_ckpt', 'ShardedGradScaler'),
                        ('ampsam', 'GradScaler')):
        assert_flexible_matches_runner('ampsam', runs[job], out,
                                       reference='sam')
        assert [rec['scaler'] for rec in runs[job]] == [scaler] * WORLD_SIZE


def test_sam_fsdp_strategy_sets_use_fsdp_for_amp_twins():
    """FSDPStrategy gives only 'AmpOptimWrapper' the sharded grad scaler;
    SAMFSDPStrategy gives it to the family's AMP twins too."""
    from arsam_mm.engine.strategies import _uses_amp
    assert _uses_amp(dict(type='AmpSAMOptimWrapper'))
    assert _uses_amp(dict(type='AmpARSAMOptimWrapper'))
    assert _uses_amp(dict(type='ARSAMOptimWrapper', loss_scale='dynamic'))
    assert not _uses_amp(dict(type='ARSAMOptimWrapper'))
    assert not _uses_amp(dict(type='AmpOptimWrapper'))  # mmengine's own
    assert not _uses_amp(dict(type='OptimWrapper'))


#: Per member: its core parts and the reduce_sum calls of a SAM step and of
#: a one-pass step (None: it has none). One per pass of a SAM step; LookSAM
#: takes a third for ||g_v||, the norm of a vector built from pass 2's
#: reduced sums, and one on one-pass steps for ||g|| (its mixing weight);
#: AE-SAM decides every step from ||g||^2.
COLLECTIVES = {
    'sam': (lambda S: dict(), 2, None),
    'asam': (lambda S: dict(adaptive=True), 2, None),
    'arsam': (lambda S: dict(
        schedule=S.ARSAMSchedule(warmup_iters=3, window=4, stat_tensors=2,
                                 seed=0),
        correction=S.PSFReuse(max_reuse_steps=3)), 2, 0),
    'looksam': (lambda S: dict(schedule=S.PeriodicSchedule(interval=3),
                               correction=S.LookSAMReuse()), 3, 1),
    'gsam': (lambda S: dict(schedule=S.PeriodicSchedule(interval=2),
                            direction=S.GSAMDirection()), 2, 0),
    'aesam': (lambda S: dict(schedule=S.AESAMSchedule(target_ratio=0.4)),
              2, 1),
    'randomsam': (lambda S: dict(schedule=S.RandomSchedule(0.5, seed=0)),
                  2, 0),
    'latesam': (lambda S: dict(schedule=S.LateSchedule(0.5)), 2, 0),
    'periodic': (lambda S: dict(schedule=S.PeriodicSchedule(interval=3)),
                 2, 0),
}


@pytest.mark.parametrize('member', sorted(COLLECTIVES))
def test_sharded_collectives_per_step(member):
    """The reduce_sum calls each member makes per step under sharding (the
    README's table), counted with an identity hook on one process: one per
    pass of a SAM step, the pass's partial sums stacked (LookSAM: three).
    The identity hook takes the sharded code path, which ends where the
    unsharded run ends, to rounding."""
    import arsam_mm.core as S
    parts, sam_step, other_step = COLLECTIVES[member]
    runs = {}
    for sharded in (False, True):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                                    torch.nn.Linear(4, 2)).double()
        x = torch.randn(8, 3, dtype=torch.float64)
        sa = S.SharpnessAware(torch.optim.SGD(model.parameters(), lr=0.1),
                              **parts(S))
        if hasattr(sa.schedule, 'run_length'):
            sa.schedule.set_run_length(40)
        seen = []
        if sharded:
            sa.reduce_sum = lambda t: seen.append(tuple(t.shape))
        counts = {}
        for _ in range(40):
            before, runs_before = len(seen), sa.sam_step_counts()[0]
            sa.step(lambda: model(x).square().mean().backward())
            sam = sa.sam_step_counts()[0] > runs_before
            counts.setdefault(sam, set()).add(len(seen) - before)
        runs[sharded] = (sa.sam_steps,
                         [p.detach() for p in model.parameters()])
    want = {True: {sam_step}}
    if other_step is not None:
        want[False] = {other_step}
    assert counts == want
    assert runs[True][0] == runs[False][0]
    for a, b in zip(runs[True][1], runs[False][1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
