"""Per-step cost of every SAM-family wrapper against a plain OptimWrapper.

Measures, in one process and interleaved (each step between two base steps,
so drift hits every variant alike; :mod:`arsam_mm.benchmark.step_cost`),
the cost of ``model.train_step`` for mmengine's ``OptimWrapper`` (``base``)
and every member of the family table with step-cost settings
(:func:`arsam_mm.family.step_cost_variants`: ``sam``, ``arsam``,
``aesam``, ``looksam``, ``randomsam``, ``gsam``, ``latesam``), each
member's steps split into one-pass and two-pass steps by the passes they
ran. On a CPU the cost is the process's CPU time, on a GPU the wall-clock
around synchronised steps.

Targets: a one-pass step within 5% of a base step (2% on a GPU, issue 15), a
two-pass step within 5% of twice a base step, the family's peak memory no
more than SAM's. Peak memory
is CUDA max-allocated on a GPU; on CPU each variant runs in a fresh
subprocess and reports its peak RSS growth over the model's set-up.

Writes ``<out>/step_cost.json`` and ``<out>/step_cost.md``.

Example::

    python tools/benchmark_step_cost.py --iters 60 --out reports/step_cost
"""
import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.optim import build_optim_wrapper
from torch import nn

import arsam_mm  # noqa: F401
from arsam_mm.benchmark.markdown import table
from arsam_mm.benchmark.step_cost import summarize as step_costs
from arsam_mm.benchmark.step_cost import time_step_kinds
from arsam_mm.family import step_cost_variants

#: Settings that sample both step kinds often (the family table's
#: ``step_cost``), at rho 0.05.
VARIANTS = step_cost_variants()


class Preprocessor(BaseDataPreprocessor):

    def forward(self, data, training=False):
        return self.cast_data(data)


class SmallResNet(BaseModel):
    """A few residual conv blocks with BatchNorm on 32x32 inputs."""

    def __init__(self, width: int = 32, blocks: int = 3, classes: int = 10):
        super().__init__(data_preprocessor=Preprocessor())
        layers = [nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width),
                  nn.ReLU()]
        for _ in range(blocks):
            layers += [nn.Conv2d(width, width, 3, padding=1),
                       nn.BatchNorm2d(width), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, classes)

    def forward(self, inputs, labels=None, mode='loss'):
        out = self.head(self.body(inputs).mean((2, 3)))
        return dict(loss=nn.functional.cross_entropy(out, labels))


def make_data(batch: int, device: str):
    gen = torch.Generator().manual_seed(0)
    return dict(
        inputs=torch.randn(batch, 3, 32, 32, generator=gen).to(device),
        labels=torch.randint(0, 10, (batch, ), generator=gen).to(device))


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def build(name: str, device: str, width: int, steps: int):
    torch.manual_seed(0)
    model = SmallResNet(width).to(device)
    cfg = dict(VARIANTS[name], optimizer=dict(type='SGD', lr=0.01,
                                              momentum=0.9))
    wrapper = build_optim_wrapper(model, cfg)
    # The run length a Runner would give (AE-SAM's schedule needs it).
    wrapper.initialize_count_status(model, 0, steps)
    return model, wrapper


def time_steps(args) -> dict:
    """Interleaved timing of all variants (:func:`time_step_kinds`):
    CPU time on a CPU, synchronised wall-clock on a GPU."""
    torch.manual_seed(0)
    model = SmallResNet(args.width).to(args.device)
    wrappers = {
        name: dict(cfg, optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
        for name, cfg in VARIANTS.items()
    }
    cuda = args.device.startswith('cuda')
    return time_step_kinds(
        model, make_data(args.batch, args.device), wrappers, args.iters,
        args.warmup, sync=lambda: sync(args.device),
        clock=time.perf_counter if cuda else time.process_time)


def peak_memory(name: str, args) -> float:
    """Peak memory growth (MiB) of training one variant, in a subprocess on
    CPU (peak RSS) or in-process on CUDA (max allocated)."""
    if args.device.startswith('cuda'):
        model, wrapper = build(name, args.device, args.width, 8)
        data = make_data(args.batch, args.device)
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        for _ in range(8):
            model.train_step(data, wrapper)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    cmd = [sys.executable, __file__, '--memory-child', name,
           '--batch', str(args.batch), '--width', str(args.width)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def memory_child(args) -> None:
    model, wrapper = build(args.memory_child, 'cpu', args.width, 8)
    data = make_data(args.batch, 'cpu')
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(8):
        model.train_step(data, wrapper)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(f'{(after - before) / 1024:.3f}\n')


def summarize(times: dict, memory: dict, args) -> dict:
    costs = step_costs(times)
    ratios = {}
    for kind, value in costs['x_base'].items():
        if kind.endswith('_one'):
            ratios[kind + '_over_base'] = value
        elif kind.endswith('_two'):
            ratios[kind + '_over_2x_base'] = value / 2
    return dict(
        date=datetime.now(timezone.utc).isoformat(timespec='seconds'),
        device=(torch.cuda.get_device_name() if args.device.startswith('cuda')
                else f'cpu ({platform.processor() or platform.machine()}, '
                f'{torch.get_num_threads()} threads)'),
        versions=dict(python=platform.python_version(),
                      torch=torch.__version__,
                      arsam_mm=arsam_mm.__version__),
        command=' '.join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        settings=dict(batch=args.batch, width=args.width, iters=args.iters,
                      warmup=args.warmup),
        clock=('wall-clock' if args.device.startswith('cuda')
               else 'process CPU time'),
        samples=costs['samples'], median_s=costs['median_s'],
        stdev_s=costs['stdev_s'], ratios=ratios,
        peak_memory_mib=memory,
        raw_s={k: [t for _, t in v] for k, v in times.items()})


def markdown(report: dict) -> str:
    med, sd, r = report['median_s'], report['stdev_s'], report['ratios']
    mem = report['peak_memory_mib']
    rows = [['base (OptimWrapper)', f"{med['base'] * 1e3:.2f}",
             f"{sd['base'] * 1e3:.2f}", report['samples']['base'], '-']]
    for kind in med:
        if kind == 'base':
            continue
        name, passes = kind.rsplit('_', 1)
        if passes == 'one':
            label, ratio = 'one-pass', f"{r[kind + '_over_base']:.3f} x base"
        else:
            label = 'two-pass'
            ratio = f"{r[kind + '_over_2x_base']:.3f} x 2*base"
        rows.append([f'{name} {label}', f'{med[kind] * 1e3:.2f}',
                     f'{sd[kind] * 1e3:.2f}', report['samples'][kind],
                     ratio])
    lines = [
        '# Per-step cost: plain OptimWrapper vs the SAM family', '',
        f"Date: {report['date']}. Device: {report['device']}. "
        f"Clock: {report.get('clock', 'wall-clock')}. "
        f"Command: `{report['command']}`.", '',
        table(['step', 'median ms', 'stdev ms', 'samples', 'ratio'], rows),
        '', table(['variant', 'peak memory growth, MiB'],
                  [[k, f'{v:.1f}'] for k, v in mem.items()])]
    lines += ['', 'Ratios are medians, over interleaved steps in one '
              'process, of each step over the mean of the base steps just '
              'before and after it; absolute times are only meaningful on a '
              'GPU. '
              'Targets: one-pass <= 1.05 x base (GPU: 1.02), two-pass '
              '<= 1.05 x 2*base.', '']
    return '\n'.join(lines)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--width', type=int, default=32)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', default='reports/step_cost')
    parser.add_argument('--memory-child', help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.memory_child:
        memory_child(args)
        return
    for name, value in (('iters', args.iters), ('batch', args.batch),
                        ('width', args.width)):
        if value < 1:
            raise SystemExit(f'--{name} must be >= 1, got {value}')
    times = time_steps(args)
    memory = {name: peak_memory(name, args) for name in VARIANTS}
    report = summarize(times, memory, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'step_cost.json').write_text(json.dumps(report, indent=2))
    text = markdown(report)
    (out / 'step_cost.md').write_text(text)
    sys.stdout.write(text)


if __name__ == '__main__':
    main()
