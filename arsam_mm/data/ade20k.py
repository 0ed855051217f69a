"""Synthetic semantic segmentation data in the ADE20K layout.

The layout is the one mmsegmentation's ``ADE20KDataset`` reads (the
``ADEChallengeData2016`` folder of the SceneParsing release)::

    out_dir/
        images/{training,validation}/ADE_{train,val}_<8 digits>.jpg
        annotations/{training,validation}/ADE_{train,val}_<8 digits>.png
        arsam_mm_meta.json

The scenes are those of :func:`~.cityscapes.render_cityscapes_sample`
(textured shapes on a background), stored with ADE20K's label convention:
``0`` is "other" (ignored, since the dataset reads with
``reduce_zero_label=True``) and class ``k`` of the 150 is stored as ``k +
1``. The background becomes class 0 (``wall``) and shape classes 1..18 the
next ADE20K classes, so only the first 19 of the 150 classes occur; the
two-pixel void band around each shape is stored as 0.
"""
import os
import os.path as osp
from typing import Any, Dict, Tuple

import cv2
import numpy as np

from ._common import (META_FILE, check_counts, check_size, prepare_outputs,
                      sample_rng, write_json)
from .cityscapes import IGNORE_INDEX, render_cityscapes_sample

__all__ = ['ADE20K_NUM_CLASSES', 'write_ade20k']

#: Number of ADE20K (SceneParsing) classes; ``ADE20KDataset`` has 150.
ADE20K_NUM_CLASSES = 150

_STREAMS = {'train': 0, 'val': 1}
_SPLITS = (('train', 'training'), ('val', 'validation'))
# quality 95 without chroma subsampling: thin stripes keep their colour
_JPEG_PARAMS = (cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)


def write_ade20k(out_dir: str,
                 num_train: int = 32,
                 num_val: int = 8,
                 size: Tuple[int, int] = (256, 320),
                 seed: int = 0,
                 overwrite: bool = False) -> Dict[str, Any]:
    """Write a small synthetic data set in the ADE20K layout.

    The files depend only on ``seed``, ``size`` and the sample's split and
    index (the same stream as :func:`~.cityscapes.write_cityscapes`).

    Args:
        out_dir (str): Data root (``data_root`` of the dataset config, e.g.
            ``data/ade/ADEChallengeData2016``).
        num_train (int): Number of training images. Defaults to 32.
        num_val (int): Number of validation images. Defaults to 8.
        size (tuple[int, int]): Image size ``(h, w)``, each >= 32.
            Defaults to ``(256, 320)``.
        seed (int): Seed (>= 0). Defaults to 0.
        overwrite (bool): Replace ``images/``, ``annotations/`` and the
            meta file if they exist. Defaults to False.

    Returns:
        dict: What was written (the content of ``arsam_mm_meta.json`` plus
        ``out_dir``).

    Raises:
        ValueError: For an invalid argument.
        FileExistsError: If outputs exist and ``overwrite`` is False.
    """
    num_train, num_val, seed = check_counts(
        seed, num_train=num_train, num_val=num_val)
    size = check_size('size', size, minimum=32)
    out_dir = prepare_outputs(out_dir, ('images', 'annotations', META_FILE),
                              overwrite)
    counts = {'train': num_train, 'val': num_val}
    for split, folder in _SPLITS:
        img_dir = osp.join(out_dir, 'images', folder)
        seg_dir = osp.join(out_dir, 'annotations', folder)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(seg_dir, exist_ok=True)
        for i in range(counts[split]):
            name = f'ADE_{split}_{i + 1:08d}'
            img, label = render_cityscapes_sample(
                sample_rng(seed, _STREAMS[split], i), size)
            stored = np.where(label == IGNORE_INDEX, 0,
                              label.astype(np.int32) + 1).astype(np.uint8)
            if not cv2.imwrite(
                    osp.join(img_dir, name + '.jpg'), img, _JPEG_PARAMS):
                raise OSError(f'could not write an image under {img_dir}')
            if not cv2.imwrite(osp.join(seg_dir, name + '.png'), stored):
                raise OSError(f'could not write a label map under {seg_dir}')
    meta = {
        'format': 'ade20k',
        'generator': 'arsam_mm.data.write_ade20k',
        'seed': seed,
        'size': list(size),
        'num_train': num_train,
        'num_val': num_val,
        'num_classes': ADE20K_NUM_CLASSES,
        'classes_present': list(range(19)),
        'ignore_value_stored': 0,
    }
    write_json(osp.join(out_dir, META_FILE), meta)
    return dict(meta, out_dir=out_dir)
