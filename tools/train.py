"""Train a model from an mmengine config, with the SAM family's optimizer
wrappers, hook and loops registered (the tool imports :mod:`arsam_mm.engine`;
a config loads them itself with ``custom_imports``).

The interface of mmsegmentation's and mmpose's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

Multi-GPU: ``tools/dist_train.sh CONFIG GPUS`` (torchrun).

A few iterations of any model-zoo config on a CPU, with generated data and
no downloads (``arsam_mm/cfgtools/smoke.py`` says what changes)::

    python tools/train.py CONFIG --smoke [ITERS] [--smoke-data DIR]
        [--smoke-shrink F] [--smoke-batch B]
"""
import argparse
import os
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import arsam_mm.engine  # noqa: F401  (registers the family's wrappers)
from arsam_mm.cfgtools.data_roots import check_data_roots
from arsam_mm.cfgtools.options import KeyValueAction
from arsam_mm.cfgtools.rewrite import amp_to_fp32
from arsam_mm.cfgtools.smoke import apply_smoke
from arsam_mm.cfgtools.train import init_cpu_distributed, merge_train_args


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f'expected an integer >= 1, got {text!r}')
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a model from an mmengine config (any optimizer '
        'wrapper: mmengine\'s or one of the SAM family)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or from the latest checkpoint in the work '
        'dir when no path is given')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision: a wrapper of the SAM family becomes '
        'its Amp twin (ARSAMOptimWrapper -> AmpARSAMOptimWrapper, ...), '
        'OptimWrapper becomes AmpOptimWrapper; loss_scale dynamic unless the '
        'config sets one')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=KeyValueAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    smoke = parser.add_argument_group(
        'smoke run', 'a few iterations on a CPU with generated data: no '
        'pretrained weights, image sizes shrunk, SyncBN -> BN and AMP -> '
        'fp32 without CUDA, '
        'the pipelines, optimizer and hooks otherwise the config\'s own')
    smoke.add_argument(
        '--smoke',
        nargs='?',
        type=_positive,
        const=3,
        metavar='ITERS',
        help='train ITERS iterations (default 3), then validate once')
    smoke.add_argument(
        '--smoke-data',
        default='data/smoke',
        metavar='DIR',
        help='where generated data is cached (default: data/smoke)')
    smoke.add_argument(
        '--smoke-shrink',
        type=_positive,
        default=8,
        metavar='F',
        help='divide image sizes by at most F (default 8)')
    smoke.add_argument(
        '--smoke-batch',
        type=_positive,
        default=2,
        metavar='B',
        help='batch size of every loader at most B (default 2)')
    args = parser.parse_args(argv)
    if args.smoke is None and any(
            getattr(args, k) != parser.get_default(k)
            for k in ('smoke_data', 'smoke_shrink', 'smoke_batch')):
        parser.error('--smoke-data, --smoke-shrink and --smoke-batch only '
                     'apply with --smoke')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_runner(cfg: Config) -> Runner:
    """The Runner, or the config's ``runner_type`` (``FlexibleRunner`` for
    a ``strategy`` such as ``SAMFSDPStrategy``), as mmseg's tool does."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def main(argv: Optional[List[str]] = None) -> Runner:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.smoke is not None:  # before --cfg-options, so that they win
        apply_smoke(
            cfg,
            iters=args.smoke,
            data_dir=args.smoke_data,
            shrink=args.smoke_shrink,
            batch_size=args.smoke_batch)
    cfg = merge_train_args(cfg, args)
    if args.smoke is not None and args.amp and \
            not torch.cuda.is_available():  # --amp came after apply_smoke
        print_log(
            '--smoke --amp without CUDA: ' +
            '; '.join(amp_to_fp32(cfg._cfg_dict)),
            logger='current')
    check_data_roots(cfg)
    init_cpu_distributed(cfg)  # --launcher pytorch without CUDA
    runner = build_runner(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    main()
