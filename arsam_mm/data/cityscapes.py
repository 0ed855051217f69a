"""Synthetic semantic segmentation data in the Cityscapes layout.

The layout is the one mmsegmentation's ``CityscapesDataset`` reads with its
default suffixes (after Cityscapes' ``createTrainIdLabelImgs``)::

    out_dir/
        leftImg8bit/{train,val[,test]}/<city>/<name>_leftImg8bit.png
        gtFine/{train,val[,test]}/<city>/<name>_gtFine_labelTrainIds.png
        arsam_mm_meta.json

Each image shows non-overlapping rectangles and ellipses on a background of
class 0 (``road``). A shape's class (1..18) fixes its colour (the Cityscapes
palette) and a stripe texture (orientation and period per class); every
image adds its own brightness, stripe phase and pixel noise. A two-pixel
band around each shape is labelled 255 (ignored), like the void borders of
the real annotations.

``label_noise`` makes the training masks noisy: each shape of a training
image has its label replaced, with that probability, by another shape class
(one of the 17 other classes 1..18, uniform). The images and the validation
split are the same as without noise; the draws come from a stream of their
own, so they depend only on ``seed`` and the image's index.

``num_test`` adds a test split (clean labels, like val) drawn from a stream
of its own: the train and val files are those written without it, and the
test images are other draws than any train or val image.
"""
import os
import os.path as osp
from typing import Any, Dict, Tuple

import cv2
import numpy as np

from ._common import (META_FILE, check_counts, check_number, check_size,
                      prepare_outputs, sample_rng, to_uint8, write_json)

__all__ = [
    'CITYSCAPES_CLASSES', 'CITYSCAPES_PALETTE', 'write_cityscapes',
    'render_cityscapes_sample'
]

#: The 19 train-id classes, as in ``mmseg.datasets.CityscapesDataset``.
CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence',
                      'pole', 'traffic light', 'traffic sign', 'vegetation',
                      'terrain', 'sky', 'person', 'rider', 'car', 'truck',
                      'bus', 'train', 'motorcycle', 'bicycle')

#: RGB colour of each train id (Cityscapes' palette).
CITYSCAPES_PALETTE = ((128, 64, 128), (244, 35, 232), (70, 70, 70),
                      (102, 102, 156), (190, 153, 153), (153, 153, 153),
                      (250, 170, 30), (220, 220, 0), (107, 142, 35),
                      (152, 251, 152), (70, 130, 180), (220, 20, 60),
                      (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
                      (0, 80, 100), (0, 0, 230), (119, 11, 32))

IGNORE_INDEX = 255
BACKGROUND = 0
_TRAIN_CITIES = ('aachen', 'bochum', 'bremen')
_VAL_CITIES = ('frankfurt', 'lindau', 'munster')
_TEST_CITIES = ('berlin', 'bielefeld', 'bonn')
_STREAMS = {'train': 0, 'val': 1, 'test': 3}
_NOISE_STREAM = 2
_IMG_SUFFIX = '_leftImg8bit.png'
_SEG_SUFFIX = '_gtFine_labelTrainIds.png'
_VOID_RGB = (40.0, 40.0, 40.0)


def _texture(cls: int, yy: np.ndarray, xx: np.ndarray,
             phase: float) -> np.ndarray:
    """Stripe texture of class ``cls`` (orientation and period per class)."""
    if cls == BACKGROUND:
        return np.zeros_like(yy)
    angle = np.pi * cls / len(CITYSCAPES_CLASSES)
    period = 6.0 + 3.0 * (cls % 3)
    proj = xx * np.cos(angle) + yy * np.sin(angle)
    return 22.0 * np.sin(2.0 * np.pi * proj / period + phase)


def render_cityscapes_sample(
        rng: np.random.Generator,
        size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one image and its train-id label map.

    Args:
        rng (numpy.random.Generator): Source of randomness.
        size (tuple[int, int]): ``(h, w)``.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: The ``(h, w, 3)`` ``uint8`` BGR
        image and the ``(h, w)`` ``uint8`` label map (0..18, 255 ignored).
    """
    h, w = size
    label = np.full((h, w), BACKGROUND, dtype=np.uint8)
    occupied = np.zeros((h, w), dtype=bool)
    margin = 4
    num_shapes = int(rng.integers(3, 9))
    kernel = np.ones((5, 5), dtype=np.uint8)
    for _ in range(num_shapes):
        for _attempt in range(30):
            sh = int(rng.integers(max(4, h // 8), max(5, h * 2 // 5) + 1))
            sw = int(rng.integers(max(4, w // 12), max(5, w * 3 // 10) + 1))
            sh, sw = min(sh, h - 2 * margin), min(sw, w - 2 * margin)
            if sh < 4 or sw < 4:
                break
            y0 = int(rng.integers(margin, h - margin - sh + 1))
            x0 = int(rng.integers(margin, w - margin - sw + 1))
            box = (slice(y0 - margin, y0 + sh + margin),
                   slice(x0 - margin, x0 + sw + margin))
            if occupied[box].any():
                continue
            cls = int(rng.integers(1, len(CITYSCAPES_CLASSES)))
            mask = np.zeros((h, w), dtype=np.uint8)
            if rng.random() < 0.5:
                cv2.rectangle(mask, (x0, y0), (x0 + sw - 1, y0 + sh - 1), 1,
                              -1)
            else:
                cv2.ellipse(mask, (x0 + sw // 2, y0 + sh // 2),
                            (max(1, sw // 2 - 1), max(1, sh // 2 - 1)), 0, 0,
                            360, 1, -1)
            ring = cv2.dilate(mask, kernel) > mask
            label[ring] = IGNORE_INDEX
            label[mask > 0] = cls
            occupied[box] = True
            break

    palette = np.array(CITYSCAPES_PALETTE + (_VOID_RGB, ), dtype=np.float64)
    index = np.where(label == IGNORE_INDEX, len(CITYSCAPES_PALETTE), label)
    img = palette[index]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for cls in np.unique(label):
        if cls in (BACKGROUND, IGNORE_INDEX):
            continue
        sel = label == cls
        tex = _texture(int(cls), yy[sel], xx[sel], rng.uniform(0, 2 * np.pi))
        img[sel] += tex[:, None]
    img *= rng.uniform(0.85, 1.15)
    img += rng.normal(0.0, 12.0, size=img.shape)
    bgr = to_uint8(img)[..., ::-1]
    return np.ascontiguousarray(bgr), label


def corrupt_shape_labels(label: np.ndarray, noise: float,
                         rng: np.random.Generator) -> np.ndarray:
    """Relabel whole shapes of a label map to a wrong class.

    The shapes are the connected regions of labels other than background and
    ignore (the generator keeps shapes apart by an ignored band, so each
    region is one shape). Each shape, in raster order of its first pixel, is
    relabelled with probability ``noise`` to one of the other shape classes
    (1..18 without its own), uniformly.

    Args:
        label (numpy.ndarray): ``(h, w)`` ``uint8`` label map.
        noise (float): Probability in ``[0, 1]`` that a shape is relabelled.
        rng (numpy.random.Generator): Source of the draws.

    Returns:
        numpy.ndarray: A new label map; background and ignored pixels are
        unchanged.
    """
    out = label.copy()
    shapes = ((label != BACKGROUND) & (label != IGNORE_INDEX)).astype(
        np.uint8)
    count, comp = cv2.connectedComponents(shapes, connectivity=4)
    num_shape_classes = len(CITYSCAPES_CLASSES) - 1
    for k in range(1, count):
        flip = rng.random() < noise
        offset = int(rng.integers(1, num_shape_classes))  # 1..16
        if not flip:
            continue
        sel = comp == k
        cls = int(label[sel][0])
        # Shift within 1..18 by 1..16 places: any class but ``cls``.
        out[sel] = (cls - 1 + offset) % num_shape_classes + 1
    return out


def write_cityscapes(out_dir: str,
                     num_train: int = 64,
                     num_val: int = 16,
                     size: Tuple[int, int] = (256, 512),
                     seed: int = 0,
                     overwrite: bool = False,
                     label_noise: float = 0.0,
                     num_test: int = 0) -> Dict[str, Any]:
    """Write a small synthetic data set in the Cityscapes layout.

    Images go round-robin to three cities per split, named like the real
    ones (``aachen_000000_000019``). The files depend only on ``seed``,
    ``size`` and the sample's split and index.

    Args:
        out_dir (str): Data root (``data_root`` of the dataset config).
        num_train (int): Number of training images. Defaults to 64.
        num_val (int): Number of validation images. Defaults to 16.
        size (tuple[int, int]): Image size ``(h, w)``, each >= 32.
            Defaults to ``(256, 512)``.
        seed (int): Seed (>= 0). Defaults to 0.
        overwrite (bool): Replace ``leftImg8bit/``, ``gtFine/`` and the
            meta file if they exist. Defaults to False.
        label_noise (float): Probability in ``[0, 1]`` that a shape of a
            training image is labelled with a wrong class
            (:func:`corrupt_shape_labels`). Validation labels stay clean.
            Defaults to 0 (no noise; the files are then those of earlier
            versions).
        num_test (int): Number of test images (clean labels, a stream of
            their own; cities ``berlin``, ``bielefeld``, ``bonn``). Defaults
            to 0: no test split, the files of earlier versions.

    Returns:
        dict: What was written (the content of ``arsam_mm_meta.json`` plus
        ``out_dir``).

    Raises:
        ValueError: For an invalid argument.
        FileExistsError: If outputs exist and ``overwrite`` is False.
    """
    num_train, num_val, num_test, seed = check_counts(
        seed, num_train=num_train, num_val=num_val, num_test=num_test)
    size = check_size('size', size, minimum=32)
    label_noise = check_number('label_noise', label_noise, 0, 1)
    out_dir = prepare_outputs(out_dir, ('leftImg8bit', 'gtFine', META_FILE),
                              overwrite)
    counts = {'train': num_train, 'val': num_val, 'test': num_test}
    for split, cities in (('train', _TRAIN_CITIES), ('val', _VAL_CITIES),
                          ('test', _TEST_CITIES)):
        for i in range(counts[split]):
            city = cities[i % len(cities)]
            name = f'{city}_{i:06d}_000019'
            img_dir = osp.join(out_dir, 'leftImg8bit', split, city)
            seg_dir = osp.join(out_dir, 'gtFine', split, city)
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(seg_dir, exist_ok=True)
            img, label = render_cityscapes_sample(
                sample_rng(seed, _STREAMS[split], i), size)
            if split == 'train' and label_noise > 0:
                label = corrupt_shape_labels(
                    label, label_noise, sample_rng(seed, _NOISE_STREAM, i))
            if not cv2.imwrite(osp.join(img_dir, name + _IMG_SUFFIX), img):
                raise OSError(f'could not write an image under {img_dir}')
            if not cv2.imwrite(osp.join(seg_dir, name + _SEG_SUFFIX), label):
                raise OSError(f'could not write a label map under {seg_dir}')
    meta = {
        'format': 'cityscapes',
        'generator': 'arsam_mm.data.write_cityscapes',
        'seed': seed,
        'size': list(size),
        'num_train': num_train,
        'num_val': num_val,
        'classes': list(CITYSCAPES_CLASSES),
        'background': BACKGROUND,
        'ignore_index': IGNORE_INDEX,
    }
    if label_noise > 0:  # without noise, the meta file of earlier versions
        meta['label_noise'] = label_noise
    if num_test:  # likewise without a test split
        meta['num_test'] = num_test
    write_json(osp.join(out_dir, META_FILE), meta)
    return dict(meta, out_dir=out_dir)
