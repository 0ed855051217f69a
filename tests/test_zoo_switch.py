"""Model-zoo configs switched by two keys, run on a CPU by ``--smoke``.

The promise: a model-zoo config switches to SAM or ARSAM with a child
config of two keys,

    custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
    optim_wrapper = dict(type='ARSAMOptimWrapper', rho=0.05)

and nothing else the config sets changes. Here mmseg's FCN and SegFormer,
mmpose's SimpleBaseline and RTMPose, mmdet's RetinaNet and mmpretrain's
ResNet-50/ImageNet configs, as the packages ship them, are switched that way
and trained for two iterations by ``tools/train.py CONFIG --smoke 2``
(generated data, no downloads). Each run must build the zoo's optimizer
with the zoo's hyperparameters and parameter groups, the zoo's hooks and
param schedulers, and log the SAM fields. SegFormer (ARSAM) and RTMPose
(SAM) run by default; the ResNet-50 ones (FCN, SimpleBaseline, RetinaNet,
ResNet-50/ImageNet: a minute or more each on 2 cores) with ``--runslow``,
as does mmdet's Faster R-CNN, which needs compiled mmcv ops (NMS, RoIAlign)
and stops naming them on mmcv-lite.

Config-level cases (fast) check what the switch and ``--smoke`` change,
the new ``configs/`` variants, and the data check.

fp16 zoo configs (``AmpOptimWrapper`` with a ``loss_scale``: mmpose's
HRNet-w32 fp16, mmseg's FCN-R101 amp) switched by the same two keys build
the Amp twin, with a warning; ``--smoke`` on a CPU trains the fp32 twin.
"""
import copy
import functools
import importlib
import importlib.util
import json
import logging
import os
import os.path as osp
import socket
import subprocess
import sys
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope

import arsam_mm  # noqa: F401  (compat layer before mmseg/mmpose models)
from arsam_mm.cfgtools.data_roots import check_data_roots
from arsam_mm.cfgtools.rewrite import (amp_to_fp32, remove_pretrained,
                                       sync_bn_to_bn)
from arsam_mm.cfgtools.shrink import shrink_factor, shrink_sizes
from arsam_mm.cfgtools.smoke import apply_smoke, smoke_data_root

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'configs')
TRAIN_PY = osp.join(ROOT, 'tools', 'train.py')

#: name -> (scope, model-zoo config)
ZOO = {
    'fcn': ('mmseg', 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'),
    'segformer':
    ('mmseg', 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'),
    'simplebaseline':
    ('mmpose', 'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
     'td-hm_res50_8xb64-210e_coco-256x192.py'),
    'rtmpose': ('mmpose', 'mmpose::body_2d_keypoint/rtmpose/coco/'
                'rtmpose-t_8xb256-420e_coco-256x192.py'),
    # fp16: AmpOptimWrapper with a loss_scale
    'hrnet_fp16': ('mmpose', 'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                   'td-hm_hrnet-w32_fp16-8xb64-210e_coco-256x192.py'),
    'fcn_amp':
    ('mmseg', 'mmseg::fcn/fcn_r101-d8_4xb2-amp-80k_cityscapes-512x1024.py'),
    'retinanet': ('mmdet', 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'),
    'faster_rcnn':
    ('mmdet', 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'),
    'resnet50':
    ('mmpretrain', 'mmpretrain::resnet/resnet50_8xb32_in1k.py'),
}
#: The fp16 zoo configs: name -> loss scale they set.
FP16 = {'hrnet_fp16': 2.**16, 'fcn_amp': 512.}
IMPORTS = "dict(imports=['arsam_mm'], allow_failed_imports=False)"
#: The fields the optimizer wrappers write to the MessageHub themselves.
SAM_FIELDS = ('train/sam_step', 'train/sam_fraction', 'train/grad_evals',
              'train/rho')
ITERS = 2


def write_child(folder, name, wrapper=None):
    """The two-key child of a zoo config (``wrapper=None``: the baseline,
    ``custom_imports`` only)."""
    lines = [f'_base_ = [{ZOO[name][1]!r}]', f'custom_imports = {IMPORTS}']
    if wrapper is not None:
        lines.append(f'optim_wrapper = dict(type={wrapper!r}, rho=0.05)')
    path = osp.join(str(folder), f'{name}_{wrapper or "base"}.py')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


@functools.lru_cache(maxsize=None)
def _parsed(name, wrapper):
    import tempfile
    folder = tempfile.mkdtemp(prefix='zoo_switch_')
    return Config.fromfile(write_child(folder, name, wrapper))


def parsed(name, wrapper=None):
    """A private copy of the parsed child (parsing is slow)."""
    return copy.deepcopy(_parsed(name, wrapper))


def _type(entry):
    kind = entry['type']
    return (kind if isinstance(kind, str) else kind.__name__).split('.')[-1]


@functools.lru_cache(maxsize=None)
def train_tool():
    spec = importlib.util.spec_from_file_location('_zoo_train_tool',
                                                  TRAIN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def smoke_data(tmp_path_factory):
    return str(tmp_path_factory.mktemp('smoke_data'))


# ------------------------------------------------------- the switch itself ---
@pytest.mark.parametrize('name', sorted(ZOO))
@pytest.mark.parametrize('wrapper', ['SAMOptimWrapper', 'ARSAMOptimWrapper'])
def test_two_keys_change_only_the_wrapper_type(name, wrapper):
    """mmengine merges the child's optim_wrapper into the zoo's: the
    optimizer, paramwise_cfg and clip_grad stay, and no other key moves."""
    base, switched = parsed(name), parsed(name, wrapper)
    keys = base.keys() | switched.keys()
    assert {k for k in keys if base.get(k) != switched.get(k)} == \
        {'optim_wrapper'}
    expected = copy.deepcopy(base.optim_wrapper.to_dict())
    expected.update(type=wrapper, rho=0.05)
    assert switched.optim_wrapper.to_dict() == expected


# ------------------------------------------------------------ new configs ---
NEW_CONFIGS = [
    ('mmseg', 'segformer_mit-b0_8xb2-160k_ade20k-512x512', 'adamw',
     'segformer'),
    ('mmpose', 'rtmpose-t_8xb256-420e_coco-256x192', 'adamw', 'rtmpose'),
]


@pytest.mark.parametrize('folder,stem,baseline,name', NEW_CONFIGS)
def test_new_configs_are_the_two_key_deltas(folder, stem, baseline, name):
    path = functools.partial(osp.join, CONFIGS, folder)
    base = Config.fromfile(path(f'{stem}_{baseline}.py'))
    zoo = parsed(name)  # the zoo config + custom_imports
    assert base.to_dict() == zoo.to_dict()
    for suffix, wrapper in (('sam', 'SAMOptimWrapper'),
                            ('arsam', 'ARSAMOptimWrapper')):
        cfg = Config.fromfile(path(f'{stem}_{suffix}.py'))
        keys = base.keys() | cfg.keys()
        assert {k for k in keys if base.get(k) != cfg.get(k)} == \
            {'optim_wrapper'}, suffix
        delta = {
            k: v
            for k, v in cfg.optim_wrapper.items()
            if base.optim_wrapper.get(k) != v
        }
        assert delta.pop('type') == wrapper
        assert delta.pop('rho') == 0.05
        assert delta in ({}, {'warmup_ratio': 0.015})
        assert 'custom_hooks' not in cfg or \
            cfg.custom_hooks == base.custom_hooks


@pytest.mark.parametrize('folder,stem,baseline,name', NEW_CONFIGS)
def test_new_configs_build(folder, stem, baseline, name):
    """Model and optimizer wrapper build (no weights: init is not run)."""
    scope = ZOO[name][0]
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry')
    for suffix in (baseline, 'sam', 'arsam'):
        cfg = Config.fromfile(osp.join(CONFIGS, folder,
                                       f'{stem}_{suffix}.py'))
        model = registry.MODELS.build(cfg.model)
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        assert type(wrapper.optimizer).__name__ == 'AdamW'


# ------------------------------------------------------ what --smoke does ---
def test_smoke_shrinks_rtmpose_consistently(smoke_data):
    """SimCC's input size and the head's feature-map size shrink by the
    same factor (2: 192/4 is no multiple of 32), in the model, the codec,
    every pipeline and the PipelineSwitchHook's stage-2 pipeline; the
    transforms, optimizer, schedulers and hooks are untouched."""
    cfg = parsed('rtmpose', 'ARSAMOptimWrapper')
    before = copy.deepcopy(cfg)
    apply_smoke(cfg, iters=2, data_dir=smoke_data)
    assert cfg.model.head.input_size == (96, 128)
    assert cfg.model.head.in_featuremap_size == (3, 4)
    assert cfg.model.head.decoder.input_size == (96, 128)
    hook = cfg.custom_hooks[0]
    assert _type(hook) == 'PipelineSwitchHook'
    assert hook.switch_epoch == before.custom_hooks[0].switch_epoch
    for pipeline in (cfg.train_dataloader.dataset.pipeline,
                     cfg.val_dataloader.dataset.pipeline,
                     hook.switch_pipeline):
        sizes = [t['input_size'] for t in pipeline if 'input_size' in t]
        assert sizes and set(sizes) == {(96, 128)}
    for old, new in ((before.train_dataloader.dataset.pipeline,
                      cfg.train_dataloader.dataset.pipeline),
                     (before.custom_hooks[0].switch_pipeline,
                      hook.switch_pipeline)):
        assert [_type(t) for t in old] == [_type(t) for t in new]
        albu = [t for t in new if _type(t) == 'Albumentation']
        assert albu == [t for t in old if _type(t) == 'Albumentation']
    for key in ('optim_wrapper', 'param_scheduler', 'randomness',
                'auto_scale_lr'):
        assert cfg.get(key) == before.get(key), key
    assert cfg.model.backbone.init_cfg is None
    assert cfg.train_cfg == dict(
        type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_dataloader.num_workers == 0
    assert not cfg.train_dataloader.persistent_workers
    assert _type(cfg.train_dataloader.sampler) == 'InfiniteSampler'
    root = osp.join(smoke_data, 'coco')
    assert cfg.train_dataloader.dataset.data_root == root
    assert cfg.val_evaluator.ann_file == osp.join(
        root, 'annotations', 'person_keypoints_val2017.json')
    if not torch.cuda.is_available():
        assert cfg.model.backbone.norm_cfg.type == 'BN'
    check_data_roots(cfg)


def test_smoke_on_fcn_shrinks_by_eight_and_drops_syncbn(smoke_data):
    cfg = parsed('fcn', 'SAMOptimWrapper')
    before = copy.deepcopy(cfg)
    changes = apply_smoke(cfg, iters=3, data_dir=smoke_data)
    assert cfg.model.pretrained is None
    assert cfg.model.data_preprocessor.size == (64, 128)
    train = cfg.train_dataloader.dataset.pipeline
    assert [t.get('scale') for t in train if _type(t) == 'RandomResize'] \
        == [(256, 128)]
    assert [t.get('crop_size') for t in train if _type(t) == 'RandomCrop'] \
        == [(64, 128)]
    assert train[2].ratio_range == before.train_dataloader.dataset.pipeline[
        2].ratio_range
    assert cfg.train_cfg.max_iters == 3
    assert cfg.optim_wrapper == before.optim_wrapper
    if not torch.cuda.is_available():
        assert cfg.model.backbone.norm_cfg.type == 'BN'
        assert any('SyncBN' in c for c in changes)
    assert any('divided by 8' in c for c in changes)
    check_data_roots(cfg)


def test_shrink_rules():
    """Exact sizes divide exactly and multiples of 32 stay so; resize
    scales round; floats and non-positive markers stay; ``stride`` shrinks
    only beside a ``crop_size`` and ``size`` only in a data preprocessor;
    a dict shared by two paths shrinks once."""
    shared = dict(type='Codec', input_size=(192, 256), heatmap_size=(48, 64))
    cfg = dict(
        codec=shared,
        head=dict(decoder=shared, in_featuremap_size=(6, 8)),
        pipeline=[
            dict(type='RandomChoiceResize', scales=[(600, 300), (900, 450)]),
            dict(type='Resize', scale=(-1, 513)),
            dict(type='RandomResizedCrop', scale=(0.08, 1.0)),
            dict(type='Whatever', size=(512, 512)),
        ],
        data_preprocessor=dict(type='SegDataPreProcessor', size=(512, 512)),
        test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
        backbone=dict(strides=(1, 2, 2, 2), stride=2))
    assert shrink_factor(cfg, 8) == 2
    f, changes = shrink_sizes(cfg, 8)
    assert f == 2
    assert shared['input_size'] == (96, 128)  # once, not twice
    assert shared['heatmap_size'] == (24, 32)
    assert cfg['head']['in_featuremap_size'] == (3, 4)
    assert cfg['pipeline'][0]['scales'] == [(300, 150), (450, 225)]
    assert cfg['pipeline'][1]['scale'] == (-1, 256)
    assert cfg['pipeline'][2]['scale'] == (0.08, 1.0)
    assert cfg['pipeline'][3]['size'] == (512, 512)
    assert cfg['data_preprocessor']['size'] == (256, 256)
    assert cfg['test_cfg'] == dict(
        mode='slide', crop_size=(256, 256), stride=(170, 170))
    assert cfg['backbone'] == dict(strides=(1, 2, 2, 2), stride=2)
    assert len(changes) == 8
    assert shrink_factor(dict(input_size=(32, 32)), 8) == 1
    with pytest.raises(ValueError, match='shrink'):
        shrink_factor(cfg, 0)


def test_remove_pretrained_and_sync_bn():
    cfg = dict(
        model=dict(
            pretrained='open-mmlab://resnet50_v1c',
            backbone=dict(
                norm_cfg=dict(type='SyncBN', requires_grad=True),
                init_cfg=[
                    dict(type='Kaiming', layer='Conv2d'),
                    dict(type='Pretrained', checkpoint='torchvision://x')
                ]),
            neck=dict(init_cfg=dict(type='Pretrained', checkpoint='y')),
            timm=dict(pretrained=True)),
        head=dict(norm_cfg=dict(type='mmdet.SyncBN')))
    assert len(remove_pretrained(cfg)) == 4
    model = cfg['model']
    assert model['pretrained'] is None
    assert model['backbone']['init_cfg'] == [
        dict(type='Kaiming', layer='Conv2d')
    ]
    assert model['neck']['init_cfg'] is None
    assert model['timm']['pretrained'] is False
    assert len(sync_bn_to_bn(cfg)) == 2
    assert model['backbone']['norm_cfg'] == dict(
        type='BN', requires_grad=True)
    assert cfg['head']['norm_cfg']['type'] == 'BN'


def test_smoke_bad_input_fails_before_training(tmp_path, smoke_data):
    cfg = parsed('segformer', 'ARSAMOptimWrapper')
    for kwargs, word in ((dict(iters=0), 'iters'), (dict(shrink=0), 'shrink'),
                         (dict(batch_size=-1), 'batch_size')):
        with pytest.raises(ValueError, match=word):
            apply_smoke(copy.deepcopy(cfg), data_dir=smoke_data, **kwargs)
    cfg.train_dataloader.dataset.type = 'PascalVOCDataset'
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(ValueError) as error:
        apply_smoke(cfg, data_dir=smoke_data)
    message = str(error.value)
    assert "'PascalVOCDataset' has no generated data" in message
    assert 'train_dataloader.dataset.data_root=DIR' in message
    cfg = parsed('rtmpose', 'SAMOptimWrapper')  # as if mmyolo's detection
    cfg.train_dataloader.dataset._scope_ = 'mmyolo'
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(ValueError, match="'CocoDataset' has no generated"):
        apply_smoke(cfg, data_dir=smoke_data)
    with pytest.raises(ValueError, match='generator'):
        smoke_data_root('voc', smoke_data)
    (tmp_path / 'file').write_text('')
    with pytest.raises(ValueError, match='data_dir'):
        smoke_data_root('coco', str(tmp_path / 'file'))
    tool = train_tool()
    for argv in (['c.py', '--smoke', '0'], ['c.py', '--smoke', 'x'],
                 ['c.py', '--smoke-shrink', '4']):
        with pytest.raises(SystemExit):
            tool.parse_args(argv)
    assert tool.parse_args(['c.py', '--smoke']).smoke == 3


def test_generated_smoke_data_is_cached(tmp_path):
    root = smoke_data_root('ade20k', str(tmp_path))
    assert root == str(tmp_path / 'ade20k')
    marker = tmp_path / 'ade20k' / 'marker'
    marker.write_text('')
    assert smoke_data_root('ade20k', str(tmp_path)) == root
    assert marker.exists()  # not regenerated
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ade20k']


def test_generated_ade20k_reads_as_ade20k(tmp_path):
    """mmseg's ADE20KDataset reads the generated layout; after its
    ``reduce_zero_label`` the labels are classes 0..18 and 255 (void)."""
    import numpy as np
    from mmseg.datasets import ADE20KDataset
    root = smoke_data_root('ade20k', str(tmp_path))
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=True)
    ]
    init_default_scope('mmseg')
    for split, count in (('training', 4), ('validation', 2)):
        dataset = ADE20KDataset(
            data_root=root,
            data_prefix=dict(
                img_path=f'images/{split}',
                seg_map_path=f'annotations/{split}'),
            pipeline=pipeline)
        assert len(dataset) == count
        sample = dataset[0]
        assert sample['img'].shape == (256, 320, 3)
        labels = set(np.unique(sample['gt_seg_map']).tolist())
        assert labels <= set(range(19)) | {255} and 0 in labels


def test_smoke_maps_mmdet_coco_to_detection_files(smoke_data):
    """mmdet's CocoDataset (default scope mmdet) reads the generated person
    data under the detection names, in its own folder (mmpose's cache has
    no ``instances_*`` files); ``CocoMetric``'s ann_file follows; the
    dataset builds with the zoo's filter and finds the persons' boxes."""
    from mmdet.datasets import CocoDataset
    cfg = parsed('retinanet', 'SAMOptimWrapper')
    apply_smoke(cfg, iters=2, data_dir=smoke_data)
    root = osp.join(smoke_data, 'coco_detection')
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.data_root == root
    assert cfg.val_evaluator.ann_file == osp.join(
        root, 'annotations', 'instances_val2017.json')
    assert cfg.train_dataloader.dataset.pipeline[2].scale == (167, 100)
    check_data_roots(cfg)
    missing = copy.deepcopy(cfg)
    missing.train_dataloader.dataset.ann_file = 'annotations/instances_x.json'
    with pytest.raises(FileNotFoundError,
                       match='generate_data.py coco --instances --out'):
        check_data_roots(missing)
    for name in ('train', 'val'):
        with open(osp.join(root, 'annotations',
                           f'instances_{name}2017.json')) as f:
            instances = f.read()
        with open(osp.join(root, 'annotations',
                           f'person_keypoints_{name}2017.json')) as f:
            assert f.read() == instances
    init_default_scope('mmdet')
    spec = copy.deepcopy(cfg.train_dataloader.dataset.to_dict())
    for key in ('type', '_scope_'):
        spec.pop(key, None)
    spec['pipeline'] = []
    dataset = CocoDataset(**spec)
    assert len(dataset) == 4
    info = dataset.get_data_info(0)
    assert info['instances'] and all(
        i['bbox_label'] == 0 for i in info['instances'])  # 'person'


def test_smoke_maps_imagenet_to_generated_folders(smoke_data):
    """mmpretrain's ImageNet (``split='train'``/``'val'``) reads the
    generated folders through the ``meta/`` lists; the crop shrinks by 7
    (224 is a multiple of 32 and 224/8 is not)."""
    import numpy as np
    from mmpretrain.datasets import ImageNet
    cfg = parsed('resnet50', 'ARSAMOptimWrapper')
    apply_smoke(cfg, iters=2, data_dir=smoke_data)
    root = osp.join(smoke_data, 'imagenet')
    assert cfg.train_dataloader.dataset.data_root == root
    assert cfg.train_dataloader.dataset.pipeline[1].scale == 32
    assert cfg.val_dataloader.dataset.pipeline[2].crop_size == 32
    check_data_roots(cfg)
    init_default_scope('mmpretrain')
    for split, count in (('train', 8), ('val', 4)):
        dataset = ImageNet(
            data_root=root,
            split=split,
            pipeline=[dict(type='LoadImageFromFile')])
        assert len(dataset) == count
        labels = [dataset.get_data_info(i)['gt_label'] for i in range(count)]
        assert sorted(labels) == sorted(np.arange(count) % 10)
        assert dataset[0]['img'].shape == (64, 64, 3)


# ------------------------------------------------------------ data check ---
def test_data_check_skips_the_unused_test_split(smoke_data):
    """Training reads train and val only: the zoo pose configs' test split
    names detection boxes the generated data lacks, which must not stop a
    training run; checking the test split explicitly still finds it."""
    cfg = parsed('simplebaseline', 'SAMOptimWrapper')
    apply_smoke(cfg, iters=1, data_dir=smoke_data)
    cfg.test_dataloader.dataset.bbox_file = 'nowhere/boxes.json'
    check_data_roots(cfg)
    with pytest.raises(FileNotFoundError, match='test_dataloader'):
        check_data_roots(cfg, splits=('train', 'val', 'test'))
    cfg.val_dataloader.dataset.bbox_file = 'nowhere/boxes.json'
    with pytest.raises(FileNotFoundError, match='val_dataloader'):
        check_data_roots(cfg)
    with pytest.raises(ValueError, match='splits'):
        check_data_roots(cfg, splits='train')


# ------------------------------------------------------------ end to end ---
CASES = [
    pytest.param('segformer', 'ARSAMOptimWrapper', id='segformer-arsam'),
    pytest.param('rtmpose', 'SAMOptimWrapper', id='rtmpose-sam'),
    pytest.param(
        'fcn', 'SAMOptimWrapper', id='fcn-sam', marks=pytest.mark.slow),
    pytest.param(
        'simplebaseline',
        'ARSAMOptimWrapper',
        id='simplebaseline-arsam',
        marks=pytest.mark.slow),
    pytest.param(
        'segformer',
        'SAMOptimWrapper',
        id='segformer-sam',
        marks=pytest.mark.slow),
    pytest.param(
        'rtmpose',
        'ARSAMOptimWrapper',
        id='rtmpose-arsam',
        marks=pytest.mark.slow),
    pytest.param(
        'resnet50',
        'ARSAMOptimWrapper',
        id='resnet50-arsam',
        marks=pytest.mark.slow),
    pytest.param(
        'retinanet', 'SAMOptimWrapper', id='retinanet-sam',
        marks=pytest.mark.slow),
]


@pytest.mark.parametrize('name,wrapper', CASES)
def test_zoo_config_switched_trains_with_smoke(name, wrapper, tmp_path,
                                               smoke_data):
    """``tools/train.py CHILD --smoke 2`` on the two-key child: the zoo's
    optimizer (type, defaults, every parameter group), param schedulers and
    hooks, and the SAM fields in the MessageHub."""
    smoke_and_check(name, wrapper, tmp_path, smoke_data)


@pytest.mark.slow
def test_two_stage_detector_smoke_needs_compiled_mmcv_ops(
        tmp_path, smoke_data):
    """mmdet's Faster R-CNN: its RPN runs NMS (and its RoI head RoIAlign)
    in every training step, compiled mmcv ops. With full mmcv it trains as
    the other zoo configs; with mmcv-lite (the pinned stack) the first step
    stops with the stand-in's error, which names the op and the fix."""
    from arsam_mm.compat import mmcv_ops_available
    if mmcv_ops_available():
        smoke_and_check('faster_rcnn', 'SAMOptimWrapper', tmp_path,
                        smoke_data)
        return
    with pytest.raises(RuntimeError) as error:
        smoke_and_check('faster_rcnn', 'SAMOptimWrapper', tmp_path,
                        smoke_data)
    message = str(error.value)
    assert message.startswith('mmcv op `nms` needs full mmcv with compiled')
    assert 'pip uninstall -y mmcv-lite' in message


def smoke_and_check(name, wrapper, tmp_path, smoke_data):
    """Run the two-key child of ``name`` with ``--smoke 2`` and check the
    optimizer, schedulers, hooks and SAM fields against the zoo config."""
    child = write_child(tmp_path, name, wrapper)
    run = f'zoo_{name}_{uuid.uuid4().hex[:8]}'
    runner = train_tool().main([
        child, '--smoke',
        str(ITERS), '--smoke-data', smoke_data, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', f'experiment_name={run}',
        f'visualizer.name={run}'
    ])
    assert runner.iter == ITERS
    zoo = parsed(name)

    # the optimizer: the zoo's, parameter group by parameter group
    wrapped = runner.optim_wrapper
    assert type(wrapped).__name__ == wrapper
    assert wrapped.rho == pytest.approx(0.05)
    reference = build_optim_wrapper(runner.model,
                                    copy.deepcopy(zoo.optim_wrapper))
    optimizer, expected = wrapped.optimizer, reference.optimizer
    assert type(optimizer) is type(expected)
    assert {k: v
            for k, v in optimizer.defaults.items()
            if k != 'rho'} == expected.defaults
    assert len(optimizer.param_groups) == len(expected.param_groups)
    for got, want in zip(optimizer.param_groups, expected.param_groups):
        assert [id(p) for p in got['params']] == \
            [id(p) for p in want['params']]
        assert set(got) - set(want) <= {'rho', 'initial_lr'}
        for key, value in want.items():
            if key == 'params':
                continue
            if key == 'lr':  # the schedulers moved lr; initial_lr is it
                key = 'initial_lr'
            assert got[key] == value, key
    assert wrapped.clip_grad_kwargs == reference.clip_grad_kwargs
    if name == 'segformer':  # paramwise_cfg reached the groups
        lrs = sorted({g['initial_lr'] for g in optimizer.param_groups})
        assert lrs == pytest.approx([6e-5, 6e-4])
        assert {g['weight_decay'] for g in optimizer.param_groups} == \
            {0.0, 0.01}

    # schedulers and hooks: the zoo's, nothing added
    schedulers = zoo.param_scheduler  # a dict or a list of them
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    assert [type(s).__name__ for s in runner.param_schedulers] == \
        [_type(s) for s in schedulers]
    hooks = [type(h).__name__ for h in runner.hooks]
    for hook in list(zoo.default_hooks.values()) + \
            list(zoo.get('custom_hooks', [])):
        assert _type(hook) in hooks
    assert 'ARSAMHook' not in hooks
    if name == 'rtmpose':
        assert 'PipelineSwitchHook' in hooks
    elif ZOO[name][0] == 'mmpose':
        assert 'SyncBuffersHook' in hooks

    # the SAM fields, written by the wrapper itself
    scalars = runner.message_hub.log_scalars
    fields = SAM_FIELDS + (('train/sam_count', )
                           if wrapper == 'ARSAMOptimWrapper' else ())
    assert set(fields) <= set(scalars), sorted(scalars)
    assert scalars['train/rho'].current() == pytest.approx(0.05)
    if wrapper == 'SAMOptimWrapper':
        assert scalars['train/grad_evals'].current() == 2 * ITERS
        assert scalars['train/sam_fraction'].current() == 1.0
    else:
        assert ITERS <= scalars['train/grad_evals'].current() <= 2 * ITERS


# ------------------------------------------------------ fp16 zoo configs ---
FP16_CASES = [(name, wrapper) for name in sorted(FP16)
              for wrapper in ('SAMOptimWrapper', 'ARSAMOptimWrapper')]


def _amp_warning(wrapper):
    return (logging.WARNING,
            f"{wrapper} got AmpOptimWrapper's argument 'loss_scale' (an fp16 "
            'config switched by its type?): building its AMP twin '
            f'Amp{wrapper} instead')


@pytest.mark.parametrize('name,wrapper', FP16_CASES)
def test_fp16_zoo_config_switched_builds_the_amp_twin(name, wrapper,
                                                      cpu_amp, logged):
    """The merged optim_wrapper keeps the zoo's ``loss_scale``; building
    it gives ``Amp<wrapper>`` with the zoo's scale and optimizer, and a
    warning naming both types and the argument (``AmpOptimWrapper``'s GPU
    assertion is lifted on a CPU)."""
    cfg = parsed(name, wrapper)
    zoo = parsed(name)
    assert _type(zoo.optim_wrapper) == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.type == wrapper
    assert cfg.optim_wrapper.loss_scale == zoo.optim_wrapper.loss_scale
    init_default_scope(ZOO[name][0])
    with logged() as lines:
        built = build_optim_wrapper(torch.nn.Linear(3, 2), cfg.optim_wrapper)
    assert type(built).__name__ == f'Amp{wrapper}'
    assert isinstance(built, AmpOptimWrapper)
    assert built.rho == pytest.approx(0.05)
    assert built.loss_scaler.get_scale() == FP16[name]
    assert type(built.optimizer).__name__ == zoo.optim_wrapper.optimizer.type
    assert _amp_warning(wrapper) in lines


@pytest.mark.parametrize('name', sorted(FP16))
def test_smoke_on_a_cpu_turns_fp16_into_fp32(name, smoke_data,
                                             monkeypatch, logged):
    """Without CUDA ``--smoke`` drops ``loss_scale`` from the switched
    config (which then builds the fp32 wrapper, no warning) and turns the
    zoo's own ``AmpOptimWrapper`` into ``OptimWrapper``; with CUDA it keeps
    them."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    scale = parsed(name).optim_wrapper.loss_scale
    cfg = parsed(name, 'ARSAMOptimWrapper')
    changes = apply_smoke(cfg, iters=1, data_dir=smoke_data)
    assert f'optim_wrapper.loss_scale: {scale!r} removed (fp32)' in changes
    assert 'loss_scale' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.type == 'ARSAMOptimWrapper'
    init_default_scope(ZOO[name][0])
    with logged() as lines:
        built = build_optim_wrapper(torch.nn.Linear(3, 2), cfg.optim_wrapper)
    assert type(built).__name__ == 'ARSAMOptimWrapper'
    assert not [line for line in lines if 'AMP twin' in line[1]]

    zoo = Config.fromfile(zoo_file(name))
    changes = apply_smoke(zoo, iters=1, data_dir=smoke_data)
    assert "optim_wrapper.type: 'AmpOptimWrapper' -> 'OptimWrapper' (AMP " \
        'needs a GPU: fp32)' in changes
    assert zoo.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in zoo.optim_wrapper

    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = parsed(name, 'ARSAMOptimWrapper')
    before = copy.deepcopy(cfg.optim_wrapper)
    apply_smoke(cfg, iters=1, data_dir=smoke_data)
    assert cfg.optim_wrapper == before


def test_amp_to_fp32_maps_every_twin_back():
    from arsam_mm.engine.optim_wrappers import AMP_TWINS
    for plain, amp in AMP_TWINS.items():
        cfg = dict(optim_wrapper=dict(
            type=amp, loss_scale=512., dtype='float16', use_fsdp=False,
            optimizer=dict(type='SGD', lr=0.1)))
        assert amp_to_fp32(cfg) == [
            f'optim_wrapper.type: {amp!r} -> {plain!r} (AMP needs a GPU: '
            'fp32)', "optim_wrapper.loss_scale: 512.0 removed (fp32)",
            "optim_wrapper.dtype: 'float16' removed (fp32)",
            'optim_wrapper.use_fsdp: False removed (fp32)'
        ]
        assert cfg['optim_wrapper'] == dict(
            type=plain, optimizer=dict(type='SGD', lr=0.1))
        assert amp_to_fp32(cfg) == []
    assert amp_to_fp32(dict(model=dict())) == []


class _Stub:
    """Runner.from_cfg's stand-in: keeps the config, trains nothing."""
    cfg = None

    @classmethod
    def from_cfg(cls, cfg):
        cls.cfg = cfg
        return cls()

    def train(self):
        pass


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU behaviour')
@pytest.mark.parametrize('name,wrapper,amp', [
    ('hrnet_fp16', 'ARSAMOptimWrapper', False),
    ('rtmpose', 'SAMOptimWrapper', True),
])
def test_train_tool_smoke_on_a_cpu_is_fp32(name, wrapper, amp, tmp_path,
                                           smoke_data, monkeypatch, logged):
    """``tools/train.py CHILD --smoke`` on a CPU hands the Runner the fp32
    wrapper: for a switched fp16 config, and with ``--amp`` (which comes
    after ``--smoke``'s changes) too."""
    tool = train_tool()
    monkeypatch.setattr(tool, 'Runner', _Stub)
    child = write_child(tmp_path, name, wrapper)
    with logged() as lines:
        tool.main([child, '--smoke', '1', '--smoke-data', smoke_data,
                   '--work-dir', str(tmp_path / 'work')] +
                  (['--amp'] if amp else []))
    ow = _Stub.cfg.optim_wrapper
    assert ow.type == wrapper
    assert not set(ow) & {'loss_scale', 'dtype', 'use_fsdp'}
    text = '\n'.join(message for _, message in lines)
    if amp:
        assert "--smoke --amp without CUDA: optim_wrapper.type: " \
            f"'Amp{wrapper}' -> '{wrapper}' (AMP needs a GPU: fp32); " \
            "optim_wrapper.loss_scale: 'dynamic' removed (fp32)" in text
    else:
        assert "optim_wrapper.loss_scale: 'dynamic' removed (fp32)" in text


@pytest.mark.slow
def test_fp16_zoo_config_switched_trains_with_smoke(tmp_path, smoke_data,
                                                    logged):
    """``tools/train.py CHILD --smoke 2`` on mmpose's HRNet-w32 fp16
    config switched to ARSAM: on a CPU the fp32 ARSAM trains (the change
    logged), on a GPU its Amp twin (about 70 s of CPU time)."""
    child = write_child(tmp_path, 'hrnet_fp16', 'ARSAMOptimWrapper')
    run = f'zoo_fp16_{uuid.uuid4().hex[:8]}'
    with logged() as lines:
        runner = train_tool().main([
            child, '--smoke',
            str(ITERS), '--smoke-data', smoke_data, '--work-dir',
            str(tmp_path / 'work'), '--cfg-options',
            f'experiment_name={run}', f'visualizer.name={run}'
        ])
    assert runner.iter == ITERS
    text = '\n'.join(message for _, message in lines)
    if torch.cuda.is_available():
        assert type(runner.optim_wrapper).__name__ == 'AmpARSAMOptimWrapper'
        assert _amp_warning('ARSAMOptimWrapper') in lines
    else:
        assert type(runner.optim_wrapper).__name__ == 'ARSAMOptimWrapper'
        assert "optim_wrapper.loss_scale: 'dynamic' removed (fp32)" in text
    scalars = runner.message_hub.log_scalars
    assert set(SAM_FIELDS) <= set(scalars)
    assert ITERS <= scalars['train/grad_evals'].current() <= 2 * ITERS


# ------------------------------------------------- several CPU processes ---
def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


CPU_GLOO = pytest.mark.skipif(
    torch.cuda.is_available() or not torch.distributed.is_available()
    or not torch.distributed.is_gloo_available(),
    reason='CPU-only machine with gloo')


@CPU_GLOO
def test_cpu_launch_turns_syncbn_into_bn(monkeypatch):
    """``--launcher pytorch`` without CUDA: SyncBN cannot run, so it
    becomes BN, with a warning that names each place."""
    from arsam_mm.cfgtools.train import init_cpu_distributed
    cfg = parsed('segformer', 'SAMOptimWrapper')
    cfg.launcher = 'pytorch'
    env = dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
               MASTER_ADDR='127.0.0.1', MASTER_PORT=str(_free_port()))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        with pytest.warns(UserWarning, match='SyncBN') as record:
            init_cpu_distributed(cfg)
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    assert cfg.model.decode_head.norm_cfg.type == 'BN'
    assert any('model.decode_head.norm_cfg.type' in str(w.message)
               for w in record)


@CPU_GLOO
@pytest.mark.slow
def test_two_cpu_processes_smoke(tmp_path, smoke_data):
    """``torchrun --nproc_per_node 2 tools/train.py CHILD --smoke 2
    --launcher pytorch`` on mmseg's SegFormer (SyncBN, nccl in the zoo
    config) switched to ARSAM: both ranks train and validate."""
    child = write_child(tmp_path, 'segformer', 'ARSAMOptimWrapper')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '2', '--master_port',
        str(_free_port()), TRAIN_PY, child, '--smoke', '2', '--smoke-data',
        str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / 'work'), '--launcher', 'pytorch'
    ],
                            cwd=ROOT,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert 'Iter(train) [2/2]' in output
    assert 'Distributed training: True' in output
    assert 'mIoU' in output


# ------------------------------------------- the benchmark on zoo configs ---
def zoo_file(name):
    """The model-zoo config file itself, as the installed package ships
    it."""
    from mmengine.utils import get_installed_path
    scope, rel = ZOO[name][1].split('::')
    return osp.join(get_installed_path(scope), '.mim', 'configs', rel)


@pytest.mark.parametrize('name', sorted(ZOO))
def test_benchmark_variants_keep_the_zoo_optimizer(name):
    """``tools/benchmark.py``'s variants of a zoo config: each member of the
    family at a budget changes the wrapper type and adds its own arguments;
    the zoo's optimizer, ``paramwise_cfg``, ``clip_grad`` and every other
    key stay."""
    from arsam_mm.benchmark.variants import BUDGETED, OPTIMIZERS, make_variant
    zoo = Config.fromfile(zoo_file(name))
    for optimizer in OPTIMIZERS:
        variant = make_variant(zoo, optimizer, rho=0.05,
                               budget=0.3 if optimizer in BUDGETED else None)
        keys = zoo.keys() | variant.keys()
        assert {k for k in keys if zoo.get(k) != variant.get(k)} <= \
            {'optim_wrapper', 'custom_imports'}, optimizer
        assert 'arsam_mm' in variant.custom_imports.imports
        for key, value in zoo.optim_wrapper.items():
            if key != 'type':
                assert variant.optim_wrapper[key] == value, (optimizer, key)
        if optimizer != 'base':
            assert variant.optim_wrapper.type != zoo.optim_wrapper.get(
                'type', 'OptimWrapper')
            assert variant.optim_wrapper.rho == 0.05


@pytest.mark.parametrize('name', [
    'segformer',
    pytest.param('rtmpose', marks=pytest.mark.slow),
])
def test_benchmark_smoke_runs_the_family_on_a_zoo_config(name, tmp_path,
                                                         smoke_data):
    """``tools/benchmark.py ZOO_CONFIG --smoke --iters 2 --budgets 0.5`` on
    the file the installed package ships: every run trains on generated
    data, validates with the zoo's metric, and the step costs are measured
    on the zoo's model; the settings record the shrink."""
    out = tmp_path / 'bench'
    result = subprocess.run([
        sys.executable, 'tools/benchmark.py', zoo_file(name), '--smoke',
        '--smoke-data', smoke_data, '--iters', '2', '--optimizers', 'base',
        'arsam', 'looksam', '--budgets', '0.5', '--repeats', '1', '--evals',
        '1', '--cost-rounds', '1', '--jobs', '2', '--work-dir', str(out)
    ], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    saved = json.loads((out / 'records.json').read_text())
    assert saved['settings']['smoke'] == smoke_data
    task = osp.splitext(osp.basename(zoo_file(name)))[0]
    runs = {(r['optimizer'], r['budget']): r for r in saved['records']}
    assert set(runs) == {('base', None), ('arsam', 0.5), ('looksam', 0.5)}
    metric = 'mIoU' if ZOO[name][0] == 'mmseg' else 'coco/AP'
    for record in runs.values():
        assert record['task'] == task
        assert metric in record['result']['evals'][-1]['metrics']
        assert len(record['result']['grad_evals']) == 2
    assert runs[('base', None)]['result']['grad_evals'][-1] == 2
    assert saved['step_costs'][task]['samples']['base'] >= 2
    assert 'One seed per method' in (out / 'report.md').read_text()


def test_benchmark_smoke_needs_iters(tmp_path):
    for args, message in ((['--smoke'], '--smoke needs --iters'),
                          (['--smoke-data', 'x', '--iters', '2'],
                           '--smoke-data only applies with --smoke')):
        result = subprocess.run(
            [sys.executable, 'tools/benchmark.py', zoo_file('segformer'),
             *args, '--work-dir', str(tmp_path)], cwd=ROOT,
            capture_output=True, text=True)
        assert result.returncode == 2 and message in result.stderr
