"""What ``tools/train.py`` and ``tools/benchmark.py`` do to a config.

Kept here, not in the tools, so the tools stay thin and the tests can call
the same code.
"""
import argparse
import datetime
import os
import os.path as osp
import warnings
from typing import Dict, Iterator, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, ConfigDict, DictAction

from .optim_wrappers import AMP_TWINS

from .smoke import SMOKE_GENERATORS, sync_bn_to_bn

__all__ = [
    'AMP_TWINS', 'to_amp', 'merge_train_args', 'check_data_roots',
    'init_cpu_distributed', 'KeyValueAction'
]

#: Dataset type -> the generator sub-command that writes data it reads: the
#: ones ``--smoke`` uses, plus mmpretrain's md5-checked CIFAR datasets (the
#: hint then says to read generated files with ``LocalCIFAR*``).
_GENERATORS: Dict[str, str] = {
    **SMOKE_GENERATORS, 'CIFAR10': 'cifar10',
    'CIFAR100': 'cifar100'
}


class KeyValueAction(DictAction):
    """mmengine's ``DictAction`` (``KEY=VALUE`` pairs, values parsed as
    numbers, tuples, lists, ...), with a pair without ``=`` an argparse
    error naming the option and the pair (``DictAction`` raises a bare
    ``ValueError`` from inside argparse: a traceback)."""

    def __call__(self,
                 parser: argparse.ArgumentParser,
                 namespace: argparse.Namespace,
                 values: Optional[Sequence[str]],
                 option_string: Optional[str] = None) -> None:
        for pair in values or []:
            if '=' not in pair or pair.startswith('='):
                raise argparse.ArgumentError(
                    self, f'expected KEY=VALUE pairs, got {pair!r}')
        super().__call__(parser, namespace, values, option_string)


def to_amp(optim_wrapper: ConfigDict) -> None:
    """Switch an ``optim_wrapper`` config to its AMP twin, in place.

    Args:
        optim_wrapper (ConfigDict): The ``optim_wrapper`` field.

    Raises:
        ValueError: For a wrapper type without an AMP twin.
    """
    kind = optim_wrapper.get('type', 'OptimWrapper')
    if kind in AMP_TWINS.values():
        return
    if kind not in AMP_TWINS:
        raise ValueError(
            f'--amp: optim_wrapper.type {kind!r} has no AMP twin; supported: '
            f'{sorted(AMP_TWINS)} (or their Amp versions)')
    optim_wrapper['type'] = AMP_TWINS[kind]
    optim_wrapper.setdefault('loss_scale', 'dynamic')


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


def _datasets(cfg: Config,
              splits: Sequence[str]) -> Iterator[Tuple[str, ConfigDict]]:
    """(split, dataset config) for every dataset of ``splits`` the run
    reads (a split without a loader or a loop config is skipped)."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader', None)
        if not loader or cfg.get(f'{split}_cfg', None) is None:
            continue
        stack = [loader.get('dataset')]
        while stack:
            dataset = stack.pop()
            if not dataset:
                continue
            if 'datasets' in dataset:  # ConcatDataset and friends
                stack.extend(dataset['datasets'])
            elif 'dataset' in dataset:  # RepeatDataset, ClassBalanced...
                stack.append(dataset['dataset'])
            else:
                yield split, dataset


def _hint(dataset: ConfigDict, root: str) -> str:
    kind = str(dataset.get('type', '')).split('.')[-1]
    generator = _GENERATORS.get(kind)
    if generator is None:
        return 'Download the dataset there or point data_root elsewhere ' \
            '(--cfg-options).'
    extra = ''
    if generator == 'coco' and osp.basename(str(dataset.get(
            'ann_file', ''))).startswith('instances_'):
        generator += ' --instances'  # mmdet's detection file names
    if generator == 'cifar10':
        extra += (" (`digits` instead of `cifar10`: scikit-learn's "
                  'handwritten digits in the same format)')
    if kind in ('CIFAR10', 'CIFAR100'):  # md5-checked against the originals
        extra += (f" and read it with type='Local{kind}' (mmpretrain's "
                  f'{kind} accepts the official files only)')
    name = kind.replace('Dataset', '').replace('Local', '')
    return (f'Generate small built-in data with `python tools/generate_data.py'
            f' {generator} --out {root}`{extra}, or download the real '
            f'{name} data set there (see the '
            "toolbox's dataset preparation guide).")


def check_data_roots(cfg: Config,
                     splits: Sequence[str] = ('train', 'val')) -> None:
    """Fail before training when a dataset's files are missing.

    Checks ``data_root`` and, when it is relative to it, ``ann_file`` of
    every dataset of the enabled loops of ``splits``, then the files read
    as given (relative to the working directory): a dataset's
    ``bbox_file`` (mmpose's detected person boxes) and the evaluators'
    ``ann_file`` (e.g. ``CocoMetric``). By default only the splits
    ``runner.train()`` reads: the test split of a training config is never
    read, so its files need not exist.

    Args:
        cfg (Config): The merged config.
        splits (Sequence[str]): Splits to check, of ``'train'``, ``'val'``,
            ``'test'``. Defaults to ``('train', 'val')``.

    Raises:
        ValueError: For an unknown split.
        FileNotFoundError: Naming the split, the missing path, and how to
            generate or obtain the data.
    """
    if isinstance(splits, str) or any(
            s not in ('train', 'val', 'test') for s in splits):
        raise ValueError("splits must be a sequence of 'train', 'val', "
                         f"'test', got {splits!r}")
    for split, dataset in _datasets(cfg, splits):
        root: Optional[str] = dataset.get('data_root', None)
        ann = dataset.get('ann_file', None)
        missing = None
        if root and not osp.isdir(root):
            missing = root
        elif ann:
            path = ann if osp.isabs(ann) or not root else osp.join(root, ann)
            if not osp.exists(path):
                missing = path
        if missing is not None:
            raise FileNotFoundError(
                f'{split} data not found: {missing!r} does not exist '
                f'(dataset {dataset.get("type")}, data_root={root!r}). ' +
                _hint(dataset, root or osp.dirname(missing)))
        bbox = dataset.get('bbox_file', None)
        if bbox and not osp.exists(bbox):
            raise FileNotFoundError(
                f'{split} person boxes not found: bbox_file {bbox!r} does not '
                'exist. Download the detection results there, or evaluate on '
                f'ground-truth boxes: --cfg-options {split}_dataloader.'
                'dataset.bbox_file=None (the generated data has no '
                'detection results).')
    for split in (s for s in ('val', 'test') if s in splits):
        if not cfg.get(f'{split}_dataloader', None) or \
                cfg.get(f'{split}_cfg', None) is None:
            continue
        metrics = cfg.get(f'{split}_evaluator', None) or []
        if isinstance(metrics, dict):
            metrics = metrics.get('metrics', [metrics])
        for metric in metrics if isinstance(metrics, list) else [metrics]:
            ann = metric.get('ann_file', None) \
                if isinstance(metric, dict) else None
            if ann and not osp.exists(ann):
                raise FileNotFoundError(
                    f'{split} annotations not found: {split}_evaluator '
                    f'{metric.get("type")} ann_file {ann!r} does not exist. '
                    f'Point it at the {split} annotation file of the data '
                    f'(--cfg-options {split}_evaluator.ann_file=PATH).')


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
