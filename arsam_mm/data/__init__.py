"""Offline data for the downstream configs: small generated data sets in the
formats the OpenMMLab datasets read.

One writer per format: :func:`write_cityscapes` (Cityscapes),
:func:`write_ade20k` (ADE20K), :func:`write_coco_keypoints` (COCO person
keypoints, optionally under mmdet's detection file names),
:func:`write_imagenet` (ImageNet folders with ``meta/`` lists),
:func:`write_cifar` (CIFAR-10/100 python batches) and :func:`write_digits`
(scikit-learn's handwritten digits as CIFAR-10, with optional label noise).
Which dataset type reads which, and the sub-commands of
``tools/generate_data.py``, are in one table:
:mod:`arsam_mm.cfgtools.generators`. Generated CIFAR batches are read with
:mod:`.local_cifar`'s ``LocalCIFAR10``/``LocalCIFAR100``, as mmpretrain's
classes check the official md5s.

The generators need numpy and OpenCV only (``write_digits`` also
scikit-learn); :mod:`.local_cifar` imports mmpretrain and is not imported
here. Each writes ``arsam_mm_meta.json`` recording what it did, and the same
arguments always give byte-identical files.
"""
from ._common import META_FILE
from .ade20k import ADE20K_NUM_CLASSES, write_ade20k
from .cifar import CIFAR10_CLASSES, write_cifar
from .cityscapes import CITYSCAPES_CLASSES, write_cityscapes
from .coco_keypoints import COCO_KEYPOINT_NAMES, write_coco_keypoints
from .digits import DIGIT_CLASSES, write_digits
from .imagenet import write_imagenet

__all__ = [
    'META_FILE', 'write_cityscapes', 'write_ade20k', 'write_coco_keypoints',
    'write_cifar', 'write_digits', 'write_imagenet', 'CITYSCAPES_CLASSES',
    'ADE20K_NUM_CLASSES', 'COCO_KEYPOINT_NAMES', 'CIFAR10_CLASSES',
    'DIGIT_CLASSES'
]
