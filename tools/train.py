"""Train a model from an mmengine config, with SAM/ARSAM available.

The interface of mmsegmentation's and mmpose's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

Multi-GPU: ``tools/dist_train.sh CONFIG GPUS`` (torchrun).
"""
import argparse
import os

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from arsam_mm.engine.cli import (check_data_roots, init_cpu_distributed,
                                 merge_train_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a model (SGD, SAM or ARSAM) from a config')
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
        help='automatic mixed precision: SAMOptimWrapper/ARSAMOptimWrapper '
        'become their Amp twins, OptimWrapper becomes AmpOptimWrapper')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg = merge_train_args(cfg, args)
    check_data_roots(cfg)
    init_cpu_distributed(cfg)  # --launcher pytorch without CUDA
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
