"""What ``tools/train.py`` does to a loaded config: its options, and a
distributed launch on a machine without CUDA."""
import argparse
import datetime
import os
import os.path as osp
import warnings

import torch
from mmengine.config import Config

from .rewrite import sync_bn_to_bn, to_amp

__all__ = ['merge_train_args', 'init_cpu_distributed']


def merge_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply ``tools/train.py``'s options to ``cfg`` (as mmpose does).

    Work-dir precedence: ``--work-dir`` > ``cfg.work_dir`` >
    ``./work_dirs/<config name>``.

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): ``work_dir``, ``resume``, ``amp``,
            ``cfg_options``, ``launcher``, ``config``.

    Returns:
        Config: ``cfg``, updated.
    """
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        to_amp(cfg.optim_wrapper)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def init_cpu_distributed(cfg: Config) -> None:
    """Let ``Runner`` train with ``--launcher pytorch`` on CPU only.

    mmengine 0.10's ``init_dist`` calls ``torch.cuda.set_device`` and its
    ``wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DDP, both of which
    fail without CUDA. On a machine without CUDA this initializes the
    process group itself (the Runner then skips ``init_dist``), with the
    config's ``env_cfg.dist_cfg`` (``nccl``, which needs CUDA, becomes
    ``gloo``), and sets ``model_wrapper_cfg`` to ``MMDistributedDataParallel``
    with ``device_ids=None`` unless the config has its own. ``SyncBN``
    layers (CUDA only) become ``BN``, with a warning: each process then
    normalizes with its own batch's statistics. A no-op for other
    launchers or with CUDA.

    Args:
        cfg (Config): The merged config (``launcher`` set).
    """
    if cfg.get('launcher', 'none') != 'pytorch' or \
            torch.cuda.is_available() or not torch.distributed.is_available():
        return
    if not torch.distributed.is_initialized():
        dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
        backend = dist_cfg.pop('backend', 'gloo')
        if backend == 'nccl':
            warnings.warn('no CUDA device: dist_cfg.backend nccl replaced by '
                          'gloo')
            backend = 'gloo'
        if dist_cfg.get('timeout', None) is not None:
            dist_cfg['timeout'] = datetime.timedelta(
                seconds=dist_cfg['timeout'])
        torch.distributed.init_process_group(
            backend=backend,
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **dist_cfg)
    if cfg.get('model_wrapper_cfg', None) is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if cfg.model_wrapper_cfg.get('type', 'MMDistributedDataParallel') in (
            'MMDistributedDataParallel', 'DistributedDataParallel'):
        cfg.model_wrapper_cfg.setdefault('device_ids', None)
    changes = sync_bn_to_bn(cfg._cfg_dict)
    if changes:
        warnings.warn('no CUDA device: SyncBN needs CUDA and was replaced by '
                      'BN (each process normalizes over its own batch): ' +
                      '; '.join(changes))
