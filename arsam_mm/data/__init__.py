"""Offline data for the downstream configs: small generated data sets in the
formats the OpenMMLab datasets read.

- :func:`write_cityscapes`: Cityscapes layout (mmseg ``CityscapesDataset``).
- :func:`write_ade20k`: ADE20K layout (mmseg ``ADE20KDataset``).
- :func:`write_coco_keypoints`: COCO person keypoints (mmpose
  ``CocoDataset``, ``CocoMetric``; with ``instances=True`` also under
  mmdet's detection file names, for mmdet's ``CocoDataset``).
- :func:`write_imagenet`: the ImageNet folder layout with ``meta/`` lists
  (mmpretrain ``ImageNet``).
- :func:`write_cifar`: CIFAR-10/100 python batches (mmpretrain ``CIFAR10``,
  ``CIFAR100``; read them with :mod:`.local_cifar`'s ``LocalCIFAR10``/
  ``LocalCIFAR100``, as the stock classes check the official md5s).
- :func:`write_digits`: scikit-learn's handwritten digits as CIFAR-10, with
  optional symmetric label noise on the train split.

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
