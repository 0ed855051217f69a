"""scikit-learn's handwritten digits as a CIFAR-format data set.

``sklearn.datasets.load_digits`` ships with scikit-learn (no network): the
1797 8x8 grey images (values 0..16) of the UCI "Optical Recognition of
Handwritten Digits" test set, classes 0..9. They are scaled to 0..255,
upsampled to 32x32 (bilinear), copied to three channels and written as
CIFAR-10 batch files (:mod:`.cifar`), so that a CIFAR config runs on real,
small images. Read them with ``LocalCIFAR10`` (:mod:`.local_cifar`): the
stock ``CIFAR10`` checks the official files' md5s.

The train/test split is stratified (per class, ``round(test_fraction * n)``
test images, at least one of each split). Symmetric label noise flips
exactly ``round(noise_rate * num_train)`` training labels, each to one of
the other nine classes with equal probability; test labels stay clean. The
split depends on ``seed`` only; the noise is nested: for one seed, the
images flipped at a lower rate are flipped, to the same labels, at every
higher rate. ``arsam_mm_meta.json`` in the batch folder records the sklearn
index of every train and test image, the flipped positions and both labels.

``val_fraction`` adds a validation split apart from the test split: the
held-out images (``test_fraction`` of each class) are split again, per
class, ``round(val_fraction * n)`` of them to ``val_batch`` and the rest to
``test_batch``, with a generator of its own, so that the train split (images,
order and noisy labels) is the one written without it. Model selection then
uses val and the reported figure test.
"""
import os
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

from ._common import check_number, check_seed
from .cifar import check_variant, write_cifar_batches

__all__ = ['DIGIT_CLASSES', 'load_digit_images', 'write_digits']

#: Class names written to the meta file.
DIGIT_CLASSES = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')
NUM_DIGITS = 1797


def load_digit_images() -> Tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as 32x32 RGB ``uint8`` images.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: ``(1797, 32, 32, 3)`` images and
        ``(1797,)`` ``int64`` labels, in sklearn's order.
    """
    from sklearn.datasets import load_digits
    digits = load_digits()
    grey = digits.images.astype(np.float32) * (255.0 / 16.0)
    big = np.stack([
        cv2.resize(img, (32, 32), interpolation=cv2.INTER_LINEAR)
        for img in grey
    ])
    big = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    rgb = np.repeat(big[..., None], 3, axis=3)
    return rgb, digits.target.astype(np.int64)


def _stratified_split(labels: np.ndarray, test_fraction: float,
                      rng: np.random.Generator) -> Tuple[np.ndarray, ...]:
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = int(round(test_fraction * len(idx)))
        n_test = min(max(n_test, 1), len(idx) - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _split_held_out(labels: np.ndarray, held: np.ndarray,
                    class_size: Dict[int, int], val_fraction: float,
                    rng: np.random.Generator) -> Tuple[np.ndarray, ...]:
    """Split the held-out indices ``held`` per class: ``round(val_fraction
    * n)`` of class size ``n`` (at least one, leaving at least one) to val,
    the rest to test."""
    val, test = [], []
    for cls in np.unique(labels[held]):
        idx = rng.permutation(held[labels[held] == cls])
        n_val = int(round(val_fraction * class_size[int(cls)]))
        n_val = min(max(n_val, 1), len(idx) - 1)
        val.append(idx[:n_val])
        test.append(idx[n_val:])
    return np.sort(np.concatenate(val)), np.sort(np.concatenate(test))


def write_digits(out_dir: str,
                 test_fraction: float = 0.25,
                 noise_rate: float = 0.0,
                 seed: int = 0,
                 variant: str = 'cifar10',
                 overwrite: bool = False,
                 val_fraction: Optional[float] = None) -> Dict[str, Any]:
    """Write sklearn's digits in the CIFAR format, with optional label noise.

    Args:
        out_dir (str): Data root (``data_root`` of the dataset config); the
            batch folder is created inside.
        test_fraction (float): Share of each class in the test split, in
            ``(0, 1)``. Defaults to 0.25 (1347 train, 450 test images).
        noise_rate (float): Share of training labels to flip, in ``[0, 1]``.
            Defaults to 0.
        seed (int): Seed (>= 0) of the split and the noise. Defaults to 0.
        variant (str): File layout: ``'cifar10'`` (``cifar-10-batches-py``)
            or ``'cifar100'`` (``cifar-100-python``, labels 0..9 as
            ``fine_labels``; the config must then set 10 classes).
            Defaults to ``'cifar10'``.
        overwrite (bool): Replace an existing batch folder. Defaults to
            False.
        val_fraction (float, optional): Share of each class in a validation
            split taken out of the held-out images, in
            ``(0, test_fraction)``; the test split keeps the rest. Defaults
            to None: no val split, the files of earlier versions.

    Returns:
        dict: What was written (the content of ``arsam_mm_meta.json`` plus
        ``out_dir``).

    Raises:
        ValueError: For an invalid argument.
        FileExistsError: If the batch folder exists and ``overwrite`` is
            False.
    """
    test_fraction = check_number('test_fraction', test_fraction, 0, 1,
                                 closed=(False, False))
    noise_rate = check_number('noise_rate', noise_rate, 0, 1)
    if val_fraction is not None:
        val_fraction = check_number('val_fraction', val_fraction, 0,
                                    test_fraction, closed=(False, False))
    seed = check_seed(seed)
    check_variant(variant)
    images, labels = load_digit_images()
    train_idx, test_idx = _stratified_split(labels, test_fraction,
                                            np.random.default_rng([seed, 0]))
    clean = labels[train_idx]
    num_train = len(train_idx)
    noise_rng = np.random.default_rng([seed, 1])
    order = noise_rng.permutation(num_train)
    offsets = noise_rng.integers(1, 10, size=num_train)
    num_flipped = int(round(noise_rate * num_train))
    flipped = np.sort(order[:num_flipped])
    noisy = clean.copy()
    noisy[flipped] = (clean[flipped] + offsets[flipped]) % 10
    meta = {
        'format': 'digits',
        'generator': 'arsam_mm.data.write_digits',
        'source': 'sklearn.datasets.load_digits',
        'seed': seed,
        'test_fraction': test_fraction,
        'noise_rate': noise_rate,
        'noise': 'symmetric, train split only',
        'num_flipped': num_flipped,
        'train_indices': [int(v) for v in train_idx],
        'test_indices': [int(v) for v in test_idx],
        'flipped_positions': [int(v) for v in flipped],
        'flipped_clean_labels': [int(v) for v in clean[flipped]],
        'flipped_noisy_labels': [int(v) for v in noisy[flipped]],
    }
    val = {}
    if val_fraction is not None:
        sizes = {int(c): int(n) for c, n in zip(*np.unique(
            labels, return_counts=True))}
        val_idx, test_idx = _split_held_out(
            labels, test_idx, sizes, val_fraction,
            np.random.default_rng([seed, 2]))
        meta.update(val_fraction=val_fraction,
                    val_indices=[int(v) for v in val_idx],
                    test_indices=[int(v) for v in test_idx])
        val = dict(val_images=images[val_idx], val_labels=labels[val_idx])
    record = write_cifar_batches(
        out_dir,
        variant,
        images[train_idx],
        noisy,
        images[test_idx],
        labels[test_idx],
        DIGIT_CLASSES,
        meta,
        overwrite=overwrite,
        prefix='digits',
        **val)
    return dict(record, out_dir=os.fspath(out_dir))
