"""Synthetic images in the CIFAR-10 / CIFAR-100 python-pickle format.

The files are the ones of the official ``cifar-10-python.tar.gz`` and
``cifar-100-python.tar.gz`` archives, as mmpretrain's ``CIFAR10`` and
``CIFAR100`` (and torchvision's) read them::

    out_dir/cifar-10-batches-py/
        data_batch_1 .. data_batch_5, test_batch, batches.meta
        [val_batch]
    out_dir/cifar-100-python/
        train, test, meta, [val]

The optional ``val_batch`` (``val``) holds a validation split apart from
the test split (not in the official archives; ``LocalCIFAR10(split='val')``
reads it).

A batch is a pickled dict with ``data`` (``uint8``, ``(N, 3072)``: the 1024
red, then green, then blue values of each 32x32 image, row-major),
``labels`` (CIFAR-10) or ``fine_labels`` and ``coarse_labels`` (CIFAR-100),
``filenames`` and ``batch_label``.

**Checksums.** mmpretrain 1.2.0 checks the md5 of every batch file against
the official archives' on each load (``CIFAR10._check_integrity``), not only
when downloading; generated files cannot match them, so the stock
``CIFAR10``/``CIFAR100`` refuse this data (and with ``download=True`` try to
download the real set). Read it with ``LocalCIFAR10``/``LocalCIFAR100`` from
:mod:`arsam_mm.data.local_cifar`, which verify the files against the md5s
recorded here in ``arsam_mm_meta.json`` instead and never download.

**Content.** Class ``c`` fixes a hue (``c % 10``) and a pattern
(``(c // 10 + c) % 10``: stripes in four orientations, checkerboard, rings,
disc, square frame, cross, dot grid), a bijection onto the 100 (hue,
pattern) pairs; each image draws its own period, phase, offset, background,
colour jitter and pixel noise.
"""
import hashlib
import os
import os.path as osp
import pickle
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ._common import (META_FILE, check_counts, hsv_colors, prepare_outputs,
                      sample_rng, split_counts, to_uint8, write_json)

__all__ = [
    'CIFAR_LAYOUTS', 'CIFAR10_CLASSES', 'check_variant', 'write_cifar',
    'write_cifar_batches', 'render_cifar_sample'
]

#: Per variant: folder, train/test batch files, meta file and its key.
CIFAR_LAYOUTS: Dict[str, Dict[str, Any]] = {
    'cifar10': {
        'base_folder':
        'cifar-10-batches-py',
        'train': ('data_batch_1', 'data_batch_2', 'data_batch_3',
                  'data_batch_4', 'data_batch_5'),
        'test': ('test_batch', ),
        'val': ('val_batch', ),
        'meta':
        'batches.meta',
        'num_classes':
        10,
    },
    'cifar100': {
        'base_folder': 'cifar-100-python',
        'train': ('train', ),
        'test': ('test', ),
        'val': ('val', ),
        'meta': 'meta',
        'num_classes': 100,
    },
}

#: The CIFAR-10 class names (label order of the official files).
CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')


def check_variant(variant: Any) -> str:
    """Return ``variant`` if it names a layout of :data:`CIFAR_LAYOUTS`.

    Raises:
        ValueError: For another value.
    """
    if variant not in CIFAR_LAYOUTS:
        raise ValueError(f'variant must be one of {sorted(CIFAR_LAYOUTS)}, '
                         f'got {variant!r}')
    return variant


_STREAMS = {'train': 0, 'test': 1}
_NOISE_STD = 24.0
_PICKLE_PROTOCOL = 4  # Python 3 readers (the official files are protocol 2)


def _pattern(kind: int, rng: np.random.Generator) -> np.ndarray:
    """A 32x32 foreground mask in ``[0, 1]`` of pattern ``kind`` (0..9)."""
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    cy, cx = 15.5 + rng.uniform(-4, 4, size=2)
    period = rng.uniform(5.0, 9.0)
    phase = rng.uniform(0, 2 * np.pi)
    wave = 2 * np.pi / period
    if kind < 4:  # stripes: horizontal, vertical, two diagonals
        angle = kind * np.pi / 4 + rng.uniform(-0.15, 0.15)
        proj = xx * np.cos(angle) + yy * np.sin(angle)
        return 0.5 + 0.5 * np.sin(wave * proj + phase)
    if kind == 4:  # checkerboard
        return 0.5 + 0.5 * np.sign(
            np.sin(wave * xx + phase) * np.sin(wave * yy + phase))
    radius = np.hypot(yy - cy, xx - cx)
    if kind == 5:  # concentric rings
        return 0.5 + 0.5 * np.sin(wave * radius + phase)
    if kind == 6:  # disc
        return (radius < rng.uniform(7, 12)).astype(np.float64)
    if kind == 7:  # square frame
        half = rng.uniform(7, 12)
        cheb = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
        return (np.abs(cheb - half) < 2.0).astype(np.float64)
    if kind == 8:  # cross
        arm = rng.uniform(2, 3.5)
        return ((np.abs(yy - cy) < arm) |
                (np.abs(xx - cx) < arm)).astype(np.float64)
    # dot grid
    gy = np.sin(wave * yy + phase)
    gx = np.sin(wave * xx + phase)
    return ((gy > 0.6) & (gx > 0.6)).astype(np.float64)


def render_cifar_sample(rng: np.random.Generator, label: int) -> np.ndarray:
    """Draw one 32x32 RGB image of class ``label``.

    Args:
        rng (numpy.random.Generator): Source of randomness.
        label (int): Class index (0..99).

    Returns:
        numpy.ndarray: ``(32, 32, 3)`` ``uint8`` RGB image.
    """
    hue, kind = label % 10, (label // 10 + label) % 10
    color = hsv_colors(
        1,
        saturation=rng.uniform(0.6, 0.95),
        value=rng.uniform(0.7, 1.0),
        offset=hue / 10 + rng.uniform(-0.02, 0.02))[0]
    background = rng.uniform(20, 120) + rng.uniform(-15, 15, size=3)
    mask = _pattern(kind, rng)[..., None]
    img = background * (1 - mask) + color * mask
    img += rng.normal(0.0, _NOISE_STD, size=img.shape)
    return to_uint8(img)


def _to_rows(images: np.ndarray) -> np.ndarray:
    """``(N, 32, 32, 3)`` HWC images to CIFAR's ``(N, 3072)`` CHW rows."""
    return np.ascontiguousarray(
        images.transpose(0, 3, 1, 2).reshape(len(images), 3072))


def _md5(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.md5(f.read()).hexdigest()


def write_cifar_batches(out_dir: str,
                        variant: str,
                        train_images: np.ndarray,
                        train_labels: Sequence[int],
                        test_images: np.ndarray,
                        test_labels: Sequence[int],
                        class_names: Sequence[str],
                        meta: Dict[str, Any],
                        overwrite: bool = False,
                        prefix: str = 'synthetic',
                        val_images: Optional[np.ndarray] = None,
                        val_labels: Optional[Sequence[int]] = None
                        ) -> Dict[str, Any]:
    """Write given images and labels as CIFAR-10 or CIFAR-100 batch files.

    Training images are spread over the batch files in order (CIFAR-10:
    five nearly equal batches). ``meta`` is completed with the counts, class
    names and the md5 of every file and written to ``arsam_mm_meta.json`` in
    the batch folder.

    Args:
        out_dir (str): Data root; the batch folder is created inside.
        variant (str): ``'cifar10'`` or ``'cifar100'`` (file layout).
        train_images (numpy.ndarray): ``(N, 32, 32, 3)`` ``uint8`` RGB.
        train_labels (Sequence[int]): ``N`` labels.
        test_images (numpy.ndarray): ``(M, 32, 32, 3)`` ``uint8`` RGB.
        test_labels (Sequence[int]): ``M`` labels.
        class_names (Sequence[str]): Names written to the meta file.
        meta (dict): Generator record (JSON-serialisable).
        overwrite (bool): Replace an existing batch folder. Defaults to
            False.
        prefix (str): Prefix of the per-image ``filenames`` entries.
        val_images (numpy.ndarray, optional): ``(K, 32, 32, 3)`` ``uint8``
            RGB of a validation split, written to ``val_batch``
            (CIFAR-100 layout: ``val``); without it (the default) the files
            and the record are those of earlier versions.
        val_labels (Sequence[int], optional): Its ``K`` labels.

    Returns:
        dict: The record written to ``arsam_mm_meta.json``.

    Raises:
        ValueError: For an unknown ``variant``.
        FileExistsError: If the batch folder exists and ``overwrite`` is
            False.
    """
    check_variant(variant)
    if (val_images is None) != (val_labels is None):
        raise ValueError('val_images and val_labels go together, got '
                         f'val_images={type(val_images).__name__}, '
                         f'val_labels={type(val_labels).__name__}')
    layout = CIFAR_LAYOUTS[variant]
    folder = layout['base_folder']
    out_dir = prepare_outputs(out_dir, (folder, ), overwrite)
    root = osp.join(out_dir, folder)
    os.makedirs(root)

    def dump(name: str, obj: Dict[str, Any]) -> None:
        with open(osp.join(root, name), 'wb') as f:
            pickle.dump(obj, f, protocol=_PICKLE_PROTOCOL)

    splits = [('train', train_images, list(train_labels)),
              ('test', test_images, list(test_labels))]
    if val_labels is not None:
        splits.append(('val', val_images, list(val_labels)))
    for split, images, labels in splits:
        files = layout[split]
        start = 0
        for b, (name, count) in enumerate(
                zip(files, split_counts(len(labels), len(files)))):
            stop = start + count
            entry: Dict[str, Any] = {
                'batch_label':
                f'{split} batch {b + 1} of {len(files)}' if split == 'train'
                else 'testing batch 1 of 1' if split == 'test' else
                'validation batch 1 of 1',
                'data':
                _to_rows(images[start:stop]),
                'filenames': [
                    f'{prefix}_{split}_{i:06d}.png'
                    for i in range(start, stop)
                ],
            }
            batch_labels = [int(v) for v in labels[start:stop]]
            if variant == 'cifar10':
                entry['labels'] = batch_labels
            else:
                entry['fine_labels'] = batch_labels
                entry['coarse_labels'] = [v // 5 for v in batch_labels]
            dump(name, entry)
            start = stop

    names = [str(n) for n in class_names]
    if variant == 'cifar10':
        dump(
            layout['meta'], {
                'num_cases_per_batch': split_counts(len(train_labels), 5)[0],
                'label_names': names,
                'num_vis': 3072,
            })
    else:
        dump(
            layout['meta'], {
                'fine_label_names': names,
                'coarse_label_names':
                [f'superclass_{i:02d}' for i in range(20)],
            })
    written = layout['train'] + layout['test'] + (layout['meta'], )
    record = dict(meta)
    record.update({
        'variant': variant,
        'num_train': len(train_labels),
        'num_test': len(test_labels),
        'classes': names,
    })
    if val_labels is not None:
        written += layout['val']
        record['num_val'] = len(val_labels)
    record['md5'] = {name: _md5(osp.join(root, name)) for name in written}
    write_json(osp.join(root, META_FILE), record)
    return record


def _balanced_labels(rng: np.random.Generator, num: int,
                     num_classes: int) -> List[int]:
    labels = np.arange(num) % num_classes
    return [int(v) for v in rng.permutation(labels)]


def write_cifar(out_dir: str,
                variant: str = 'cifar10',
                num_train: int = 5000,
                num_test: int = 1000,
                seed: int = 0,
                overwrite: bool = False,
                class_names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Write a synthetic CIFAR-10 or CIFAR-100 data set.

    Labels are balanced (``i % num_classes``, shuffled); image ``i`` of a
    split depends only on the seed, the split, ``i`` and its label.

    Args:
        out_dir (str): Data root (``data_root`` of the dataset config); the
            batch folder (``cifar-10-batches-py`` or ``cifar-100-python``)
            is created inside.
        variant (str): ``'cifar10'`` or ``'cifar100'``. Defaults to
            ``'cifar10'``.
        num_train (int): Number of training images. Defaults to 5000.
        num_test (int): Number of test images. Defaults to 1000.
        seed (int): Seed (>= 0). Defaults to 0.
        overwrite (bool): Replace an existing batch folder. Defaults to
            False.
        class_names (Sequence[str], optional): Names for the meta file.
            Defaults to the CIFAR-10 names, or ``class_00`` .. ``class_99``.

    Returns:
        dict: What was written (the content of ``arsam_mm_meta.json`` plus
        ``out_dir``).

    Raises:
        ValueError: For an invalid argument.
        FileExistsError: If the batch folder exists and ``overwrite`` is
            False.
    """
    check_variant(variant)
    num_train, num_test, seed = check_counts(
        seed, {'num_test': 1}, num_train=num_train, num_test=num_test)
    num_classes = CIFAR_LAYOUTS[variant]['num_classes']
    if class_names is None:
        class_names = CIFAR10_CLASSES if num_classes == 10 else [
            f'class_{i:02d}' for i in range(num_classes)
        ]
    elif len(class_names) != num_classes:
        raise ValueError(f'class_names must have {num_classes} entries for '
                         f'{variant}, got {len(class_names)}')
    data = {}
    for split, num in (('train', num_train), ('test', num_test)):
        labels = _balanced_labels(
            sample_rng(seed, _STREAMS[split], 2**31), num, num_classes)
        images = np.stack([
            render_cifar_sample(sample_rng(seed, _STREAMS[split], i), label)
            for i, label in enumerate(labels)
        ])
        data[split] = (images, labels)
    meta = {
        'format': variant,
        'generator': 'arsam_mm.data.write_cifar',
        'seed': seed,
    }
    record = write_cifar_batches(
        out_dir,
        variant,
        data['train'][0],
        data['train'][1],
        data['test'][0],
        data['test'][1],
        class_names,
        meta,
        overwrite=overwrite,
        prefix=f'synthetic_s{seed}')
    return dict(record, out_dir=os.fspath(out_dir))
