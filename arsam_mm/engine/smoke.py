"""A few training iterations of any model-zoo config on a CPU.

``tools/train.py CONFIG --smoke [ITERS]`` calls :func:`apply_smoke` on the
loaded config. It checks that the config builds and trains, with whatever
optimizer wrapper the config sets, without a GPU, a download or the real
data. Everything else the config sets is kept, its pipelines included; each
change is logged (``print_log``) and returned:

* **data**: every dataset of the train/val/test loaders whose type (and
  scope) has a generator (:data:`SMOKE_GENERATORS`) reads small generated
  data under ``data_dir/<generator>`` (written on first use); evaluator
  ``ann_file`` paths under the old ``data_root`` follow it; a
  ``bbox_file`` (detected person boxes) becomes ``None`` (ground-truth
  boxes).
* **weights**: ``pretrained``, ``init_cfg=dict(type='Pretrained', ...)`` and
  ``load_from`` are removed (``load_from`` stays when resuming).
* **sizes**: every image size the config writes, anywhere in it (pipelines,
  nested pipelines and hook arguments, codecs, heads, data preprocessors,
  inference settings), is divided by one factor ``f <= shrink``: the keys
  of :data:`EXACT_SIZE_KEYS` exactly, those of :data:`ROUNDED_SIZE_KEYS`
  rounded. ``f`` is the largest integer that divides every exact size and
  keeps every size that is a multiple of 32 (a network stride) a multiple of
  32, so derived sizes stay consistent: RTMPose's SimCC ``input_size``
  (192, 256) and ``in_featuremap_size`` (6, 8) become (96, 128) and (3, 4).
* **norm**: ``SyncBN`` becomes ``BN`` when CUDA is unavailable.
* **precision**: without CUDA, an AMP optimizer wrapper (``AmpOptimWrapper``
  or a family wrapper's Amp twin, or a family wrapper given
  ``AmpOptimWrapper``'s arguments such as ``loss_scale``) becomes its fp32
  twin without those arguments (``AmpOptimWrapper`` asserts a GPU).
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
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from .optim_wrappers import AMP_ARGUMENTS, AMP_TWINS

__all__ = [
    'SMOKE_GENERATORS', 'EXACT_SIZE_KEYS', 'ROUNDED_SIZE_KEYS', 'apply_smoke',
    'check_data_dir', 'smoke_data_root', 'shrink_factor', 'shrink_sizes',
    'remove_pretrained', 'sync_bn_to_bn', 'amp_to_fp32'
]

#: Dataset type -> generator that writes data in the layout that dataset
#: reads with its model-zoo settings. A ``scope.Type`` key wins over
#: ``Type`` for datasets of that scope: ``CocoDataset`` is mmpose's (person
#: keypoints), mmdet's reads the same data under its detection file names
#: (``coco_detection``: ``tools/generate_data.py coco --instances``).
SMOKE_GENERATORS: Dict[str, str] = {
    'CityscapesDataset': 'cityscapes',
    'ADE20KDataset': 'ade20k',
    'CocoDataset': 'coco',
    'mmdet.CocoDataset': 'coco_detection',
    'ImageNet': 'imagenet',
    'LocalCIFAR10': 'cifar10',
    'LocalCIFAR100': 'cifar100',
}

#: Keys whose integer values are image sizes shrunk exactly: the factor
#: must divide them (a head built from them must match the network).
#: ``size`` counts only in data preprocessors and ``Pad`` transforms.
EXACT_SIZE_KEYS: Tuple[str, ...] = ('crop_size', 'input_size', 'heatmap_size',
                                    'in_featuremap_size', 'img_size', 'size')

#: Keys whose integer values are image sizes shrunk with rounding (resize
#: targets; ``stride`` only beside a ``crop_size``, as in sliding-window
#: inference).
ROUNDED_SIZE_KEYS: Tuple[str, ...] = ('scale', 'img_scale', 'scales', 'stride')

#: Multiples of this stay multiples of it (the usual total network stride).
_STRIDE = 32
_SYNC_BN = ('SyncBN', 'MMSyncBN')
_SPLITS = ('train', 'val', 'test')
_SMOKE = '--smoke'


def _generated(generator: str) -> Callable[[str], Any]:
    """Writer of small data for ``generator`` into a folder."""
    from ..data import (write_ade20k, write_cifar, write_cityscapes,
                        write_coco_keypoints, write_imagenet)
    if generator == 'cityscapes':
        return lambda out: write_cityscapes(
            out, num_train=4, num_val=2, size=(256, 512))
    if generator == 'ade20k':
        return lambda out: write_ade20k(
            out, num_train=4, num_val=2, size=(256, 320))
    if generator in ('coco', 'coco_detection'):
        return lambda out: write_coco_keypoints(
            out,
            num_train=4,
            num_val=2,
            image_size=(256, 320),
            instances=generator == 'coco_detection')
    if generator == 'imagenet':
        return lambda out: write_imagenet(
            out, num_train=8, num_val=4, image_size=(64, 64))
    return lambda out: write_cifar(
        out, variant=generator, num_train=64, num_test=16)


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


def smoke_data_root(generator: str, data_dir: str) -> str:
    """The folder of ``generator``'s smoke data, written if missing.

    The data is written to a temporary folder beside the target and renamed
    into place, so concurrent processes (ranks of one launch) never read a
    half-written folder.

    Args:
        generator (str): A value of :data:`SMOKE_GENERATORS`.
        data_dir (str): Cache folder; the data lands in
            ``data_dir/<generator>``.

    Returns:
        str: ``data_dir/<generator>``.

    Raises:
        ValueError: For an unknown ``generator`` or a ``data_dir`` that is a
            file.
    """
    if generator not in SMOKE_GENERATORS.values():
        raise ValueError(f'generator must be one of '
                         f'{sorted(set(SMOKE_GENERATORS.values()))}, got '
                         f'{generator!r}')
    data_dir = check_data_dir('data_dir', data_dir)
    root = osp.join(data_dir, generator)
    if osp.isdir(root):
        return root
    os.makedirs(data_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{generator}-', dir=data_dir)
    try:
        _generated(generator)(tmp)
        try:
            os.rename(tmp, root)
        except OSError:  # another process was first
            if not osp.isdir(root):
                raise
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    print_log(
        f'{_SMOKE}: wrote generated {generator} data to {root}',
        logger='current')
    return root


# --------------------------------------------------------------- walking ---
def _dicts(obj: Any, path: str = '') -> Iterator[Tuple[str, dict]]:
    """(path, dict) for every dict in ``obj``, depth first, each once."""
    seen = set()
    stack = [(path, obj)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if isinstance(node, dict):
            yield where, node
            items = [(f'{where}.{k}' if where else str(k), v)
                     for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            items = [(f'{where}[{i}]', v) for i, v in enumerate(node)]
        else:
            continue
        stack.extend(reversed(items))


def _type_name(node: dict) -> str:
    kind = node.get('type', '')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    return name.split('.')[-1]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _size_ints(value: Any) -> Optional[List[int]]:
    """The ints of a size value (int or nested sequence of ints), or None
    when ``value`` is not one (floats are ratios, not sizes)."""
    if _is_int(value):
        return [value]
    if isinstance(value, (list, tuple)) and value:
        out: List[int] = []
        for item in value:
            ints = _size_ints(item)
            if ints is None:
                return None
            out.extend(ints)
        return out
    return None


def _size_entries(cfg: Any) -> Iterator[Tuple[str, dict, str, bool]]:
    """(path, dict, key, exact) for every image size in ``cfg``."""
    for where, node in _dicts(cfg):
        for key in EXACT_SIZE_KEYS + ROUNDED_SIZE_KEYS:
            if key not in node or _size_ints(node[key]) is None:
                continue
            if key == 'size':
                kind = _type_name(node)
                if not (kind.endswith('DataPreProcessor') or kind == 'Pad'):
                    continue
            if key == 'stride' and 'crop_size' not in node:
                continue
            yield (f'{where}.{key}' if where else key, node, key,
                   key in EXACT_SIZE_KEYS)


def shrink_factor(cfg: Any, shrink: int) -> int:
    """The largest factor ``f <= shrink`` that shrinks ``cfg`` consistently.

    ``f`` divides every value of an exact size key, and a value that is a
    multiple of 32 stays one after division.

    Args:
        cfg (Config | dict): The config (any nesting of dicts and lists).
        shrink (int): The largest factor wanted (>= 1).

    Returns:
        int: ``f`` (1 when no larger factor fits).

    Raises:
        ValueError: If ``shrink`` is not an int >= 1.
    """
    if not _is_int(shrink) or shrink < 1:
        raise ValueError(f'shrink must be an int >= 1, got {shrink!r}')
    exact = [
        v for _, node, key, is_exact in _size_entries(cfg) if is_exact
        for v in _size_ints(node[key]) if v > 0
    ]
    for f in range(shrink, 1, -1):
        if all(v % f == 0 and (v % _STRIDE or (v // f) % _STRIDE == 0)
               for v in exact):
            return f
    return 1


def _divide(value: Any, f: int, exact: bool) -> Any:
    if _is_int(value):
        if value <= 0:  # -1 and the like: "keep" markers, not sizes
            return value
        return value // f if exact else max(1, int(round(value / f)))
    return type(value)(_divide(v, f, exact) for v in value)


def shrink_sizes(cfg: Any, shrink: int) -> Tuple[int, List[str]]:
    """Divide every image size in ``cfg`` by :func:`shrink_factor`, in place.

    Args:
        cfg (Config | dict): The config.
        shrink (int): The largest factor wanted (>= 1).

    Returns:
        tuple[int, list[str]]: The factor used and one line per change
        (``path: old -> new``).
    """
    f = shrink_factor(cfg, shrink)
    changes: List[str] = []
    if f == 1:
        return f, changes
    for path, node, key, exact in list(_size_entries(cfg)):
        old = node[key]
        new = _divide(old, f, exact)
        if new != old:
            node[key] = new
            changes.append(f'{path}: {_fmt(old)} -> {_fmt(new)}')
    return f, changes


def remove_pretrained(cfg: Any) -> List[str]:
    """Remove every pretrained-weight source from ``cfg``, in place.

    ``pretrained`` (a path or URL becomes ``None``, ``True`` becomes
    ``False``) and ``init_cfg`` entries of type ``Pretrained`` (the others of
    a list stay), anywhere in the config.

    Args:
        cfg (Config | dict): The config.

    Returns:
        list[str]: One line per change.
    """
    changes: List[str] = []
    for where, node in list(_dicts(cfg)):
        prefix = f'{where}.' if where else ''
        value = node.get('pretrained', None)
        if isinstance(value, str) or value is True:
            node['pretrained'] = None if isinstance(value, str) else False
            changes.append(f'{prefix}pretrained: {value!r} -> '
                           f'{node["pretrained"]!r}')
        init = node.get('init_cfg', None)
        if isinstance(init, dict) and _type_name(init) == 'Pretrained':
            node['init_cfg'] = None
            changes.append(f'{prefix}init_cfg: Pretrained '
                           f'{init.get("checkpoint")!r} -> None')
        elif isinstance(init, (list, tuple)) and any(
                isinstance(i, dict) and _type_name(i) == 'Pretrained'
                for i in init):
            kept = [
                i for i in init
                if not (isinstance(i, dict) and _type_name(i) == 'Pretrained')
            ]
            node['init_cfg'] = kept or None
            changes.append(f'{prefix}init_cfg: Pretrained entries removed')
    return changes


def sync_bn_to_bn(cfg: Any) -> List[str]:
    """Turn every ``SyncBN`` norm layer config into ``BN``, in place.

    ``SyncBatchNorm`` needs CUDA; on a CPU a distributed run fails in its
    first forward (mmengine reverts it only in single-process runs).

    Args:
        cfg (Config | dict): The config.

    Returns:
        list[str]: One line per change.
    """
    changes: List[str] = []
    for where, node in list(_dicts(cfg)):
        kind = node.get('type', None)
        if isinstance(kind, str) and kind.split('.')[-1] in _SYNC_BN:
            node['type'] = 'BN'
            changes.append(f'{where}.type: {kind!r} -> \'BN\'')
    if isinstance(cfg, dict) and cfg.get('sync_bn', None):
        changes.append(f'sync_bn: {cfg["sync_bn"]!r} -> None')
        cfg['sync_bn'] = None
    return changes


def amp_to_fp32(cfg: Any) -> List[str]:
    """Turn an AMP ``optim_wrapper`` into its fp32 twin, in place.

    ``AmpOptimWrapper`` becomes ``OptimWrapper``, ``Amp<name>`` of the
    family becomes ``<name>`` (:data:`~.optim_wrappers.AMP_TWINS`), and
    ``AmpOptimWrapper``'s own arguments
    (:data:`~.optim_wrappers.AMP_ARGUMENTS`: ``loss_scale``, ``dtype``,
    ``use_fsdp``) are removed, also from a family wrapper that carries them
    (an fp16 config switched by its type, which would build the Amp twin).
    ``AmpOptimWrapper`` asserts a GPU; ``--smoke`` calls this without CUDA.

    Args:
        cfg (Config | dict): The config.

    Returns:
        list[str]: One line per change.
    """
    wrapper = cfg.get('optim_wrapper', None) if isinstance(cfg, dict) \
        else None
    if not isinstance(wrapper, dict):
        return []
    changes: List[str] = []
    kind = wrapper.get('type', 'OptimWrapper')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    fp32 = {amp: plain for plain, amp in AMP_TWINS.items()}
    if name.split('.')[-1] in fp32:
        wrapper['type'] = fp32[name.split('.')[-1]]
        changes.append(f'optim_wrapper.type: {name!r} -> '
                       f'{wrapper["type"]!r} (AMP needs a GPU: fp32)')
    for key in AMP_ARGUMENTS:
        if key in wrapper:
            changes.append(f'optim_wrapper.{key}: {wrapper.pop(key)!r} '
                           'removed (fp32)')
    return changes


def _fmt(value: Any) -> str:
    return repr(tuple(value) if isinstance(value, list) else value)


# ------------------------------------------------------------------ data ---
def _leaf_datasets(dataset: Any) -> Iterator[dict]:
    stack = [dataset]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if 'datasets' in node:  # ConcatDataset, CombinedDataset
            stack.extend(node['datasets'])
        elif 'dataset' in node:  # RepeatDataset, ClassBalancedDataset
            stack.append(node['dataset'])
        else:
            yield node


def _reroot(path: str, roots: Dict[str, str]) -> Optional[str]:
    norm = osp.normpath(path)
    for old, new in roots.items():
        if norm.startswith(old + os.sep):
            return osp.join(new, osp.relpath(norm, old))
    return None


def _use_generated_data(cfg: Config, data_dir: str) -> List[str]:
    changes: List[str] = []
    roots: Dict[str, str] = {}
    for split in _SPLITS:
        loader = cfg.get(f'{split}_dataloader', None)
        if not loader:
            continue
        for dataset in _leaf_datasets(loader.get('dataset', None)):
            kind = _type_name(dataset)
            full = dataset.get('type', '')
            scope = full.rpartition('.')[0] if isinstance(full, str) and \
                '.' in full else dataset.get('_scope_',
                                             cfg.get('default_scope', None))
            generator = SMOKE_GENERATORS.get(f'{scope}.{kind}',
                                             SMOKE_GENERATORS.get(kind))
            if generator == 'coco' and scope not in (None, 'mmpose'):
                generator = None  # e.g. mmdet's CocoDataset: not keypoints
            old = dataset.get('data_root', None)
            if generator is None:
                if old and osp.isdir(old):
                    changes.append(f'{split}_dataloader: {kind} has no '
                                   f'generator; reads {old!r} as set')
                    continue
                raise ValueError(
                    f'{_SMOKE}: the {split} dataset type {kind!r} has no '
                    'generated data (supported: '
                    f'{", ".join(sorted(SMOKE_GENERATORS))}) and its data_root'
                    f' {old!r} does not exist. Point it at real data with '
                    f'--cfg-options {split}_dataloader.dataset.data_root=DIR,'
                    ' or smoke-test a config of a supported dataset.')
            root = smoke_data_root(generator, data_dir)
            if old != root:
                dataset['data_root'] = root
                changes.append(f'{split}_dataloader.dataset.data_root: '
                               f'{old!r} -> {root!r} (generated {generator})')
                if old:
                    roots[osp.normpath(old)] = root
            if dataset.get('bbox_file', None):
                changes.append(
                    f'{split}_dataloader.dataset.bbox_file: '
                    f'{dataset["bbox_file"]!r} -> None (generated data has '
                    'no detection results: ground-truth boxes)')
                dataset['bbox_file'] = None
    for split in ('val', 'test'):
        metrics = cfg.get(f'{split}_evaluator', None)
        if isinstance(metrics, dict):
            metrics = metrics.get('metrics', [metrics])
        for metric in metrics if isinstance(metrics, (list, tuple)) else []:
            ann = metric.get('ann_file', None) \
                if isinstance(metric, dict) else None
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
    for split in _SPLITS:
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
                _type_name(sampler) == 'DefaultSampler':
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
        if not _is_int(value) or value < 1:
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
