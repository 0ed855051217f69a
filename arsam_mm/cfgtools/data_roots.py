"""Fail before training when a dataset's files are missing, naming the
command that generates them (:data:`.generators.DATASETS`)."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config

from .generators import DATASETS
from .walk import SPLITS, datasets, evaluator_metrics, type_name

__all__ = ['check_data_roots']


def _hint(dataset: dict, root: str) -> str:
    kind = type_name(dataset)
    source = DATASETS.get(kind)
    if source is None:
        return 'Download the dataset there or point data_root elsewhere ' \
            '(--cfg-options).'
    generator = source.generator
    extra = ''
    if generator == 'coco' and osp.basename(str(dataset.get(
            'ann_file', ''))).startswith('instances_'):
        generator += ' --instances'  # mmdet's detection file names
    if generator == 'cifar10':
        extra += (" (`digits` instead of `cifar10`: scikit-learn's "
                  'handwritten digits in the same format)')
    if source.smoke is None:  # md5-checked against the official files
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
    if isinstance(splits, str) or any(s not in SPLITS for s in splits):
        raise ValueError("splits must be a sequence of 'train', 'val', "
                         f"'test', got {splits!r}")
    for split, dataset in datasets(cfg, splits, enabled_only=True):
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
        for metric in evaluator_metrics(cfg, split):
            ann = metric.get('ann_file', None)
            if ann and not osp.exists(ann):
                raise FileNotFoundError(
                    f'{split} annotations not found: {split}_evaluator '
                    f'{metric.get("type")} ann_file {ann!r} does not exist. '
                    f'Point it at the {split} annotation file of the data '
                    f'(--cfg-options {split}_evaluator.ann_file=PATH).')
