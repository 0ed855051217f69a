"""What ``tools/train.py`` and ``tools/benchmark.py`` do to a config.

Kept here, not in the tools, so the tools stay thin and the tests can call
the same code.
"""
import argparse
import os.path as osp
from typing import Dict, Iterator, Optional, Tuple

from mmengine.config import Config, ConfigDict

__all__ = ['AMP_TWINS', 'to_amp', 'merge_train_args', 'check_data_roots']

#: Optimizer wrapper type -> its automatic-mixed-precision twin.
AMP_TWINS: Dict[str, str] = {
    'OptimWrapper': 'AmpOptimWrapper',
    'SAMOptimWrapper': 'AmpSAMOptimWrapper',
    'ARSAMOptimWrapper': 'AmpARSAMOptimWrapper',
}

#: Dataset type -> the generator sub-command that writes data it reads.
_GENERATORS: Dict[str, str] = {
    'CityscapesDataset': 'cityscapes',
    'CocoDataset': 'coco',
    'CIFAR10': 'cifar10',
    'CIFAR100': 'cifar100',
    'LocalCIFAR10': 'cifar10',
    'LocalCIFAR100': 'cifar100',
}


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


def _datasets(cfg: Config) -> Iterator[Tuple[str, ConfigDict]]:
    """(split, dataset config) for every dataset the run will read."""
    for split in ('train', 'val', 'test'):
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
    return (f'Generate small built-in data with `python tools/generate_data.py'
            f' {generator} --out {root}`, or download the real '
            f'{kind.replace("Dataset", "")} data set there (see the '
            "toolbox's dataset preparation guide).")


def check_data_roots(cfg: Config) -> None:
    """Fail before training when a dataset's files are missing.

    Checks ``data_root`` and, when it is relative to it, ``ann_file`` of
    every dataset of the enabled train/val/test loops.

    Args:
        cfg (Config): The merged config.

    Raises:
        FileNotFoundError: Naming the split, the missing path, and how to
            generate or obtain the data.
    """
    for split, dataset in _datasets(cfg):
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
