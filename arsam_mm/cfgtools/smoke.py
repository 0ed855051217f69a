"""A few training iterations of any model-zoo config on a CPU.

``tools/train.py CONFIG --smoke [ITERS]`` calls :func:`apply_smoke` on the
loaded config. It checks that the config builds and trains, with whatever
optimizer wrapper the config sets, without a GPU, a download or the real
data. Everything else the config sets is kept, its pipelines included; each
change is logged (``print_log``) and returned:

* **data**: every dataset of the train/val/test loaders whose type (and
  scope) has generated data (:data:`.generators.DATASETS`) reads small
  generated data under ``data_dir/<folder>`` (written on first use,
  :func:`smoke_data_root`); evaluator ``ann_file`` paths under the old
  ``data_root`` follow it; a ``bbox_file`` (detected person boxes) becomes
  ``None`` (ground-truth boxes).
* **weights**: ``pretrained``, ``init_cfg=dict(type='Pretrained', ...)`` and
  ``load_from`` are removed (``load_from`` stays when resuming).
* **sizes**: every image size the config writes is divided by one factor
  ``f <= shrink`` that keeps them consistent (:mod:`.shrink`).
* **norm**: ``SyncBN`` becomes ``BN`` when CUDA is unavailable.
* **precision**: without CUDA, an AMP optimizer wrapper (``AmpOptimWrapper``
  or a family wrapper's Amp twin, or a family wrapper given
  ``AmpOptimWrapper``'s arguments such as ``loss_scale``) becomes its fp32
  twin without those arguments (``AmpOptimWrapper`` asserts a GPU;
  :func:`.rewrite.amp_to_fp32`).
* **loop**: ``IterBasedTrainLoop`` for ``iters`` iterations, validating once
  at the end (when the config validates); log every iteration, by
  iteration; checkpoint at the end.
* **loaders**: batch size at most ``batch_size``, ``num_workers=0``, no
  persistent workers; the train ``DefaultSampler`` becomes an
  ``InfiniteSampler`` (same ``shuffle``), as ``DefaultSampler`` stalls 2 s
  at each epoch end of an iteration loop.

Nothing else changes: the optimizer wrapper (but its precision), optimizer,
``paramwise_cfg``, param schedulers, custom hooks and the transforms of each
pipeline are the config's own.
"""
import os
import os.path as osp
import shutil
import tempfile
from typing import Any, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from .generators import DATASETS, GENERATORS, SMOKE_DATA, source_of
from .rewrite import amp_to_fp32, remove_pretrained, sync_bn_to_bn
from .shrink import is_int, shrink_sizes
from .walk import SPLITS, datasets, evaluator_metrics, type_name

__all__ = ['apply_smoke', 'check_data_dir', 'smoke_data_root']

_SMOKE = '--smoke'


def check_data_dir(name: str, value: Any) -> str:
    """A folder path for generated data (it need not exist yet).

    Raises:
        ValueError: Naming ``name``, for a value that is not a non-empty
            path or that is a file.
    """
    if not isinstance(value, (str, os.PathLike)) or not str(value) \
            or osp.isfile(value):
        raise ValueError(f'{name} must be a folder path, got {value!r}')
    return os.fspath(value)


def smoke_data_root(folder: str, data_dir: str) -> str:
    """The folder of one data set of ``--smoke``, written if missing.

    The data is written to a temporary folder beside the target and renamed
    into place, so concurrent processes (ranks of one launch) never read a
    half-written folder.

    Args:
        folder (str): The data set's folder, a key of
            :data:`.generators.SMOKE_DATA` (``'cityscapes'``,
            ``'coco_detection'``, ...).
        data_dir (str): Cache folder; the data lands in
            ``data_dir/<folder>``.

    Returns:
        str: ``data_dir/<folder>``.

    Raises:
        ValueError: For an unknown ``folder`` or a ``data_dir`` that is a
            file.
    """
    if folder not in SMOKE_DATA:
        raise ValueError(f'generator must be one of {sorted(SMOKE_DATA)}, '
                         f'got {folder!r}')
    data_dir = check_data_dir('data_dir', data_dir)
    root = osp.join(data_dir, folder)
    if osp.isdir(root):
        return root
    os.makedirs(data_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{folder}-', dir=data_dir)
    try:
        source = SMOKE_DATA[folder]
        GENERATORS[source.generator].generate(tmp, **source.smoke)
        try:
            os.rename(tmp, root)
        except OSError:  # another process was first
            if not osp.isdir(root):
                raise
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    print_log(
        f'{_SMOKE}: wrote generated {folder} data to {root}',
        logger='current')
    return root


def _reroot(path: str, roots: Dict[str, str]) -> Optional[str]:
    norm = osp.normpath(path)
    for old, new in roots.items():
        if norm.startswith(old + os.sep):
            return osp.join(new, osp.relpath(norm, old))
    return None


def _use_generated_data(cfg: Config, data_dir: str) -> List[str]:
    changes: List[str] = []
    roots: Dict[str, str] = {}
    for split, dataset in datasets(cfg):
        kind = type_name(dataset)
        full = dataset.get('type', '')
        scope = full.rpartition('.')[0] if isinstance(full, str) and \
            '.' in full else dataset.get('_scope_',
                                         cfg.get('default_scope', None))
        source = source_of(kind, scope)
        old = dataset.get('data_root', None)
        if source is None or source.smoke is None:
            if old and osp.isdir(old):
                changes.append(f'{split}_dataloader: {kind} has no '
                               f'generator; reads {old!r} as set')
                continue
            supported = sorted(k for k, s in DATASETS.items() if s.smoke)
            raise ValueError(
                f'{_SMOKE}: the {split} dataset type {kind!r} has no '
                f'generated data (supported: {", ".join(supported)}) and its'
                f' data_root {old!r} does not exist. Point it at real data '
                f'with --cfg-options {split}_dataloader.dataset.data_root=DIR'
                ', or smoke-test a config of a supported dataset.')
        root = smoke_data_root(source.smoke_folder, data_dir)
        if old != root:
            dataset['data_root'] = root
            changes.append(f'{split}_dataloader.dataset.data_root: '
                           f'{old!r} -> {root!r} (generated '
                           f'{source.smoke_folder})')
            if old:
                roots[osp.normpath(old)] = root
        if dataset.get('bbox_file', None):
            changes.append(
                f'{split}_dataloader.dataset.bbox_file: '
                f'{dataset["bbox_file"]!r} -> None (generated data has '
                'no detection results: ground-truth boxes)')
            dataset['bbox_file'] = None
    for split in ('val', 'test'):
        for metric in evaluator_metrics(cfg, split):
            ann = metric.get('ann_file', None)
            new = _reroot(ann, roots) if isinstance(ann, str) else None
            if new is not None:
                metric['ann_file'] = new
                changes.append(f'{split}_evaluator.ann_file: {ann!r} -> '
                               f'{new!r}')
    return changes


# ----------------------------------------------------------- loop, loaders ---
def _short_loop(cfg: Config, iters: int, batch_size: int) -> List[str]:
    changes: List[str] = []
    old = cfg.get('train_cfg', None)
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    changes.append(f'train_cfg: {dict(old or {})} -> {dict(cfg.train_cfg)}')
    processor = dict(cfg.get('log_processor', None) or {})
    if processor.get('by_epoch', True):
        processor['by_epoch'] = False
        cfg.log_processor = processor
        changes.append('log_processor.by_epoch: -> False')
    hooks = cfg.get('default_hooks', None)
    if hooks is not None:
        if hooks.get('logger', None):
            hooks.logger.update(interval=1, log_metric_by_epoch=False)
            changes.append('default_hooks.logger: interval=1, '
                           'log_metric_by_epoch=False')
        if hooks.get('checkpoint', None):
            hooks.checkpoint.update(by_epoch=False, interval=iters)
            changes.append(f'default_hooks.checkpoint: by_epoch=False, '
                           f'interval={iters}')
    for split in SPLITS:
        loader = cfg.get(f'{split}_dataloader', None)
        if not loader:
            continue
        done = []
        if loader.get('batch_size', 1) > batch_size:
            done.append(f'batch_size {loader.batch_size} -> {batch_size}')
            loader.batch_size = batch_size
        if loader.get('num_workers', 0):
            done.append(f'num_workers {loader.num_workers} -> 0')
        loader.num_workers = 0
        if loader.get('persistent_workers', False):
            done.append('persistent_workers -> False')
        loader.persistent_workers = False
        loader.pop('prefetch_factor', None)
        sampler = loader.get('sampler', None)
        if split == 'train' and isinstance(sampler, dict) and \
                type_name(sampler) == 'DefaultSampler':
            loader.sampler = dict(
                type='InfiniteSampler',
                shuffle=sampler.get('shuffle', True),
                seed=sampler.get('seed', None))
            done.append('sampler DefaultSampler -> InfiniteSampler')
        if done:
            changes.append(f'{split}_dataloader: {", ".join(done)}')
    return changes


def apply_smoke(cfg: Config,
                iters: int = 3,
                data_dir: str = 'data/smoke',
                shrink: int = 8,
                batch_size: int = 2) -> List[str]:
    """Turn ``cfg`` into a short CPU run on generated data, in place.

    See the module docstring for what changes. Apply it before
    ``--cfg-options`` so that explicit options win.

    Args:
        cfg (Config): The loaded config.
        iters (int): Training iterations (>= 1). Defaults to 3.
        data_dir (str): Cache folder of the generated data. Defaults to
            ``'data/smoke'``.
        shrink (int): The largest factor image sizes are divided by
            (>= 1). Defaults to 8.
        batch_size (int): The largest batch size of every loader (>= 1).
            Defaults to 2.

    Returns:
        list[str]: One line per change (also logged).

    Raises:
        ValueError: For an invalid argument, a config without a
            ``train_dataloader``, or a dataset without generated data whose
            ``data_root`` does not exist.
    """
    for name, value in (('iters', iters), ('shrink', shrink),
                        ('batch_size', batch_size)):
        if not is_int(value) or value < 1:
            raise ValueError(f'{name} must be an int >= 1, got {value!r}')
    if not isinstance(cfg, Config):
        raise ValueError(f'cfg must be an mmengine Config, got '
                         f'{type(cfg).__name__}')
    if not cfg.get('train_dataloader', None) or \
            not cfg.train_dataloader.get('dataset', None):
        raise ValueError(
            f'{_SMOKE}: the config has no train_dataloader.dataset, so '
            'there is nothing to train on; smoke-test a training config.')
    changes = _use_generated_data(cfg, data_dir)
    changes += remove_pretrained(cfg._cfg_dict)
    if cfg.get('load_from', None) and not cfg.get('resume', False):
        changes.append(f'load_from: {cfg.load_from!r} -> None')
        cfg.load_from = None
    factor, resized = shrink_sizes(cfg._cfg_dict, shrink)
    changes.append(f'image sizes divided by {factor} (at most {shrink}: '
                   'the largest factor that keeps every exact size whole '
                   'and every multiple of 32 a multiple of 32)')
    changes += resized
    if not torch.cuda.is_available():
        changes += sync_bn_to_bn(cfg._cfg_dict)
        changes += amp_to_fp32(cfg._cfg_dict)
    changes += _short_loop(cfg, iters, batch_size)
    print_log(
        f'{_SMOKE}: {iters} iterations on generated data; changes to the '
        'config:\n  ' + '\n  '.join(changes),
        logger='current')
    return changes
