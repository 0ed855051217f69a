"""Step costs measured interleaved, and run costs derived from pass counts."""
import os
import subprocess
import sys

import pytest
import torch
from mmengine.model import BaseDataPreprocessor, BaseModel
from torch import nn

from arsam_mm.benchmark.step_cost import (derived_cost, summarize,
                                          time_step_kinds)

X_BASE = dict(base=1.0, sam_two=2.1, periodic_one=1.02, periodic_two=2.2)


def test_derived_cost_limits_and_a_mixed_run():
    # base: one base step per iteration whatever it records
    assert derived_cost([1, 2, 3], 'base', X_BASE) == 1.0
    # SAM: every iteration two passes, priced at its two-pass step; the
    # one-pass step it never measured defaults to the base step
    assert derived_cost([2, 4, 6, 8], 'sam', X_BASE) == pytest.approx(2.1)
    # periodic, k=4: passes 2,1,1,1 -> (2.2 + 3 * 1.02) / 4
    assert derived_cost([2, 3, 4, 5], 'periodic', X_BASE) == pytest.approx(
        (2.2 + 3 * 1.02) / 4)
    # a two-pass iteration of a method whose two-pass step was not measured
    assert derived_cost([2, 3], 'looksam', X_BASE) is None
    assert derived_cost([], 'sam', X_BASE) is None
    # accumulation over 2 micro-batches, SAM cycle: 1 pass then 3
    assert derived_cost([1, 4], 'sam', X_BASE) == pytest.approx(
        (1.0 + 1.0 + 2 * 1.1) / 2)


def test_summarize_needs_base_steps():
    with pytest.raises(ValueError, match='base'):
        summarize({'sam_two': [(1.0, 1.0)]})
    # a slow second round (load) doubles a step and its reference alike
    out = summarize({'base': [(1.0, 1.0), (2.0, 2.0), (1.0, 1.0)],
                     'sam_two': [(1.0, 2.2), (2.0, 4.4), (1.0, 2.2)],
                     'periodic_one': [(2.0, 2.2)]})
    assert out['median_s'] == {'base': 1.0, 'sam_two': 2.2,
                               'periodic_one': 2.2}
    assert out['x_base'] == pytest.approx(
        {'base': 1.0, 'sam_two': 2.2, 'periodic_one': 1.1})
    assert out['samples'] == {'base': 3, 'sam_two': 3, 'periodic_one': 1}


class ConvToy(BaseModel):
    """Residual-free conv blocks with BatchNorm on 32x32 inputs: a model
    whose steps are compute-bound, as the tasks' models are."""

    def __init__(self, width: int = 16, blocks: int = 3) -> None:
        super().__init__(data_preprocessor=BaseDataPreprocessor())
        layers = [nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width),
                  nn.ReLU()]
        for _ in range(blocks):
            layers += [nn.Conv2d(width, width, 3, padding=1),
                       nn.BatchNorm2d(width), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 10)

    def forward(self, inputs, labels=None, mode='loss'):
        out = self.head(self.body(inputs).mean((2, 3)))
        return dict(loss=nn.functional.cross_entropy(out, labels))


def _big_toy():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    batch = dict(inputs=torch.randn(16, 3, 32, 32, generator=gen),
                 labels=torch.randint(0, 10, (16, ), generator=gen))
    return ConvToy(), batch


WRAPPERS = dict(
    base=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)),
    sam=dict(type='SAMOptimWrapper', rho=0.05,
             optimizer=dict(type='SGD', lr=0.01)),
    periodic=dict(type='SAMOptimWrapper', rho=0.05, interval=2,
                  optimizer=dict(type='SGD', lr=0.01)))


def test_interleaved_timing_sorts_steps_by_their_passes():
    model, batch = _big_toy()
    before = [p.detach().clone() for p in model.parameters()]
    times = time_step_kinds(model, batch, WRAPPERS, rounds=4, warmup=1)
    assert {k: len(v) for k, v in times.items()} == dict(
        base=8, sam_two=4, periodic_one=2, periodic_two=2)
    # every wrapper trained its own copy
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    with pytest.raises(ValueError, match='rounds'):
        time_step_kinds(model, batch, WRAPPERS, rounds=0)
    with pytest.raises(ValueError, match='must hold base'):
        time_step_kinds(model, batch, dict(sam=WRAPPERS['sam']), rounds=1)


#: Iteration patterns priced by the hog test: SAM, and periodic SAM at
#: budgets 0.5 and 0.25 (passes counted after each iteration).
PATTERNS = dict(sam=('sam', [2 * (i + 1) for i in range(8)]),
                periodic_half=('periodic', [2, 3, 5, 6, 8, 9, 11, 12]),
                periodic_quarter=('periodic', [2, 3, 4, 5, 7, 8, 9, 10]))


def _derived_ratios(rounds: int = 100) -> dict:
    """Derived costs of :data:`PATTERNS` from step costs measured with one
    thread (as every run of a suite with ``jobs=2`` on two cores)."""
    model, batch = _big_toy()
    x_base = summarize(time_step_kinds(model, batch, WRAPPERS,
                                       rounds=rounds, warmup=4))['x_base']
    return {name: derived_cost(passes, optimizer, x_base)
            for name, (optimizer, passes) in PATTERNS.items()}


def test_a_cpu_hog_moves_the_derived_ratios_by_at_most_5_percent():
    """The figure the benchmark reports as cost must not flip under load:
    a busy-looping process per core, started beside the measurement, moves
    the derived cost ratios by no more than 5%.

    The median ratio needs its samples: at 40 rounds a pair of trials once
    differed by 5.2% (and at 24 rounds by 10%); at 100 rounds, 8 pairs of
    quiet and hogged trials on the shared 2-core VM, with a benchmark suite
    running beside them, differed by at most 2.9% (reports/hog_step_cost)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _hog_test()
    finally:
        torch.set_num_threads(threads)


def _hog_test():
    _derived_ratios(rounds=4)  # first steps of a process: allocations
    quiet = _derived_ratios()
    hogs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(os.cpu_count() or 1)]
    try:
        loaded = _derived_ratios()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    for name, value in quiet.items():
        assert loaded[name] == pytest.approx(value, rel=0.05), (
            name, quiet, loaded)
