"""The offline data generators: layout, determinism, the real readers.

Each generator is checked against the class that reads its format
(mmseg ``CityscapesDataset``, mmpose ``CocoDataset`` and ``CocoMetric``,
mmpretrain ``CIFAR10``/``CIFAR100``), and the classification sets with a
nearest-class-mean classifier (cheap evidence that they are learnable).
"""
import importlib.util
import json
import os
import os.path as osp
import pickle
from pathlib import Path

import numpy as np
import pytest

import arsam_mm  # noqa: F401  (applies the compatibility layer first)
from arsam_mm.data import (META_FILE, write_cifar, write_cityscapes,
                           write_coco_keypoints, write_digits, write_imagenet)
from arsam_mm.data.coco_keypoints import KEYPOINT_COLORS

REPO = Path(__file__).resolve().parents[1]

# small but complete sizes, so that the whole module stays fast
CITYSCAPES = dict(num_train=5, num_val=3, size=(64, 128))
COCO = dict(num_train=6, num_val=4, image_size=(96, 128), max_persons=2)
CIFAR10_SIZES = dict(num_train=300, num_test=200)
CIFAR100_SIZES = dict(num_train=500, num_test=300)

GENERATORS = {
    'cityscapes': lambda out, seed: write_cityscapes(
        out, seed=seed, **CITYSCAPES),
    'coco': lambda out, seed: write_coco_keypoints(out, seed=seed, **COCO),
    'coco_instances': lambda out, seed: write_coco_keypoints(
        out, seed=seed, instances=True, **COCO),
    'imagenet': lambda out, seed: write_imagenet(
        out, seed=seed, num_train=6, num_val=3, image_size=(40, 48)),
    'cifar10': lambda out, seed: write_cifar(
        out, 'cifar10', seed=seed, num_train=20, num_test=10),
    'cifar100': lambda out, seed: write_cifar(
        out, 'cifar100', seed=seed, num_train=20, num_test=10),
    'digits': lambda out, seed: write_digits(
        out, noise_rate=0.1, seed=seed),
}


def _tree(root):
    """Relative path -> bytes of every file under ``root``."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def _ncm_accuracy(x_train, y_train, x_test, y_test):
    """Test accuracy of the nearest class mean on flattened pixels."""
    x_train = x_train.reshape(len(x_train), -1).astype(np.float64)
    x_test = x_test.reshape(len(x_test), -1).astype(np.float64)
    classes = np.unique(y_train)
    means = np.stack([x_train[y_train == c].mean(axis=0) for c in classes])
    dist = ((x_test[:, None, :] - means[None])**2).sum(axis=2)
    return float((classes[dist.argmin(axis=1)] == y_test).mean())


def _dataset_arrays(dataset):
    imgs = np.stack([dataset.get_data_info(i)['img']
                     for i in range(len(dataset))])
    labels = np.array([dataset.get_data_info(i)['gt_label']
                       for i in range(len(dataset))])
    return imgs, labels


# ----------------------------------------------------------------- general


@pytest.mark.parametrize('name', sorted(GENERATORS))
def test_deterministic_for_a_seed(tmp_path, name):
    generate = GENERATORS[name]
    generate(str(tmp_path / 'a'), 0)
    generate(str(tmp_path / 'b'), 0)
    generate(str(tmp_path / 'c'), 1)
    a, b, c = (_tree(tmp_path / k) for k in 'abc')
    assert a and a == b
    assert sorted(a) == sorted(c)
    differ = [k for k in a if a[k] != c[k]]
    assert differ, 'another seed must give other data'


@pytest.mark.parametrize('name', sorted(GENERATORS))
def test_refuses_to_overwrite_unless_asked(tmp_path, name):
    GENERATORS[name](str(tmp_path), 0)
    with pytest.raises(FileExistsError, match='overwrite'):
        GENERATORS[name](str(tmp_path), 0)


@pytest.mark.parametrize('call, arg', [
    (lambda d: write_cityscapes(d, num_train=0), 'num_train'),
    (lambda d: write_cityscapes(d, size=(16, 64)), 'size'),
    (lambda d: write_cityscapes(d, seed=-1), 'seed'),
    (lambda d: write_coco_keypoints(d, num_train=-3), 'num_train'),
    (lambda d: write_coco_keypoints(d, image_size=(64, )), 'image_size'),
    (lambda d: write_coco_keypoints(d, max_persons=0), 'max_persons'),
    (lambda d: write_coco_keypoints(d, keypoint_noise=-0.1),
     'keypoint_noise'),
    (lambda d: write_coco_keypoints(d, swap_prob=1.5), 'swap_prob'),
    (lambda d: write_coco_keypoints(d, instances=1), 'instances'),
    (lambda d: write_imagenet(d, num_val=0), 'num_val'),
    (lambda d: write_imagenet(d, num_classes=101), 'num_classes'),
    (lambda d: write_imagenet(d, image_size=(16, 64)), 'image_size'),
    (lambda d: write_cifar(d, variant='cifar20'), 'variant'),
    (lambda d: write_digits(d, test_fraction=1.0), 'test_fraction'),
    (lambda d: write_digits(d, noise_rate=-0.1), 'noise_rate'),
    (lambda d: write_digits(d, noise_rate=float('nan')), 'noise_rate'),
    (lambda d: write_digits(d, variant='mnist'), 'variant'),
    (lambda d: write_cityscapes(d, num_test=-1), 'num_test'),
    (lambda d: write_digits(d, test_fraction=0.5, val_fraction=0.5),
     'val_fraction'),
    (lambda d: write_digits(d, val_fraction=0.0), 'val_fraction'),
])
def test_bad_arguments_are_named(tmp_path, call, arg):
    with pytest.raises(ValueError, match=arg):
        call(str(tmp_path))
    assert not os.listdir(tmp_path), 'nothing is written on bad input'


@pytest.mark.parametrize('call, arg', [
    (lambda d: write_cityscapes(d, num_val=2.5), 'num_val'),
    (lambda d: write_cifar(d, num_test=True), 'num_test'),
    (lambda d: write_coco_keypoints(d, num_test=1.5), 'num_test'),
])
def test_arguments_of_the_wrong_type_are_named(tmp_path, call, arg):
    """A count that is no int is a TypeError (``check_int``), one out of
    range a ValueError, as everywhere in the package."""
    with pytest.raises(TypeError, match=f'{arg} must be an int'):
        call(str(tmp_path))
    assert not os.listdir(tmp_path), 'nothing is written on bad input'


# -------------------------------------------------------------- cityscapes


@pytest.fixture(scope='module')
def cityscapes_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cityscapes'))
    write_cityscapes(root, **CITYSCAPES)
    return root


def test_cityscapes_layout(cityscapes_root):
    tree = _tree(cityscapes_root)
    imgs = sorted(k for k in tree if k.endswith('_leftImg8bit.png'))
    segs = sorted(k for k in tree if k.endswith('_gtFine_labelTrainIds.png'))
    assert len(imgs) == len(segs) == 8
    for img, seg in zip(imgs, segs):
        split, city, name = Path(img).parts[1:]
        assert Path(img).parts[0] == 'leftImg8bit'
        assert seg == osp.join('gtFine', split, city,
                               name.replace('_leftImg8bit', '_gtFine_'
                                            'labelTrainIds'))
        assert name.startswith(city + '_')
    meta = json.loads(tree[META_FILE])
    assert meta['num_train'] == 5 and meta['num_val'] == 3


@pytest.mark.parametrize('split, count', [('train', 5), ('val', 3)])
def test_cityscapes_read_by_mmseg(cityscapes_root, split, count):
    from mmseg.datasets import CityscapesDataset
    from mmseg.datasets.transforms import LoadAnnotations
    dataset = CityscapesDataset(
        data_root=cityscapes_root,
        data_prefix=dict(
            img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'),
        pipeline=[])
    assert len(dataset) == count
    load = LoadAnnotations()
    seen = set()
    for i in range(len(dataset)):
        info = dataset[i]
        assert osp.isfile(info['img_path'])
        seg = load(info)['gt_seg_map']
        assert seg.shape == CITYSCAPES['size']
        values = set(np.unique(seg).tolist())
        assert values <= set(range(19)) | {255}
        assert 0 in values and 255 in values and len(values) >= 3
        seen |= values
    assert len(seen) >= 5


def test_cityscapes_colours_follow_classes(cityscapes_root):
    """Class means of the pixels are far apart: the labels are learnable."""
    import cv2
    base = Path(cityscapes_root)
    pixels, labels = [], []
    for img_path in sorted(base.glob('leftImg8bit/*/*/*.png')):
        seg_path = str(img_path).replace('leftImg8bit', 'gtFine', 1).replace(
            '_leftImg8bit.png', '_gtFine_labelTrainIds.png')
        img = cv2.imread(str(img_path))
        seg = cv2.imread(seg_path, cv2.IMREAD_UNCHANGED)
        keep = seg != 255
        pixels.append(img[keep].astype(np.float64))
        labels.append(seg[keep])
    pixels, labels = np.concatenate(pixels), np.concatenate(labels)
    classes = np.unique(labels)
    means = np.stack([pixels[labels == c].mean(axis=0) for c in classes])
    pred = classes[((pixels[::7, None] - means[None])**2).sum(-1).argmin(1)]
    # colour alone (no texture, no context) already beats chance by far
    assert (pred == labels[::7]).mean() > 0.8


def test_cityscapes_label_noise(tmp_path):
    """Noise relabels whole train shapes to another class, nothing else."""
    import cv2
    clean, noisy = tmp_path / 'clean', tmp_path / 'noisy'
    kw = dict(num_train=12, num_val=3, size=(32, 64))
    write_cityscapes(str(clean), **kw)
    meta = write_cityscapes(str(noisy), label_noise=0.5, **kw)
    assert meta['label_noise'] == 0.5
    assert 'label_noise' not in json.loads(
        (clean / META_FILE).read_text())  # default meta as before
    changed = 0
    for path in sorted(clean.rglob('*.png')):
        rel = path.relative_to(clean)
        a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(noisy / rel), cv2.IMREAD_UNCHANGED)
        if 'gtFine' not in rel.parts or 'val' in rel.parts:
            assert np.array_equal(a, b), rel  # images and val labels: same
            continue
        diff = a != b
        if diff.any():
            changed += 1
            assert np.isin(a[diff], np.arange(1, 19)).all()
            assert np.isin(b[diff], np.arange(1, 19)).all()
            # one wrong class over a whole shape
            count, comp = cv2.connectedComponents(
                ((a != 0) & (a != 255)).astype(np.uint8), connectivity=4)
            for k in np.unique(comp[diff]):
                shape = comp == k
                assert diff[shape].all() and len(np.unique(b[shape])) == 1
    assert changed > 0
    again = tmp_path / 'again'
    write_cityscapes(str(again), label_noise=0.5, **kw)
    for path in sorted(noisy.glob('gtFine/train/*/*.png')):
        assert np.array_equal(
            cv2.imread(str(path), cv2.IMREAD_UNCHANGED),
            cv2.imread(
                str(again / path.relative_to(noisy)),
                cv2.IMREAD_UNCHANGED))  # deterministic
    with pytest.raises(ValueError, match='label_noise'):
        write_cityscapes(str(tmp_path / 'bad'), label_noise=1.5)


def test_overwrite_replaces_stale_output(tmp_path):
    write_cityscapes(str(tmp_path), num_train=4, num_val=2, size=(32, 64))
    write_cityscapes(
        str(tmp_path), num_train=2, num_val=1, size=(32, 64), overwrite=True)
    imgs = list(tmp_path.glob('leftImg8bit/*/*/*.png'))
    assert len(imgs) == 3


# -------------------------------------------------------------------- coco


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    record = write_coco_keypoints(root, **COCO)
    return root, record


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_read_by_mmpose(coco_root, split):
    import cv2
    from mmpose.datasets import CocoDataset
    root, record = coco_root
    dataset = CocoDataset(
        ann_file=f'annotations/person_keypoints_{split}2017.json',
        data_root=root,
        data_mode='topdown',
        data_prefix=dict(img=f'{split}2017/'),
        pipeline=[],
        test_mode=split == 'val')
    assert len(dataset) == record[f'num_{split}_instances']
    assert len(dataset) >= COCO[f'num_{split}']
    h, w = COCO['image_size']
    hits = total = 0
    for i in range(len(dataset)):
        info = dataset[i]
        assert info['keypoints'].shape == (1, 17, 2)
        assert (info['keypoints_visible'] == 1).all()
        assert info['num_keypoints'] == 17
        assert info['category_id'] == 1
        kpts = info['keypoints'][0]
        assert (kpts >= 0).all() and (kpts[:, 0] < w).all() \
            and (kpts[:, 1] < h).all()
        x1, y1, x2, y2 = info['bbox'][0]
        assert x1 <= kpts[:, 0].min() and kpts[:, 0].max() <= x2
        assert y1 <= kpts[:, 1].min() and kpts[:, 1].max() <= y2
        # the disc under each keypoint has that keypoint's colour
        img = cv2.imread(info['img_path'])[..., ::-1].astype(int)
        for k, (x, y) in enumerate(kpts.astype(int)):
            total += 1
            hits += np.abs(img[y, x] - KEYPOINT_COLORS[k]).max() < 60
    assert hits / total > 0.9


def test_coco_val_evaluates_with_coco_metric(coco_root, tmp_path):
    from mmpose.datasets import CocoDataset
    from mmpose.evaluation import CocoMetric
    from xtcocotools.coco import COCO as XtCOCO
    root, record = coco_root
    ann_file = osp.join(root, 'annotations', 'person_keypoints_val2017.json')
    coco = XtCOCO(ann_file)
    assert len(coco.getImgIds()) == COCO['num_val']
    assert len(coco.getAnnIds()) == record['num_val_instances']
    assert coco.loadCats(1)[0]['keypoints'][5] == 'left_shoulder'
    dataset = CocoDataset(
        ann_file=ann_file,
        data_root=root,
        data_prefix=dict(img='val2017/'),
        pipeline=[],
        test_mode=True)

    def evaluate(jitter):
        metric = CocoMetric(
            ann_file=ann_file, outfile_prefix=str(tmp_path / f'r{jitter}'))
        metric.dataset_meta = dataset.metainfo
        rng = np.random.default_rng(0)
        samples = []
        for i in range(len(dataset)):
            info = dataset[i]
            kpts = info['keypoints'] + rng.normal(
                0, jitter, info['keypoints'].shape)
            samples.append(
                dict(
                    id=info['id'],
                    img_id=info['img_id'],
                    pred_instances=dict(
                        keypoints=kpts, keypoint_scores=np.ones((1, 17))),
                    gt_instances=dict(bbox_scores=np.ones(1))))
        metric.process([], samples)
        return metric.compute_metrics(metric.results)

    exact = evaluate(0.0)
    assert exact['AP'] == pytest.approx(1.0)
    noisy = evaluate(8.0)
    assert 0.0 <= noisy['AP'] < exact['AP']


def test_coco_keypoint_noise_touches_only_train_annotations(
        coco_root, tmp_path):
    root, record = coco_root
    assert 'keypoint_noise' not in record  # the default writes clean data
    noisy = write_coco_keypoints(
        str(tmp_path / 'a'), keypoint_noise=0.05, swap_prob=0.5, **COCO)
    again = write_coco_keypoints(
        str(tmp_path / 'b'), keypoint_noise=0.05, swap_prob=0.5, **COCO)
    assert noisy['keypoint_noise'] == 0.05 and noisy['swap_prob'] == 0.5
    assert 0 <= noisy['num_swapped'] <= noisy['num_train_instances']

    def load(base, split):
        with open(osp.join(base, 'annotations',
                           f'person_keypoints_{split}2017.json')) as f:
            return json.load(f)

    clean_val, noisy_val = load(root, 'val'), load(noisy['out_dir'], 'val')
    assert noisy_val == clean_val
    clean, dirty = load(root, 'train'), load(noisy['out_dir'], 'train')
    assert load(again['out_dir'], 'train') == dirty  # deterministic
    assert [a['bbox'] for a in dirty['annotations']] == \
        [a['bbox'] for a in clean['annotations']]
    h, w = COCO['image_size']
    moved = 0
    for a, b in zip(clean['annotations'], dirty['annotations']):
        ka = np.array(a['keypoints']).reshape(17, 3)
        kb = np.array(b['keypoints']).reshape(17, 3)
        assert (kb[:, 2] == 2).all()
        assert (kb[:, 0] >= 0).all() and (kb[:, 0] < w).all()
        assert (kb[:, 1] >= 0).all() and (kb[:, 1] < h).all()
        moved += (ka[:, :2] != kb[:, :2]).any(axis=1).sum()
    assert moved > len(clean['annotations']) * 17 // 2
    for split in ('train', 'val'):  # the images are the clean ones
        for name in sorted(os.listdir(osp.join(root, f'{split}2017'))):
            with open(osp.join(root, f'{split}2017', name), 'rb') as f, \
                    open(osp.join(noisy['out_dir'], f'{split}2017', name),
                         'rb') as g:
                assert f.read() == g.read()


# ------------------------------------------------------------------- cifar


@pytest.fixture(scope='module')
def cifar_roots(tmp_path_factory):
    roots = {}
    for variant, sizes in (('cifar10', CIFAR10_SIZES),
                           ('cifar100', CIFAR100_SIZES)):
        root = str(tmp_path_factory.mktemp(variant))
        write_cifar(root, variant, **sizes)
        roots[variant] = root
    return roots


def test_cifar_layout(cifar_roots):
    ten = _tree(cifar_roots['cifar10'])
    assert sorted(ten) == sorted(
        osp.join('cifar-10-batches-py', n) for n in
        [f'data_batch_{i}' for i in range(1, 6)] +
        ['test_batch', 'batches.meta', META_FILE])
    batch = pickle.loads(ten[osp.join('cifar-10-batches-py', 'data_batch_1')],
                         encoding='latin1')
    assert batch['data'].dtype == np.uint8
    assert batch['data'].shape == (60, 3072)
    assert len(batch['labels']) == len(batch['filenames']) == 60
    hundred = _tree(cifar_roots['cifar100'])
    assert sorted(hundred) == sorted(
        osp.join('cifar-100-python', n)
        for n in ['train', 'test', 'meta', META_FILE])
    meta = pickle.loads(hundred[osp.join('cifar-100-python', 'meta')],
                        encoding='latin1')
    assert len(meta['fine_label_names']) == 100


@pytest.mark.parametrize('variant', ['cifar10', 'cifar100'])
def test_cifar_read_by_stock_mmpretrain(cifar_roots, variant, monkeypatch):
    """The stock class reads the files once its md5 pin is lifted; with the
    pin (the default) it refuses them, which is why ``LocalCIFAR*`` exist."""
    import mmpretrain.datasets.cifar as cifar_module
    cls = getattr(cifar_module, variant.upper())
    root = cifar_roots[variant]
    with pytest.raises(RuntimeError, match='Cannot find'):
        cls(data_root=root, split='train', pipeline=[], download=False)
    monkeypatch.setattr(cifar_module, 'check_md5', lambda *a, **k: True)
    sizes = CIFAR10_SIZES if variant == 'cifar10' else CIFAR100_SIZES
    num_classes = 10 if variant == 'cifar10' else 100
    for split in ('train', 'test'):
        dataset = cls(data_root=root, split=split, pipeline=[])
        assert len(dataset) == sizes[f'num_{split}']
        imgs, labels = _dataset_arrays(dataset)
        assert imgs.shape[1:] == (32, 32, 3) and imgs.dtype == np.uint8
        assert np.bincount(labels, minlength=num_classes).max() - \
            np.bincount(labels, minlength=num_classes).min() <= 1


@pytest.mark.parametrize('variant', ['cifar10', 'cifar100'])
def test_cifar_local_dataset_and_learnability(cifar_roots, variant):
    from arsam_mm.data.local_cifar import LocalCIFAR10, LocalCIFAR100
    cls = LocalCIFAR10 if variant == 'cifar10' else LocalCIFAR100
    root = cifar_roots[variant]
    train = cls(data_root=root, split='train', pipeline=[])
    test = cls(data_root=root, split='test', pipeline=[])
    x_train, y_train = _dataset_arrays(train)
    x_test, y_test = _dataset_arrays(test)
    chance = 0.1 if variant == 'cifar10' else 0.01
    # pixels-only nearest class mean: colour is a cue, patterns are not
    assert _ncm_accuracy(x_train, y_train, x_test, y_test) > 5 * chance


def test_local_cifar_checks_and_never_downloads(tmp_path):
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS

    from arsam_mm.data.local_cifar import LocalCIFAR10
    write_cifar(str(tmp_path), num_train=10, num_test=5)
    # In mmpretrain's scope, whatever default scope an earlier test set.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        built = DATASETS.build(
            dict(type='LocalCIFAR10', data_root=str(tmp_path), pipeline=[]))
    assert len(built) == 10
    with pytest.raises(ValueError, match='download'):
        LocalCIFAR10(data_root=str(tmp_path), download=True)
    batch = tmp_path / 'cifar-10-batches-py' / 'data_batch_3'
    data = bytearray(batch.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one pixel byte
    batch.write_bytes(bytes(data))
    with pytest.raises(FileNotFoundError, match='generate_data.py cifar10'):
        LocalCIFAR10(data_root=str(tmp_path), split='test')
    batch.unlink()
    with pytest.raises(FileNotFoundError, match='missing or altered'):
        LocalCIFAR10(data_root=str(tmp_path))


# ------------------------------------------------------------------ digits


@pytest.fixture(scope='module')
def digits_noisy(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('digits'))
    record = write_digits(root, noise_rate=0.3, seed=3)
    return root, record


def test_digits_split_and_noise(digits_noisy):
    from sklearn.datasets import load_digits

    from arsam_mm.data.local_cifar import LocalCIFAR10
    root, record = digits_noisy
    target = load_digits().target
    n_train, n_test = record['num_train'], record['num_test']
    assert n_train + n_test == 1797
    train_idx = np.array(record['train_indices'])
    test_idx = np.array(record['test_indices'])
    assert sorted(np.concatenate([train_idx, test_idx])) == list(range(1797))
    # stratified: every class keeps its share in both splits
    for c in range(10):
        share = (target[test_idx] == c).sum() / (target == c).sum()
        assert abs(share - 0.25) < 0.02
    train = LocalCIFAR10(data_root=root, split='train', pipeline=[])
    test = LocalCIFAR10(data_root=root, split='test', pipeline=[])
    assert (len(train), len(test)) == (n_train, n_test)
    _, y_train = _dataset_arrays(train)
    x_test, y_test = _dataset_arrays(test)
    flipped = y_train != target[train_idx]
    assert flipped.sum() == round(0.3 * n_train) == record['num_flipped']
    assert sorted(np.flatnonzero(flipped)) == record['flipped_positions']
    assert list(y_train[flipped]) == record['flipped_noisy_labels']
    assert list(target[train_idx][flipped]) == record['flipped_clean_labels']
    assert (y_test == target[test_idx]).all(), 'test labels are never flipped'
    # every wrong class is drawn (symmetric noise)
    offsets = (y_train[flipped] - target[train_idx][flipped]) % 10
    assert set(offsets.tolist()) == set(range(1, 10))
    assert x_test.shape == (n_test, 32, 32, 3)
    assert (x_test[..., 0] == x_test[..., 2]).all()


def test_digits_noise_is_nested_and_split_fixed(tmp_path, digits_noisy):
    _, noisy = digits_noisy
    low = write_digits(str(tmp_path / 'low'), noise_rate=0.1, seed=3)
    clean = write_digits(str(tmp_path / 'clean'), seed=3)
    assert low['train_indices'] == noisy['train_indices'] \
        == clean['train_indices']
    assert clean['num_flipped'] == 0 and not clean['flipped_positions']
    high = dict(zip(noisy['flipped_positions'],
                    noisy['flipped_noisy_labels']))
    for pos, label in zip(low['flipped_positions'],
                          low['flipped_noisy_labels']):
        assert high[pos] == label


def test_digits_learnable(digits_noisy):
    from arsam_mm.data.local_cifar import LocalCIFAR10
    root, _ = digits_noisy
    x_train, y_train = _dataset_arrays(
        LocalCIFAR10(data_root=root, split='train', pipeline=[]))
    x_test, y_test = _dataset_arrays(
        LocalCIFAR10(data_root=root, split='test', pipeline=[]))
    # 30% of the train labels are wrong; the class means still hold
    assert _ncm_accuracy(x_train, y_train, x_test, y_test) > 0.7


# --------------------------------------------------------------------- cli


def _cli():
    spec = importlib.util.spec_from_file_location(
        'generate_data', REPO / 'tools' / 'generate_data.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_and_summarises(tmp_path, capsys):
    cli = _cli()
    out = tmp_path / 'c'
    cli.main([
        'cifar10', '--out',
        str(out), '--num-train', '12', '--num-test', '4', '--seed', '2'
    ])
    line = capsys.readouterr().out.strip()
    assert line.startswith('cifar10: wrote 12 train + 4 test images')
    assert str(out) in line and line.count('\n') == 0
    cli.main([
        'cityscapes', '--out',
        str(tmp_path / 's'), '--num-train', '1', '--num-val', '1', '--size',
        '32x64'
    ])
    assert 'cityscapes: wrote 1 train + 1 val images (32x64' in \
        capsys.readouterr().out
    with pytest.raises(SystemExit, match='exists'):
        cli.main(['cifar10', '--out', str(out)])
    with pytest.raises(SystemExit, match='noise_rate'):
        cli.main(['digits', '--out', str(tmp_path / 'd'), '--noise-rate', '2'])


def test_cli_imagenet_and_coco_instances(tmp_path, capsys):
    cli = _cli()
    cli.main([
        'imagenet', '--out',
        str(tmp_path / 'i'), '--num-train', '3', '--num-val', '2',
        '--num-classes', '2', '--size', '32x40'
    ])
    assert 'imagenet: wrote 3 train + 2 val images (32x40, 2 classes)' in \
        capsys.readouterr().out
    with open(tmp_path / 'i' / 'meta' / 'val.txt') as f:
        assert f.read() in ('val_000000.jpg 0\nval_000001.jpg 1\n',
                            'val_000000.jpg 1\nval_000001.jpg 0\n')
    cli.main([
        'coco', '--out',
        str(tmp_path / 'c'), '--num-train', '1', '--num-val', '1',
        '--instances'
    ])
    names = sorted(os.listdir(tmp_path / 'c' / 'annotations'))
    assert names == [
        'instances_train2017.json', 'instances_val2017.json',
        'person_keypoints_train2017.json', 'person_keypoints_val2017.json'
    ]


# ------------------------------------------------------------ test splits


def _without(tree, parts):
    """``tree`` without the paths that contain any of ``parts``."""
    return {k: v for k, v in tree.items()
            if not any(p in k.split(os.sep) for p in parts)}


def _pixels(paths):
    """The decoded pixels of image files, as bytes (one set)."""
    import cv2
    return {cv2.imread(p, cv2.IMREAD_UNCHANGED).tobytes() for p in paths}


def _files(root, pattern):
    return sorted(str(p) for p in Path(root).glob(pattern))


def test_cityscapes_test_split_is_apart_and_leaves_the_rest(tmp_path):
    from mmseg.datasets import CityscapesDataset

    from arsam_mm.data._common import sample_rng
    from arsam_mm.data.cityscapes import render_cityscapes_sample
    args = dict(CITYSCAPES, size=(32, 64), label_noise=0.5)
    old = write_cityscapes(str(tmp_path / 'old'), **args)
    new = write_cityscapes(str(tmp_path / 'new'), num_test=4, **args)
    assert 'num_test' not in old and new['num_test'] == 4
    meta = json.loads((tmp_path / 'new' / META_FILE).read_text())
    assert (meta['num_train'], meta['num_val'], meta['num_test']) == (5, 3, 4)
    # train and val: the bytes written without a test split
    a, b = _tree(tmp_path / 'old'), _tree(tmp_path / 'new')
    assert _without(b, ('test', META_FILE)) == _without(a, (META_FILE, ))
    imgs = {split: _files(tmp_path / 'new', f'leftImg8bit/{split}/*/*.png')
            for split in ('train', 'val', 'test')}
    assert [len(imgs[s]) for s in imgs] == [5, 3, 4]
    test = _pixels(imgs['test'])
    assert len(test) == 4
    assert not test & (_pixels(imgs['train']) | _pixels(imgs['val']))
    # clean labels (no label noise), from the test stream
    import cv2
    for i in range(4):
        city = ('berlin', 'bielefeld', 'bonn')[i % 3]
        path = str(tmp_path / 'new' / 'gtFine' / 'test' / city /
                   f'{city}_{i:06d}_000019_gtFine_labelTrainIds.png')
        _, label = render_cityscapes_sample(sample_rng(0, 3, i), (32, 64))
        assert (cv2.imread(path, cv2.IMREAD_UNCHANGED) == label).all()
    dataset = CityscapesDataset(
        data_root=str(tmp_path / 'new'), pipeline=[],
        data_prefix=dict(img_path='leftImg8bit/test',
                         seg_map_path='gtFine/test'))
    assert len(dataset) == 4


def test_coco_test_split_is_apart_and_leaves_the_rest(tmp_path):
    from mmpose.datasets import CocoDataset

    from arsam_mm.data._common import sample_rng
    from arsam_mm.data.coco_keypoints import render_coco_sample
    args = dict(COCO, keypoint_noise=0.05, swap_prob=0.5)
    old = write_coco_keypoints(str(tmp_path / 'old'), **args)
    new = write_coco_keypoints(str(tmp_path / 'new'), num_test=3, **args)
    assert 'num_test' not in old
    meta = json.loads((tmp_path / 'new' / META_FILE).read_text())
    assert (meta['num_train'], meta['num_val'], meta['num_test']) == (6, 4, 3)
    a, b = _tree(tmp_path / 'old'), _tree(tmp_path / 'new')
    test_json = osp.join('annotations', 'person_keypoints_test2017.json')
    assert test_json in b
    assert _without(b, ('test2017', META_FILE, test_json.split(os.sep)[1])
                    ) == _without(a, (META_FILE, ))
    imgs = {split: _files(tmp_path / 'new', f'{split}2017/*.jpg')
            for split in ('train', 'val', 'test')}
    test = _pixels(imgs['test'])
    assert len(test) == 3
    assert not test & (_pixels(imgs['train']) | _pixels(imgs['val']))
    coco = json.loads(b[test_json])
    assert len(coco['images']) == 3
    assert len(coco['annotations']) == new['num_test_instances']
    # clean keypoints: those drawn, from the test stream
    for i in range(3):
        _, persons = render_coco_sample(sample_rng(0, 3, i), (96, 128), 2)
        drawn = [p['keypoints'].reshape(-1).tolist() for p in persons]
        written = [a['keypoints'][0::3] + a['keypoints'][1::3]
                   for a in coco['annotations'] if a['image_id'] == i + 1]
        assert [sorted(k) for k in written] == [sorted(k) for k in drawn]
    dataset = CocoDataset(
        ann_file='annotations/person_keypoints_test2017.json',
        data_root=str(tmp_path / 'new'), data_mode='topdown',
        data_prefix=dict(img='test2017/'), pipeline=[], test_mode=True)
    assert len(dataset) == new['num_test_instances']


def test_digits_val_split_comes_out_of_the_held_out_images(
        tmp_path, digits_noisy):
    from sklearn.datasets import load_digits

    from arsam_mm.data.local_cifar import LocalCIFAR10
    old_root, old = digits_noisy
    root = str(tmp_path / 'd')
    new = write_digits(root, noise_rate=0.3, seed=3, val_fraction=0.1)
    folder = 'cifar-10-batches-py'
    a, b = _tree(Path(old_root) / folder), _tree(Path(root) / folder)
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['batches.meta']:
        assert a[name] == b[name], f'{name} changed'
    assert set(b) - set(a) == {'val_batch'}
    val_idx, test_idx = new['val_indices'], new['test_indices']
    assert new['train_indices'] == old['train_indices']
    assert not set(val_idx) & set(test_idx)
    assert sorted(val_idx + test_idx) == old['test_indices']
    target = load_digits().target
    for c in range(10):
        n = int((target == c).sum())
        assert int((target[val_idx] == c).sum()) == round(0.1 * n)
    assert (new['num_val'], new['num_test']) == (len(val_idx), len(test_idx))
    meta = json.loads(b[META_FILE])
    assert meta['num_val'] == len(val_idx) and 'val_batch' in meta['md5']
    val = LocalCIFAR10(data_root=root, split='val', pipeline=[])
    test = LocalCIFAR10(data_root=root, split='test', pipeline=[])
    assert (len(val), len(test)) == (len(val_idx), len(test_idx))
    _, y_val = _dataset_arrays(val)
    assert (y_val == target[val_idx]).all(), 'val labels are clean'
    with pytest.raises(ValueError, match="split must be 'train', 'test' or "
                       "'val', got 'dev'"):
        LocalCIFAR10(data_root=root, split='dev', pipeline=[])
    # the val batch is checked as the others are
    with open(osp.join(root, folder, 'val_batch'), 'ab') as f:
        f.write(b'x')
    with pytest.raises(FileNotFoundError, match='missing or altered'):
        LocalCIFAR10(data_root=root, split='val', pipeline=[])


def test_cli_writes_the_test_splits(tmp_path, capsys):
    cli = _cli()
    cli.main(['cityscapes', '--out', str(tmp_path / 's'), '--num-train', '1',
              '--num-val', '1', '--num-test', '2', '--size', '32x64'])
    assert 'wrote 1 train + 1 val + 2 test images (32x64' in \
        capsys.readouterr().out
    cli.main(['coco', '--out', str(tmp_path / 'c'), '--num-train', '1',
              '--num-val', '1', '--num-test', '2', '--size', '64x64'])
    assert 'wrote 1 train + 1 val + 2 test images (64x64;' in \
        capsys.readouterr().out
    cli.main(['digits', '--out', str(tmp_path / 'd'), '--test-fraction',
              '0.7', '--val-fraction', '0.35'])
    assert 'wrote 539 train + 629 val + 629 test digits' in \
        capsys.readouterr().out
