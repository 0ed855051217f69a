"""SAM/ARSAM under ``MMDistributedDataParallel``: 2 processes, gloo, CPU.

Each rank runs ``tests/_ddp_worker.py`` (its own process, started here with
a free port), trains 50 iterations through ``ddp_model.train_step`` on its
own data with a random-noise preprocessor, and writes its decisions and
weights; the checks run here. A rank that hangs in a collective fails after
the process group's 60 s timeout, and the whole launch is killed after
``LAUNCH_TIMEOUT`` seconds (``tests/_launch.py``), so a hang fails the test
instead of CI.
"""
import pytest
import torch

from tests._ddp_worker import ITERS, LR, MOMENTUM, VARIANTS
from tests._launch import launch, needs_gloo
from tests._reference import reference_sam_loop
from tests._toy import ToyModel

pytestmark = needs_gloo


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """All variants in one launch: importing torch and mmengine in the two
    processes takes most of its ~20 s, the 4 x 50 iterations a few."""
    return launch(VARIANTS, tmp_path_factory.mktemp('ddp'))


def assert_ranks_identical(records) -> None:
    first = records[0]
    for other in records[1:]:
        assert other['decisions'] == first['decisions']
        assert other['forwards'] == first['forwards']
        assert other['params'].keys() == first['params'].keys()
        for name, value in first['params'].items():
            assert torch.equal(other['params'][name], value), name
        assert other['store'].keys() == first['store'].keys()
        for index, value in first['store'].items():
            assert torch.equal(other['store'][index], value), index
    # Different data really reached the ranks (else the test proves little).
    assert not torch.equal(records[0]['seen'][0], records[1]['seen'][0])


def assert_trained(records) -> None:
    for rec in records:
        for name, value in rec['params'].items():
            assert torch.isfinite(value).all(), name
        assert any(not torch.equal(rec['params'][k], rec['init'][k])
                   for k in rec['params'])


def assert_arsam(records, steps: int, micro: int) -> None:
    """Both step kinds happened, forwards match the decisions, and the seed
    was rank 0's on every rank."""
    decisions = records[0]['decisions']
    assert len(decisions) == steps
    sam = sum(s for s, _ in decisions)
    assert 3 < sam < steps, decisions
    assert decisions[:3] == [(True, 0.0)] * 3  # warm-up
    assert any(not s and w > 0 for s, w in decisions)  # reuse steps
    rec = records[0]
    assert rec['sam_steps'] == sam and rec['iters'] == steps
    # Pass 2 re-runs the forward on the kept (preprocessed) micro-batches.
    assert sum(rec['forwards']) == ITERS + sam * micro
    assert records[0]['seed_before'] != records[1]['seed_before']
    assert records[0]['seed_after'] == records[1]['seed_after'] \
        == records[0]['seed_before']


def assert_pass2_same_batch(rec, micro: int) -> None:
    """On SAM steps pass 2 saw exactly pass 1's (noisy) inputs."""
    seen = iter(rec['seen'])
    forwards = iter(rec['forwards'])
    for sam, _ in rec['decisions']:
        pass1 = [next(seen) for _ in range(micro)]
        extra = sum(next(forwards) for _ in range(micro)) - micro
        pass2 = [next(seen) for _ in range(extra)]
        if sam:
            assert len(pass2) == micro
            for a, b in zip(pass1, pass2):
                assert torch.equal(a, b)
        else:
            assert not pass2


def test_arsam_ddp_ranks_stay_identical(runs):
    records = runs['arsam']
    assert_ranks_identical(records)
    assert_trained(records)
    assert_arsam(records, steps=ITERS, micro=1)
    for rec in records:
        assert_pass2_same_batch(rec, micro=1)


def test_arsam_ddp_batchnorm_dropout(runs):
    records = runs['arsam_bn']
    assert_ranks_identical(records)
    assert_trained(records)
    assert_arsam(records, steps=ITERS, micro=1)


def test_arsam_ddp_gradient_accumulation(runs):
    records = runs['arsam_accum']
    assert_ranks_identical(records)
    assert_trained(records)
    assert_arsam(records, steps=ITERS // 2, micro=2)
    for rec in records:
        assert rec['inner_count'] == ITERS
        assert_pass2_same_batch(rec, micro=2)


def test_sam_ddp_matches_global_batch_sam(runs):
    """Plain SAM on 2 ranks equals SAM on the union of the ranks' batches
    (both passes synchronised), by an independent implementation."""
    records = runs['sam']
    assert_ranks_identical(records)
    assert_trained(records)
    rec = records[0]
    assert rec['decisions'] == [(True, 0.0)] * ITERS
    assert rec['forwards'] == [2] * ITERS
    for r in records:
        assert_pass2_same_batch(r, micro=1)
    # The inputs pass 1 saw on each rank (every other forward), joined.
    inputs = [
        torch.cat([r['seen'][2 * i] for r in records]) for i in range(ITERS)
    ]
    labels = [
        torch.cat([r['labels'][i] for r in records]) for i in range(ITERS)
    ]
    torch.manual_seed(0)
    model = ToyModel()
    for name, value in model.named_parameters():
        assert torch.equal(value, rec['init'][name])
    history, _ = reference_sam_loop(
        model, list(zip(inputs, labels)), rho=0.05, lr=LR, momentum=MOMENTUM,
        forward=ToyModel.logits)
    expected = history[-1]
    for (name, value), want in zip(model.named_parameters(), expected):
        torch.testing.assert_close(
            rec['params'][name], want, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize('variant', ['looksam', 'randomsam', 'gsam', 'aesam'])
def test_family_ddp_ranks_stay_identical(runs, variant):
    """Every member of the family keeps the ranks bit-identical: same
    decisions (RandomSAM: rank 0's seed; AE-SAM: the averaged gradient's
    norm), same stored vector, same weights; pass 2 replays pass 1's
    batch."""
    records = runs[variant]
    assert_ranks_identical(records)
    assert_trained(records)
    decisions = records[0]['decisions']
    sam = sum(s for s, _ in decisions)
    assert 0 < sam < ITERS
    assert records[0]['sam_steps'] == sam
    assert sum(records[0]['forwards']) == ITERS + sam
    for rec in records:
        assert_pass2_same_batch(rec, micro=1)
    if variant == 'randomsam':
        assert records[0]['seed_before'] != records[1]['seed_before']
        assert records[0]['seed_after'] == records[1]['seed_after']
    if variant == 'aesam':  # target_ratio 0.4 of the 50 steps
        assert sam == 20
    if variant == 'looksam':  # every 3rd step, g_v mixed in between
        assert [s for s, _ in decisions[:6]] == [True, False, False] * 2
        assert all(w == 0.5 for s, w in decisions[1:] if not s)


def test_latesam_ddp_accumulation_switches_on_optimizer_steps(runs):
    """Late-phase SAM under DDP with ``accumulative_counts=2``: the run's
    50 micro-batches are 25 optimizer steps, the last round(0.4 * 25) = 10
    of them SAM steps on every rank (pass 2 replays both micro-batches,
    dropout included), and the ranks stay bit-identical."""
    records = runs['latesam_accum']
    assert_ranks_identical(records)
    assert_trained(records)
    steps = ITERS // 2
    assert records[0]['decisions'] == \
        [(False, 0.0)] * 15 + [(True, 0.0)] * 10
    for rec in records:
        assert rec['iters'] == steps and rec['sam_steps'] == 10
        assert rec['inner_count'] == ITERS
        assert sum(rec['forwards']) == ITERS + 10 * 2
        assert_pass2_same_batch(rec, micro=2)
