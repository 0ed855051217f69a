"""Synthetic person keypoints in the COCO format.

The layout is the one mmpose's ``CocoDataset`` and ``CocoMetric`` (through
xtcocotools) read::

    out_dir/
        annotations/person_keypoints_{train,val[,test]}2017.json
        {train,val[,test]}2017/<image id, 12 digits>.jpg
        arsam_mm_meta.json

With ``instances=True`` the same annotations are also written as
``annotations/instances_{train,val}2017.json``, the files mmdet's COCO
detection configs read (``CocoDataset`` with person boxes, ``CocoMetric``
with ``metric='bbox'``).

Each image shows one to ``max_persons`` stick figures on a smooth, noisy
background with a few low-saturation distractor boxes. A figure has the 17
COCO keypoints as discs, each keypoint in its own colour (the same for every
figure), joined by grey limbs along COCO's skeleton; pose (torso lean, head
turn, arm and leg angles), scale and position are random. Figures face the
viewer, so a person's left side is on the image's right, as in most COCO
images. All keypoints lie inside the image and are visible (``v=2``);
figures do not overlap. ``bbox`` is the tight box around the drawn figure and
``area`` is ``0.53 * w * h`` (mmpose's estimate of a person's segment area
from its box), which sets the scale of the OKS in evaluation.

``num_test`` adds a test split (clean, like val) drawn from a stream of its
own: the train and val files are those written without it.
"""
import os
import os.path as osp
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np

from ._common import (META_FILE, check_counts, check_number, check_size,
                      prepare_outputs, sample_rng, to_uint8, write_json)

__all__ = [
    'COCO_KEYPOINT_NAMES', 'COCO_SKELETON', 'KEYPOINT_COLORS',
    'write_coco_keypoints', 'render_coco_sample', 'noisy_keypoints'
]

#: The 17 COCO person keypoints, in COCO's order.
COCO_KEYPOINT_NAMES = ('nose', 'left_eye', 'right_eye', 'left_ear',
                       'right_ear', 'left_shoulder', 'right_shoulder',
                       'left_elbow', 'right_elbow', 'left_wrist',
                       'right_wrist', 'left_hip', 'right_hip', 'left_knee',
                       'right_knee', 'left_ankle', 'right_ankle')

#: COCO's person skeleton (1-based keypoint indices, as in the json files).
COCO_SKELETON = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12),
                 (7, 13), (6, 7), (6, 8), (7, 9), (8, 10), (9, 11), (2, 3),
                 (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7))

#: RGB colour of each keypoint's disc.
KEYPOINT_COLORS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0),
                   (255, 0, 255), (0, 255, 255), (255, 128, 0),
                   (128, 0, 255), (0, 128, 0), (128, 0, 0), (0, 0, 128),
                   (255, 255, 255), (0, 0, 0), (255, 150, 200),
                   (128, 128, 0), (0, 128, 128), (150, 100, 50))

_LIMB_RGB = (200, 200, 200)
_STREAMS = {'train': 0, 'val': 1, 'test': 3}
# the annotation noise of training sample i draws from sample_rng(seed,
# _NOISE_STREAM, i): the images stay those of the clean data set
_NOISE_STREAM = 2
# COCO's left/right keypoint pairs (0-based)
_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14),
               (15, 16))
_AREA_FACTOR = 0.53
# quality 95 without chroma subsampling: small discs keep their colour
_JPEG_PARAMS = (cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)


def _unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


def _pose(rng: np.random.Generator) -> np.ndarray:
    """Random pose, in units of a person's height, hips at the origin.

    Image axes: x to the right, y down. The person's left is ``+x``.

    Returns:
        numpy.ndarray: ``(17, 2)`` keypoints.
    """
    tilt = rng.uniform(-0.2, 0.2)
    side = _unit(tilt)  # towards the person's left
    up = np.array([side[1], -side[0]])
    kpts = np.zeros((17, 2))
    neck = 0.30 * rng.uniform(0.9, 1.1) * up
    shoulder_half = 0.11 * rng.uniform(0.85, 1.15)
    hip_half = 0.08 * rng.uniform(0.85, 1.15)
    kpts[5], kpts[6] = neck + shoulder_half * side, neck - shoulder_half * side
    kpts[11], kpts[12] = hip_half * side, -hip_half * side

    head_tilt = tilt + rng.uniform(-0.35, 0.35)
    head_side = _unit(head_tilt)
    head_up = np.array([head_side[1], -head_side[0]])
    nose = neck + 0.13 * head_up
    kpts[0] = nose
    kpts[1] = nose + 0.035 * head_up + 0.035 * head_side
    kpts[2] = nose + 0.035 * head_up - 0.035 * head_side
    kpts[3] = nose + 0.015 * head_up + 0.075 * head_side
    kpts[4] = nose + 0.015 * head_up - 0.075 * head_side

    def limb(start: np.ndarray, sign: float, angle: float,
             length: float) -> np.ndarray:
        # angle 0: along -up (hanging down); pi/2: outwards on its side
        direction = np.cos(angle) * -up + np.sin(angle) * sign * side
        return start + length * direction

    for sign, (sho, elb, wri, hip, kne, ank) in ((1.0, (5, 7, 9, 11, 13, 15)),
                                                 (-1.0,
                                                  (6, 8, 10, 12, 14, 16))):
        upper = rng.uniform(-0.3, 2.6)
        fore = upper + rng.uniform(-0.3, 1.8)
        kpts[elb] = limb(kpts[sho], sign, upper, 0.16)
        kpts[wri] = limb(kpts[elb], sign, fore, 0.14)
        thigh = rng.uniform(-0.15, 0.6)
        shin = thigh + rng.uniform(-0.5, 0.25)
        kpts[kne] = limb(kpts[hip], sign, thigh, 0.24)
        kpts[ank] = limb(kpts[kne], sign, shin, 0.23)
    return kpts


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth two-colour gradient, distractor boxes and noise (RGB float)."""
    c0 = rng.uniform(90, 170) + rng.uniform(-20, 20, size=3)
    c1 = rng.uniform(90, 170) + rng.uniform(-20, 20, size=3)
    direction = _unit(rng.uniform(0, 2 * np.pi))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = xx / w * direction[0] + yy / h * direction[1]
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    for _ in range(int(rng.integers(0, 4))):
        bh, bw = int(rng.integers(h // 10, h // 3)), int(
            rng.integers(w // 10, w // 3))
        y0, x0 = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        grey = rng.uniform(80, 180) + rng.uniform(-15, 15, size=3)
        img[y0:y0 + bh, x0:x0 + bw] = grey
    return img


def render_coco_sample(
        rng: np.random.Generator, image_size: Tuple[int, int],
        max_persons: int) -> Tuple[np.ndarray, List[Dict[str, Any]]]:
    """Draw one image and the annotations of its persons.

    Args:
        rng (numpy.random.Generator): Source of randomness.
        image_size (tuple[int, int]): ``(h, w)``.
        max_persons (int): Largest number of persons in the image.

    Returns:
        tuple[numpy.ndarray, list[dict]]: The ``(h, w, 3)`` ``uint8`` BGR
        image and, per person, ``keypoints`` (``(17, 2)`` int array),
        ``bbox`` (``[x, y, w, h]``) and ``radius`` (disc radius).
    """
    h, w = image_size
    img = _background(rng, h, w)
    persons: List[Dict[str, Any]] = []
    boxes: List[Tuple[float, float, float, float]] = []
    num_persons = int(rng.integers(1, max_persons + 1))
    for index in range(num_persons):
        pose = _pose(rng)
        lo, hi = pose.min(axis=0), pose.max(axis=0)
        extent = np.maximum(hi - lo, 1e-3)
        placed = False
        for attempt in range(20):
            # the first person is never dropped: later attempts shrink it
            shrink = 0.85**attempt if index == 0 else 1.0
            height = rng.uniform(0.4, 0.85) * h * shrink
            radius = max(2, int(round(0.018 * height)))
            pad = radius + 2
            scale = min(height / extent[1], (w - 2 * pad) / extent[0],
                        (h - 2 * pad) / extent[1])
            size = extent * scale
            x0 = rng.uniform(pad, w - pad - size[0])
            y0 = rng.uniform(pad, h - pad - size[1])
            kpts = np.rint((pose - lo) * scale + [x0, y0]).astype(np.int64)
            x1, y1 = kpts.min(axis=0) - radius
            x2, y2 = kpts.max(axis=0) + radius
            box = (float(x1), float(y1), float(x2), float(y2))
            if any(box[0] <= b[2] + 2 and b[0] <= box[2] + 2
                   and box[1] <= b[3] + 2 and b[1] <= box[3] + 2
                   for b in boxes):
                continue
            boxes.append(box)
            persons.append(
                dict(
                    keypoints=kpts,
                    bbox=[box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    radius=radius))
            placed = True
            break
        if not placed and index == 0:
            raise RuntimeError('could not place a person; image too small')

    bgr = np.ascontiguousarray(to_uint8(img)[..., ::-1])
    for person in persons:
        kpts, radius = person['keypoints'], person['radius']
        thickness = max(1, int(round(radius * 0.5)))
        for a, b in COCO_SKELETON:
            cv2.line(bgr, tuple(int(v) for v in kpts[a - 1]),
                     tuple(int(v) for v in kpts[b - 1]), _LIMB_RGB[::-1],
                     thickness, cv2.LINE_AA)
        for k, color in enumerate(KEYPOINT_COLORS):
            cv2.circle(bgr, tuple(int(v) for v in kpts[k]), radius,
                       color[::-1], -1, cv2.LINE_AA)
    noisy = bgr.astype(np.float64) + rng.normal(0.0, 6.0, size=bgr.shape)
    return to_uint8(noisy), persons


def noisy_keypoints(rng: np.random.Generator, keypoints: np.ndarray,
                    bbox: List[float], image_size: Tuple[int, int],
                    keypoint_noise: float,
                    swap_prob: float) -> Tuple[np.ndarray, bool]:
    """Corrupt one person's keypoint annotation (not its image).

    Args:
        rng (numpy.random.Generator): Source of randomness.
        keypoints (numpy.ndarray): ``(17, 2)`` int keypoints as drawn.
        bbox (list[float]): The person's ``[x, y, w, h]``; its size is
            ``sqrt(w * h)``.
        image_size (tuple[int, int]): ``(h, w)``; noisy keypoints are
            clipped to the image.
        keypoint_noise (float): Standard deviation of the Gaussian jitter
            of each coordinate, in units of the person's size.
        swap_prob (float): Probability that the person's left and right
            keypoint labels are swapped (all pairs at once).

    Returns:
        tuple[numpy.ndarray, bool]: The ``(17, 2)`` int keypoints and
        whether left and right were swapped.
    """
    kpts = keypoints.astype(np.float64)
    swapped = bool(rng.random() < swap_prob)
    if swapped:
        for a, b in _FLIP_PAIRS:
            kpts[[a, b]] = kpts[[b, a]]
    size = float(np.sqrt(bbox[2] * bbox[3]))
    kpts = kpts + rng.normal(0.0, keypoint_noise * size, size=kpts.shape)
    h, w = image_size
    kpts = np.clip(np.rint(kpts), 0, [w - 1, h - 1]).astype(np.int64)
    return kpts, swapped


def _categories() -> List[Dict[str, Any]]:
    return [{
        'supercategory': 'person',
        'id': 1,
        'name': 'person',
        'keypoints': list(COCO_KEYPOINT_NAMES),
        'skeleton': [list(link) for link in COCO_SKELETON],
    }]


def write_coco_keypoints(out_dir: str,
                         num_train: int = 128,
                         num_val: int = 32,
                         image_size: Tuple[int, int] = (256, 320),
                         seed: int = 0,
                         max_persons: int = 2,
                         overwrite: bool = False,
                         keypoint_noise: float = 0.0,
                         swap_prob: float = 0.0,
                         instances: bool = False,
                         num_test: int = 0) -> Dict[str, Any]:
    """Write a small synthetic COCO person-keypoints data set.

    Image ids run from 1 in each split; annotation ids from 1 in each split.
    The files depend only on the arguments and the sample's split and index.

    Args:
        out_dir (str): Data root (``data_root`` of the dataset config).
        num_train (int): Number of training images. Defaults to 128.
        num_val (int): Number of validation images. Defaults to 32.
        image_size (tuple[int, int]): Image size ``(h, w)``, each >= 64.
            Defaults to ``(256, 320)``.
        seed (int): Seed (>= 0). Defaults to 0.
        max_persons (int): Largest number of persons per image (>= 1); each
            image has between 1 and this many. Defaults to 2.
        overwrite (bool): Replace the annotation files, image folders and the
            meta file if they exist. Defaults to False.
        keypoint_noise (float): Annotation noise of the train split: each
            keypoint coordinate moves by a Gaussian with this standard
            deviation times the person's size (``sqrt`` of the box area),
            rounded and clipped to the image. Images, boxes and the val
            split stay clean. Defaults to 0 (no noise).
        swap_prob (float): Probability in ``[0, 1]`` that a training
            person's left and right keypoint labels are swapped. Defaults
            to 0. The noise is deterministic from ``seed`` and the sample's
            index, and with both at 0 the output is the clean data set's.
        instances (bool): Also write each split's annotations as
            ``annotations/instances_{split}2017.json`` (COCO detection
            names; identical content). Defaults to False.
        num_test (int): Number of test images (clean, a stream of their
            own). Defaults to 0: no test split, the files of earlier
            versions.

    Returns:
        dict: What was written (the content of ``arsam_mm_meta.json`` plus
        ``out_dir``).

    Raises:
        ValueError: For an invalid argument.
        FileExistsError: If outputs exist and ``overwrite`` is False.
    """
    num_train, num_val, num_test, max_persons, seed = check_counts(
        seed,
        num_train=num_train,
        num_val=num_val,
        num_test=num_test,
        max_persons=max_persons)
    image_size = check_size('image_size', image_size, minimum=64)
    keypoint_noise = check_number('keypoint_noise', keypoint_noise, 0,
                                  np.inf, closed=(True, False))
    swap_prob = check_number('swap_prob', swap_prob, 0, 1)
    noisy = keypoint_noise > 0 or swap_prob > 0
    if not isinstance(instances, bool):
        raise ValueError(f'instances must be a bool, got {instances!r}')
    num_swapped = 0
    names = ('person_keypoints', 'instances') if instances else \
        ('person_keypoints', )
    splits = ('train', 'val', 'test')
    owned = tuple(f'annotations/{name}_{split}2017.json' for name in names
                  for split in splits) + tuple(
                      f'{split}2017' for split in splits) + (META_FILE, )
    out_dir = prepare_outputs(out_dir, owned, overwrite)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    counts = {'train': num_train, 'val': num_val, 'test': num_test}
    num_instances = {}
    for split in splits if num_test else splits[:2]:
        img_dir = osp.join(out_dir, f'{split}2017')
        os.makedirs(img_dir, exist_ok=True)
        images, annotations = [], []
        for i in range(counts[split]):
            image_id = i + 1
            file_name = f'{image_id:012d}.jpg'
            img, persons = render_coco_sample(
                sample_rng(seed, _STREAMS[split], i), image_size, max_persons)
            if not cv2.imwrite(osp.join(img_dir, file_name), img,
                               _JPEG_PARAMS):
                raise OSError(f'could not write an image under {img_dir}')
            images.append({
                'id': image_id,
                'file_name': file_name,
                'height': image_size[0],
                'width': image_size[1],
            })
            noise_rng = sample_rng(seed, _NOISE_STREAM, i)
            for person in persons:
                kpts = person['keypoints']
                if noisy and split == 'train':
                    kpts, swapped = noisy_keypoints(noise_rng, kpts,
                                                    person['bbox'], image_size,
                                                    keypoint_noise, swap_prob)
                    num_swapped += swapped
                flat = np.concatenate(
                    [kpts, np.full((len(kpts), 1), 2, dtype=np.int64)],
                    axis=1).reshape(-1)
                bbox = [round(float(v), 2) for v in person['bbox']]
                annotations.append({
                    'id': len(annotations) + 1,
                    'image_id': image_id,
                    'category_id': 1,
                    'keypoints': [int(v) for v in flat],
                    'num_keypoints': len(kpts),
                    'bbox': bbox,
                    'area': round(_AREA_FACTOR * bbox[2] * bbox[3], 2),
                    'iscrowd': 0,
                })
        num_instances[split] = len(annotations)
        coco = {
            'info': {
                'description':
                'arsam_mm synthetic person keypoints (stick figures)',
                'version': '1.0',
            },
            'licenses': [],
            'images': images,
            'annotations': annotations,
            'categories': _categories(),
        }
        for name in names:
            write_json(
                osp.join(out_dir, 'annotations', f'{name}_{split}2017.json'),
                coco)
    meta = {
        'format': 'coco_keypoints',
        'generator': 'arsam_mm.data.write_coco_keypoints',
        'seed': seed,
        'image_size': list(image_size),
        'max_persons': max_persons,
        'num_train': num_train,
        'num_val': num_val,
        'num_train_instances': num_instances['train'],
        'num_val_instances': num_instances['val'],
    }
    if instances:
        meta.update(instances=True)
    if noisy:
        meta.update(
            keypoint_noise=keypoint_noise,
            swap_prob=swap_prob,
            num_swapped=num_swapped)
    if num_test:  # without a test split, the meta file of earlier versions
        meta.update(num_test=num_test,
                    num_test_instances=num_instances['test'])
    write_json(osp.join(out_dir, META_FILE), meta)
    return dict(meta, out_dir=out_dir)
