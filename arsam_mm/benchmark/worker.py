"""One benchmark run (a config, an optimizer, a seed) or one task's step
costs, in this process.

``tools/benchmark.py`` starts each in a fresh process (so that peak memory
and mmengine's global state belong to that run alone) and reads back the
JSON this module writes.
"""
import json
import os
import os.path as osp
import platform
import resource
from typing import Any, Dict

import torch
from mmengine.config import Config

__all__ = ['run_one', 'measure_steps', 'score_test_split', 'METRIC_KEYS']

#: Preferred headline metric keys, in order, as mmseg/mmpose/mmpretrain log
#: them.
METRIC_KEYS = ('mIoU', 'coco/AP', 'PCK', 'accuracy/top1')


def _rescale_schedulers(cfg: Config, old: int, new: int) -> None:
    """Stretch iteration-based param schedulers from ``old`` to ``new``
    iterations, so the schedule keeps its shape (a cosine written for the
    config's run still ends at 0 at the end of the benchmark's run)."""
    schedulers = cfg.get('param_scheduler', None) or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for sched in schedulers:
        if sched.get('by_epoch', True):
            continue
        for key in ('begin', 'end', 'T_max'):
            if isinstance(sched.get(key), int):
                sched[key] = round(sched[key] * new / old)
        if 'milestones' in sched:
            sched['milestones'] = [
                round(m * new / old) for m in sched['milestones']
            ]


def _iteration_budget(cfg: Config, iters: int, evals: int) -> None:
    train_cfg = cfg.train_cfg
    if train_cfg.get('by_epoch', train_cfg.get('type') == 'EpochBasedTrainLoop'
                     ) and train_cfg.get('type') != 'IterBasedTrainLoop':
        raise ValueError(
            'the benchmark needs an iteration-based config (train_cfg '
            f"by_epoch=False), got {dict(train_cfg)}; use a quick config")
    _rescale_schedulers(cfg, train_cfg.get('max_iters', iters), iters)
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop',
        max_iters=iters,
        val_interval=max(1, iters // max(1, evals)))


def score_test_split(cfg: Config) -> None:
    """Make every validation of ``cfg`` also score its test split
    (:class:`~arsam_mm.engine.loops.ValTestLoop`: the test metrics join the
    validation metrics as ``test/<name>``).

    Raises:
        ValueError: When the config has no test dataloader or evaluator, or
            its test dataloader is its validation dataloader (no split held
            out from selection), or its ``val_cfg`` is another loop than
            ``ValLoop``.
    """
    test, evaluator = cfg.get('test_dataloader'), cfg.get('test_evaluator')
    if not test or not evaluator:
        raise ValueError(
            'scoring the test split needs test_dataloader and '
            f"test_evaluator in the config, got {test!r} and {evaluator!r}")
    if test == cfg.get('val_dataloader'):
        raise ValueError(
            'scoring the test split needs a test split apart from val, but '
            "the config's test_dataloader is its val_dataloader "
            f"({dict(test.get('dataset', {}))}); use a config with a test "
            'split (the frontier configs of tools/benchmark.py --quick) or '
            'turn test scoring off (--no-score-test)')
    val_cfg = dict(cfg.get('val_cfg') or {})
    if val_cfg.get('type', 'ValLoop') != 'ValLoop':
        raise ValueError('scoring the test split replaces ValLoop, but '
                         f"val_cfg is {val_cfg}")
    val_cfg.update(type='ValTestLoop', test_dataloader=test,
                   test_evaluator=evaluator)
    cfg.val_cfg = val_cfg


def _load_config(spec: Dict[str, Any]) -> Config:
    """The spec's config (shrunk by ``--smoke``) with its overrides,
    iteration budget and work dir; the run's threads set."""
    import arsam_mm  # noqa: F401
    from ..cfgtools.data_roots import check_data_roots
    from ..cfgtools.smoke import apply_smoke

    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    cfg = Config.fromfile(spec['config'])
    if spec.get('smoke'):
        apply_smoke(cfg, iters=spec['iters'], data_dir=spec['smoke'])
    if spec.get('cfg_options'):
        cfg.merge_from_dict(spec['cfg_options'])
    _iteration_budget(cfg, spec['iters'], spec.get('evals', 1))
    if spec.get('score_test'):
        score_test_split(cfg)
    cfg.work_dir = spec['work_dir']
    cfg.experiment_name = osp.basename(spec['work_dir'])
    cfg.launcher = 'none'
    check_data_roots(cfg)
    return cfg


def measure_steps(spec: Dict[str, Any]) -> Dict[str, Any]:
    """One task's step costs (:func:`.step_cost.measure_config`).

    Args:
        spec (dict): ``config``, ``iters``, ``work_dir``, ``cfg_options``,
            ``rho``, ``optimizers``, ``rounds``, ``threads`` and
            ``smoke``.

    Returns:
        dict: The step costs, with the load average before and after.
    """
    from .step_cost import measure_config

    cfg = _load_config(spec)
    load = [os.getloadavg()[0]]
    result = measure_config(cfg, spec['optimizers'], rho=spec['rho'],
                            rounds=spec['rounds'],
                            method_args=spec.get('method_args'))
    result['load'] = load + [os.getloadavg()[0]]
    return result


def run_one(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Train one variant and return its record.

    Args:
        spec (dict): ``config``, ``optimizer``, ``seed``, ``iters``,
            ``evals`` (validations during the run), ``work_dir``,
            ``cfg_options``, ``rho``, ``arsam`` (kwargs), ``interval``,
            ``budget`` (share of SAM steps, or None), ``method_args``
            (further wrapper arguments per optimizer), ``threads``
            (torch threads, or None for torch's default) and ``smoke``
            (the data folder of a shrunk config, or None); with
            ``score_test``, every validation also scores the test split
            (:func:`score_test_split`) and the record adds ``split_sizes``
            (items of the train, val and test datasets).

    Returns:
        dict: The recorder's series plus ``peak_memory_mib``,
        ``memory_kind``, ``device`` and ``load`` (the 1-minute load
        average at the start and at the end).
    """
    from mmengine.runner import Runner

    from .recorder import BenchmarkRecorder, IterTimerStart
    from .variants import make_variant

    cfg = _load_config(spec)
    cfg = make_variant(cfg, spec['optimizer'], rho=spec.get('rho', 0.05),
                       arsam=spec.get('arsam'),
                       interval=spec.get('interval', 1),
                       budget=spec.get('budget'),
                       method_args=spec.get('method_args'))
    cfg.randomness = dict(seed=spec['seed'])
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=max(1, spec['iters'] // 5))
    cfg.default_hooks.pop('visualization', None)
    load = [os.getloadavg()[0]]
    runner = Runner.from_cfg(cfg)
    timer = IterTimerStart()
    recorder = BenchmarkRecorder(timer)
    runner.register_hook(timer)
    runner.register_hook(recorder)
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    runner.train()
    result = recorder.result()
    if hasattr(runner.val_loop, 'test_dataloader'):  # ValTestLoop
        result['split_sizes'] = dict(
            train=len(runner.train_dataloader.dataset),
            val=len(runner.val_loop.dataloader.dataset),
            test=len(runner.val_loop.test_dataloader.dataset))
    result['load'] = load + [os.getloadavg()[0]]
    if cuda:
        result['peak_memory_mib'] = torch.cuda.max_memory_allocated() / 2**20
        result['memory_kind'] = 'CUDA max allocated'
    else:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result['peak_memory_mib'] = rss / 1024
        result['memory_kind'] = 'peak RSS of the run process'
    result['device'] = (torch.cuda.get_device_name() if cuda else
                        f'cpu ({platform.machine()}, '
                        f'{torch.get_num_threads()} threads)')
    return result


def main(spec_path: str, out_path: str) -> None:
    """Entry of the per-run process: read the spec, write the record (a
    spec with ``rounds`` measures step costs instead)."""
    with open(spec_path) as f:
        spec = json.load(f)
    result = measure_steps(spec) if 'rounds' in spec else run_one(spec)
    with open(out_path, 'w') as f:
        json.dump(result, f)
