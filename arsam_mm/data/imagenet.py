"""Synthetic images in the ImageNet folder layout with annotation lists.

The layout is the one mmpretrain's ``ImageNet`` reads with ``split='train'``
or ``split='val'`` (the model-zoo configs' setting), which finds the lists
under ``meta/`` by itself::

    out_dir/
        train/<split>_<index, 6 digits>.jpg
        val/<split>_<index, 6 digits>.jpg
        meta/{train,val}.txt        # "<file name> <label>" per line
        arsam_mm_meta.json

The images are the CIFAR generator's (:func:`~.cifar.render_cifar_sample`:
class ``c`` is a hue and a pattern), drawn at 32x32 and resized to
``image_size``; the labels are the first ``num_classes`` of ImageNet's
1000 classes, balanced and shuffled.
"""
import os
import os.path as osp
from typing import Any, Dict, Tuple

import cv2

from ._common import (META_FILE, check_counts, check_size, prepare_outputs,
                      sample_rng, write_json)
from .cifar import _balanced_labels, render_cifar_sample

__all__ = ['write_imagenet']

_STREAMS = {'train': 0, 'val': 1}
_JPEG_PARAMS = (cv2.IMWRITE_JPEG_QUALITY, 95)


def write_imagenet(out_dir: str,
                   num_train: int = 64,
                   num_val: int = 16,
                   num_classes: int = 10,
                   image_size: Tuple[int, int] = (64, 64),
                   seed: int = 0,
                   overwrite: bool = False) -> Dict[str, Any]:
    """Write a small synthetic data set in mmpretrain's ImageNet layout.

    Image ``i`` of a split depends only on the seed, the split, ``i`` and
    its label.

    Args:
        out_dir (str): Data root (``data_root`` of the dataset config).
        num_train (int): Number of training images. Defaults to 64.
        num_val (int): Number of validation images. Defaults to 16.
        num_classes (int): Classes used, ImageNet's labels ``0`` to
            ``num_classes - 1`` (1..100). Defaults to 10.
        image_size (tuple[int, int]): Image size ``(h, w)``, each >= 32.
            Defaults to ``(64, 64)``.
        seed (int): Seed (>= 0). Defaults to 0.
        overwrite (bool): Replace the image folders, lists and the meta
            file if they exist. Defaults to False.

    Returns:
        dict: What was written (the content of ``arsam_mm_meta.json`` plus
        ``out_dir``).

    Raises:
        ValueError: For an invalid argument.
        FileExistsError: If outputs exist and ``overwrite`` is False.
    """
    num_train, num_val, num_classes, seed = check_counts(
        seed, num_train=num_train, num_val=num_val, num_classes=num_classes)
    if num_classes > 100:
        raise ValueError(f'num_classes must be at most 100 (the classes the '
                         f'CIFAR renderer draws), got {num_classes!r}')
    image_size = check_size('image_size', image_size, minimum=32)
    out_dir = prepare_outputs(out_dir, ('train', 'val', 'meta', META_FILE),
                              overwrite)
    os.makedirs(osp.join(out_dir, 'meta'))
    height, width = image_size
    for split, num in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(out_dir, split))
        labels = _balanced_labels(
            sample_rng(seed, _STREAMS[split], 2**31), num, num_classes)
        lines = []
        for i, label in enumerate(labels):
            rgb = render_cifar_sample(sample_rng(seed, _STREAMS[split], i),
                                      label)
            img = cv2.resize(rgb[..., ::-1], (width, height),
                             interpolation=cv2.INTER_LINEAR)
            name = f'{split}_{i:06d}.jpg'
            if not cv2.imwrite(
                    osp.join(out_dir, split, name), img, _JPEG_PARAMS):
                raise OSError(f'could not write an image under {out_dir}')
            lines.append(f'{name} {label}\n')
        with open(osp.join(out_dir, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)
    meta = {
        'format': 'imagenet',
        'generator': 'arsam_mm.data.write_imagenet',
        'seed': seed,
        'image_size': list(image_size),
        'num_classes': num_classes,
        'num_train': num_train,
        'num_val': num_val,
    }
    write_json(osp.join(out_dir, META_FILE), meta)
    return dict(meta, out_dir=out_dir)
