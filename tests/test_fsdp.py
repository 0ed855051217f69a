"""The family under FSDP: 2 processes, gloo, CPU, float64.

Each rank runs ``tests/_fsdp_worker.py``: the toy model in mmengine's
``MMFullyShardedDataParallel`` (FULL_SHARD, ``use_orig_params=True``),
stepped by its ``train_step`` on half of every batch. The same wrapper on
one process with the whole batches is the reference: both ranks must take
its decisions and end at its weights (gathered full parameters) to 1e-12.
Before the norms were reduced over the shard group, each rank scaled the
perturbation by its own shard's norm and SAM ended 1.7e-2 away.
"""
import pytest
import torch

from tests._fsdp_worker import VARIANTS, train
from tests.test_engine_ddp import HERE, WORLD_SIZE, launch, pytestmark  # noqa

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
    # Rank 0 holds no element of fc2 (the flat parameter splits 34 / 33).
    assert 0 in records[0]['local_sizes']
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


@pytest.mark.slow
def test_plain_optim_wrapper_fsdp_matches_single_process(slow_runs):
    """The harness: mmengine's OptimWrapper matches without any help."""
    assert_matches_single_process('sgd', slow_runs['sgd'])


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
@pytest.mark.parametrize('variant', ['looksam', 'gsam', 'aesam'])
def test_family_fsdp_matches_single_process(slow_runs, variant):
    """LookSAM's and GSAM's inner products and AE-SAM's ``||g||^2`` are
    reduced too: the single-process decisions and weights."""
    want = assert_matches_single_process(variant, slow_runs[variant])
    sam = sum(s for s, _ in want['decisions'])
    assert 0 < sam < len(want['decisions'])
