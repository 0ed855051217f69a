"""Segmentation and pose configs end to end (``configs/mmseg``,
``configs/mmpose``).

* Every real variant loads and builds its model, optimizer wrapper, param
  schedulers and hooks (no weights are downloaded: ``init_weights`` is never
  called).
* A SAM/ARSAM variant differs from its baseline only in ``optim_wrapper``
  (the two-key switch: ``custom_imports`` and the wrapper type), wraps the
  same optimizer and keeps the zoo's hooks; a quick variant differs from its
  real variant only in what it shrinks.
* Quick variants train on generated data through ``tools/train.py``'s code
  path (``merge_train_args``, ``check_data_roots``, ``Runner.from_cfg``),
  validate with the real metric, checkpoint, and resume. One case per task
  runs by default, the others with ``--runslow``; so does the two-process
  ``torchrun`` launch.
"""
import argparse
import copy
import functools
import importlib.util
import json
import math
import os
import os.path as osp
import socket
import subprocess
import sys
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import HOOKS, PARAM_SCHEDULERS, init_default_scope
from mmengine.runner import Runner

import arsam_mm  # noqa: F401  (compat layer before mmseg/mmpose models)
from arsam_mm.cfgtools.data_roots import check_data_roots
from arsam_mm.cfgtools.train import init_cpu_distributed, merge_train_args
from arsam_mm.data import write_cityscapes, write_coco_keypoints

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'configs')
TRAIN_PY = osp.join(ROOT, 'tools', 'train.py')

# (task, real config name, quick config name, baseline suffix)
FAMILIES = [
    ('seg', 'fcn_r50-d8_4xb2-40k_cityscapes-512x1024',
     'fcn_r18-d8_1xb2-20iter_cityscapes-128x128', 'sgd'),
    ('seg', 'pspnet_r50-d8_4xb2-40k_cityscapes-512x1024',
     'pspnet_r18-d8_1xb2-20iter_cityscapes-128x128', 'sgd'),
    ('seg', 'deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512',
     'deeplabv3plus_r18-d8_1xb2-20iter_cityscapes-128x128', 'sgd'),
    ('pose', 'td-hm_res50_8xb64-210e_coco-256x192',
     'td-hm_res18_1xb4-20iter_coco-128x96', 'adam'),
    ('pose', 'td-hm_hrnet-w32_8xb64-210e_coco-256x192',
     'td-hm_hrnet-w16_1xb4-20iter_coco-128x96', 'adam'),
    ('pose', 'simcc_res50_8xb64-210e_coco-256x192',
     'simcc_res18_1xb4-20iter_coco-128x96', 'adam'),
]
FOLDER = dict(seg='mmseg', pose='mmpose')
SCOPE = dict(seg='mmseg', pose='mmpose')
WRAPPER = dict(sam='SAMOptimWrapper', arsam='ARSAMOptimWrapper')
#: Keys a SAM/ARSAM variant may change relative to its baseline: the switch
#: is the optimizer wrapper alone (custom_imports is the baseline's too).
OPTIMIZER_KEYS = {'optim_wrapper'}
#: The wrapper arguments each variant adds (quick ARSAM: sized for its run).
VARIANT_ARGS = dict(
    sam=dict(rho=0.05),
    arsam=dict(rho=0.05, warmup_ratio=0.015),
    quick_arsam=dict(rho=0.05, warmup_ratio=None, warmup_iters=4, window=4))
#: Keys a quick variant may change relative to its real variant.
QUICK_KEYS = {
    'quick', 'model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'default_hooks', 'val_evaluator', 'test_evaluator',
    'param_scheduler', 'log_processor'
}
#: The one end-to-end case per task that runs without --runslow.
FAST_E2E = {
    ('fcn_r18-d8_1xb2-20iter_cityscapes-128x128', 'arsam'),
    ('td-hm_res18_1xb4-20iter_coco-128x96', 'arsam'),
}


def config_path(task, name, opt, quick=False):
    folder = osp.join(CONFIGS, FOLDER[task], 'quick' if quick else '')
    return osp.join(folder, f'{name}_{opt}.py')


def family_id(family):
    return family[1].split('_8xb')[0].split('_4xb')[0].replace('_', '-')


def quick_id(family):
    return family[2].split('_1xb')[0].replace('_', '-')


@functools.lru_cache(maxsize=None)
def _load(path):
    return Config.fromfile(path)


def load(path):
    """A private copy of the parsed config (parsing ``mmpose::`` bases is
    slow, so each file is parsed once)."""
    return copy.deepcopy(_load(path))


def strip_scope(obj):
    """``obj`` without the ``_scope_`` keys mmengine adds to base values."""
    if isinstance(obj, dict):
        return {k: strip_scope(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return type(obj)(strip_scope(v) for v in obj)
    return obj


def changed_keys(a, b):
    missing = object()
    return {k for k in a.keys() | b.keys() if a.get(k, missing) != b.get(
        k, missing)}


def contains(obj, value):
    if isinstance(obj, dict):
        return any(contains(v, value) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(contains(v, value) for v in obj)
    return obj == value


def registry(task):
    if task == 'seg':
        from mmseg.registry import MODELS
    else:
        from mmpose.registry import MODELS
    return MODELS


# --------------------------------------------------------------- files ---
#: Configs beside FAMILIES: the transformer / flagship zoo models
#: (tests/test_zoo_switch.py) and the efficient-SAM family on one model per
#: task (tests/test_family_configs.py).
EXTRA_CONFIGS = dict(
    seg=[('segformer_mit-b0_8xb2-160k_ade20k-512x512',
          ('adamw', 'sam', 'arsam')),
         ('fcn_r50-d8_4xb2-40k_cityscapes-512x1024',
          ('looksam', 'aesam', 'randomsam', 'gsam', 'latesam')),
         ('segformer_mit-b5_8xb2-160k_ade20k-640x640', ('arsam_fsdp', ))],
    pose=[('rtmpose-t_8xb256-420e_coco-256x192', ('adamw', 'sam', 'arsam')),
          ('td-hm_res50_8xb64-210e_coco-256x192',
           ('looksam', 'aesam', 'randomsam', 'gsam', 'latesam'))])


def test_config_files():
    """All variants live side by side, named <model-zoo name>_<optimizer>."""
    for task in ('seg', 'pose'):
        expected, expected_quick = set(), set()
        for t, real, quick, base in FAMILIES:
            if t == task:
                for opt in (base, 'sam', 'arsam'):
                    expected.add(f'{real}_{opt}.py')
                    expected_quick.add(f'{quick}_{opt}.py')
        for name, opts in EXTRA_CONFIGS[task]:
            expected.update(f'{name}_{opt}.py' for opt in opts)
        folder = osp.join(CONFIGS, FOLDER[task])
        found = {f for f in os.listdir(folder) if f.endswith('.py')}
        found_quick = {
            f
            for f in os.listdir(osp.join(folder, 'quick')) if f.endswith('.py')
        }
        assert found == expected
        assert found_quick == expected_quick
    assert osp.isfile(osp.join(CONFIGS, 'README.md'))


# --------------------------------------------------------- real configs ---
def test_sharded_config_builds():
    """The FSDP example (SegFormer-B5): FlexibleRunner, SAMFSDPStrategy
    with use_orig_params, and ARSAM around the zoo's AdamW, built on the
    B5 model (the strategy itself needs a process group)."""
    from mmengine.registry import STRATEGIES

    from arsam_mm import SAMFSDPStrategy
    cfg = load(config_path(
        'seg', 'segformer_mit-b5_8xb2-160k_ade20k-640x640', 'arsam_fsdp'))
    assert cfg.runner_type == 'FlexibleRunner'
    assert STRATEGIES.get(cfg.strategy.type) is SAMFSDPStrategy
    assert cfg.strategy.model_wrapper.use_orig_params is True
    assert cfg.custom_imports.imports == ['arsam_mm']
    init_default_scope('mmseg')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pretrained = None
    model_cfg.backbone.init_cfg = None
    model = registry('seg').build(model_cfg)
    assert model.backbone.num_layers == [3, 6, 40, 3]  # B5
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'ARSAMOptimWrapper'
    assert type(wrapper.optimizer).__name__ == 'AdamW'
    assert wrapper.optimizer.param_groups[0]['rho'] == 0.05
    assert wrapper.get_lr()['lr'][0] == cfg.optim_wrapper.optimizer.lr


@pytest.mark.parametrize('family', FAMILIES, ids=family_id)
def test_real_configs_build(family):
    """Model, optimizer wrapper, param schedulers and hooks of the three
    real variants (one model build: the variants' models are identical)."""
    task, real, _, base = family
    cfgs = {
        opt: load(config_path(task, real, opt))
        for opt in (base, 'sam', 'arsam')
    }
    for opt, cfg in cfgs.items():
        assert cfg.default_scope == SCOPE[task]
        assert cfg.custom_imports.imports == ['arsam_mm']
        assert cfg.model == cfgs[base].model, opt
    init_default_scope(SCOPE[task])
    model_cfg = copy.deepcopy(cfgs[base].model)
    if 'pretrained' in model_cfg:
        model_cfg.pretrained = None
    model_cfg.backbone.init_cfg = None
    model = registry(task).build(model_cfg)
    optimizer_type = cfgs[base].optim_wrapper.optimizer.type
    for opt, cfg in cfgs.items():
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        assert type(wrapper).__name__ == \
            WRAPPER.get(opt, 'OptimWrapper'), opt
        assert type(wrapper.optimizer).__name__ == optimizer_type
        assert wrapper.get_lr()['lr'][0] == cfg.optim_wrapper.optimizer.lr
        if opt != base:
            assert wrapper.optimizer.param_groups[0]['rho'] == 0.05
        schedulers = [
            PARAM_SCHEDULERS.build(s, default_args=dict(optimizer=wrapper))
            for s in cfg.param_scheduler
        ]
        assert len(schedulers) == len(cfg.param_scheduler) > 0
        for hook in cfg.get('custom_hooks', None) or []:
            HOOKS.build(copy.deepcopy(hook))


@pytest.mark.parametrize('quick', [False, True], ids=['real', 'quick'])
@pytest.mark.parametrize('opt', ['sam', 'arsam'])
@pytest.mark.parametrize('family', FAMILIES, ids=family_id)
def test_variant_changes_only_the_optimizer(family, opt, quick):
    task, real, quick_name, base = family
    name = quick_name if quick else real
    baseline = load(config_path(task, name, base, quick)).to_dict()
    variant = load(config_path(task, name, opt, quick)).to_dict()
    assert changed_keys(baseline, variant) <= OPTIMIZER_KEYS
    assert variant['custom_imports'] == baseline['custom_imports']
    # The baseline's optimizer and every other wrapper argument are kept.
    assert variant['optim_wrapper']['optimizer'] == \
        baseline['optim_wrapper']['optimizer']
    for key, value in baseline['optim_wrapper'].items():
        if key != 'type':
            assert variant['optim_wrapper'][key] == value, key
    assert variant['optim_wrapper']['type'] == WRAPPER[opt]
    # The variant's own wrapper arguments; the zoo's hooks are all kept.
    own = {
        k: v
        for k, v in strip_scope(variant['optim_wrapper']).items()
        if k != 'type' and k not in baseline['optim_wrapper']
    }
    key = 'quick_arsam' if quick and opt == 'arsam' else opt
    assert own == VARIANT_ARGS[key]
    assert strip_scope(variant.get('custom_hooks', [])) == \
        strip_scope(baseline.get('custom_hooks', []))


@pytest.mark.parametrize('opt', ['base', 'sam', 'arsam'])
@pytest.mark.parametrize('family', FAMILIES, ids=family_id)
def test_quick_config_is_the_real_one_shrunk(family, opt):
    task, real, quick, base = family
    opt = base if opt == 'base' else opt
    real_cfg = load(config_path(task, real, opt)).to_dict()
    cfg = load(config_path(task, quick, opt, quick=True))
    changed = changed_keys(real_cfg, cfg.to_dict())
    allowed = QUICK_KEYS | ({'optim_wrapper'} if opt == 'arsam' else set())
    assert changed <= allowed
    # Offline, single process, short.
    assert not contains(cfg.model, 'SyncBN')
    assert cfg.model.get('pretrained', None) is None
    assert cfg.model.backbone.init_cfg is None
    if task == 'seg':
        assert cfg.model.backbone.depth == 18
    loop = cfg.train_cfg
    assert loop.type == 'IterBasedTrainLoop'
    assert loop.val_interval == loop.max_iters <= 20
    assert cfg.default_hooks.checkpoint.interval == loop.max_iters
    assert cfg.default_hooks.checkpoint.by_epoch is False
    assert cfg.default_hooks.logger.interval <= 5
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert 2 <= cfg.train_dataloader.batch_size <= 4
    data = 'data/quick/' + ('cityscapes' if task == 'seg' else 'coco')
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        assert loader.num_workers == 0
        assert loader.persistent_workers is False
        assert loader.dataset.data_root.rstrip('/') == data
    if task == 'pose':  # epoch-based in the real configs
        assert cfg.log_processor.by_epoch is False
        assert cfg.default_hooks.logger.log_metric_by_epoch is False
        for split in ('val', 'test'):
            assert cfg[f'{split}_dataloader'].dataset.bbox_file is None
            assert cfg[f'{split}_evaluator'].ann_file.startswith(data)
    if opt == 'arsam':
        assert cfg.optim_wrapper.warmup_iters < loop.max_iters
        assert cfg.optim_wrapper.window < loop.max_iters
        hooks = [h.type for h in cfg.get('custom_hooks', None) or []]
        assert 'ARSAMHook' not in hooks  # the wrapper logs by itself


# ---------------------------------------------------------------- data ---
@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """Small generated data sets: {'seg': root, 'pose': root}."""
    root = tmp_path_factory.mktemp('downstream_data')
    seg, pose = str(root / 'cityscapes'), str(root / 'coco')
    write_cityscapes(seg, num_train=4, num_val=2)
    write_coco_keypoints(pose, num_train=4, num_val=2)
    return dict(seg=seg, pose=pose)


def data_options(task, root):
    """--cfg-options that point a quick config at ``root``."""
    opts = {
        f'{split}_dataloader.dataset.data_root': root
        for split in ('train', 'val', 'test')
    }
    if task == 'pose':
        ann = osp.join(root, 'annotations', 'person_keypoints_val2017.json')
        opts.update({
            'val_evaluator.ann_file': ann,
            'test_evaluator.ann_file': ann
        })
    return opts


@pytest.mark.parametrize('family', FAMILIES, ids=quick_id)
def test_quick_models_compute_losses(family, data):
    """Each quick family: a batch through the real pipeline, the data
    preprocessor and the loss is finite (cheap shape check of every
    family; the end-to-end runs below cover one per task by default)."""
    task, _, quick, base = family
    cfg = load(config_path(task, quick, base, quick=True))
    cfg.merge_from_dict(data_options(task, data[task]))
    init_default_scope(SCOPE[task])
    if task == 'seg':
        from mmseg.registry import DATASETS
    else:
        from mmpose.registry import DATASETS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate(
        [dataset[i] for i in range(cfg.train_dataloader.batch_size)])
    torch.manual_seed(0)
    model = registry(task).build(cfg.model)
    model.train()
    batch = model.data_preprocessor(batch, True)
    losses = model(**batch, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss)
    loss.backward()


# ----------------------------------------------------------- training ---
def train(config, task, data_root, work_dir, max_iters, resume=False,
          extra=None):
    """What ``tools/train.py CONFIG --work-dir W [--resume] --cfg-options
    ...`` does, in this process; returns the Runner after training."""
    options = data_options(task, data_root)
    options['train_cfg.max_iters'] = max_iters
    options.update(extra or {})
    args = argparse.Namespace(
        config=config,
        work_dir=str(work_dir),
        resume='auto' if resume else None,
        amp=False,
        cfg_options=options,
        launcher='none')
    cfg = merge_train_args(Config.fromfile(config), args)
    check_data_roots(cfg)
    # MessageHub, logger and visualizer instances are global by name.
    name = f'downstream_{uuid.uuid4().hex[:12]}'
    cfg.experiment_name = name
    cfg.visualizer.name = name
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def scalars(runner):
    path = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


E2E_CASES = [
    pytest.param(
        (task, quick, opt),
        id=f'{quick.split("_")[0]}-{quick.split("_")[1]}-{opt}',
        marks=() if (quick, opt) in FAST_E2E else pytest.mark.slow)
    for task, _, quick, base in FAMILIES for opt in (base, 'sam', 'arsam')
]


@pytest.mark.parametrize('case', E2E_CASES)
def test_quick_train_validate_checkpoint_resume(case, data, tmp_path):
    task, quick, opt = case
    config = config_path(task, quick, opt, quick=True)
    extra = {}
    if opt == 'arsam':
        # 4 iterations: 1 warm-up SAM step, then windows of 2, so reuse
        # steps occur too.
        extra = {'optim_wrapper.warmup_iters': 1, 'optim_wrapper.window': 2}
    work_dir = tmp_path / 'work'
    runner = train(config, task, data[task], work_dir, 2, extra=extra)
    assert runner.iter == 2
    metric = 'mIoU' if task == 'seg' else 'coco/AP'
    value = runner.message_hub.get_scalar(f'val/{metric}').current()
    assert math.isfinite(value)
    logged = [s for s in scalars(runner) if metric in s]
    assert logged and logged[-1]['step'] == 2
    assert (work_dir / 'iter_2.pth').is_file()
    assert (work_dir / 'last_checkpoint').is_file()

    resumed = train(
        config, task, data[task], work_dir, 4, resume=True, extra=extra)
    assert resumed.iter == 4
    assert (work_dir / 'iter_4.pth').is_file()
    with open(osp.join(resumed.log_dir, f'{resumed.timestamp}.log')) as f:
        assert 'resumed epoch: 0, iter: 2' in f.read()
    value = resumed.message_hub.get_scalar(f'val/{metric}').current()
    assert math.isfinite(value)
    if opt != 'sgd' and opt != 'adam':
        sa = resumed.optim_wrapper.sharpness
        assert sa.iters == 4  # the wrapper's state came back too
        if opt == 'arsam':
            assert 0 < sa.sam_steps < 4
        else:
            assert sa.sam_steps == 4


# ------------------------------------------------------ tools/train.py ---
def _load_train_tool():
    spec = importlib.util.spec_from_file_location('_train_tool', TRAIN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_tool_builds_flexible_runner_for_sharded_config(tmp_path):
    """``tools/train.py`` builds the config's ``runner_type`` (the FSDP
    example's FlexibleRunner with SAMFSDPStrategy; nothing is trained)."""
    from mmengine.runner import FlexibleRunner

    from arsam_mm import SAMFSDPStrategy
    tool = _load_train_tool()
    cfg = load(config_path(
        'seg', 'segformer_mit-b5_8xb2-160k_ade20k-640x640', 'arsam_fsdp'))
    cfg.work_dir = str(tmp_path)
    runner = tool.build_runner(cfg)
    assert type(runner) is FlexibleRunner
    assert type(runner.strategy) is SAMFSDPStrategy


@pytest.mark.parametrize('task,generator', [('seg', 'cityscapes'),
                                            ('pose', 'coco')])
def test_missing_data_fails_before_training(task, generator, tmp_path,
                                            monkeypatch):
    family = next(f for f in FAMILIES if f[0] == task)
    config = config_path(task, family[2], family[3], quick=True)
    missing = str(tmp_path / 'nowhere')
    tool = _load_train_tool()

    def no_runner(*args, **kwargs):
        raise AssertionError('Runner built despite missing data')

    monkeypatch.setattr(tool.Runner, 'from_cfg', no_runner)
    monkeypatch.setattr(sys, 'argv', [
        TRAIN_PY, config, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        f'train_dataloader.dataset.data_root={missing}'
    ])
    with pytest.raises(FileNotFoundError) as error:
        tool.main()
    message = str(error.value)
    assert missing in message
    assert f'python tools/generate_data.py {generator} --out {missing}' \
        in message


def test_pose_detection_boxes_and_evaluator_annotations_checked(data):
    """The real pose configs read a detector's boxes and an evaluator
    annotation file: missing ones fail before training, saying what to
    set."""
    family = next(f for f in FAMILIES if f[0] == 'pose')
    cfg = load(config_path('pose', family[1], family[3]))
    cfg.merge_from_dict({
        f'{split}_dataloader.dataset.data_root': data['pose']
        for split in ('train', 'val', 'test')
    })
    with pytest.raises(FileNotFoundError, match='bbox_file=None'):
        check_data_roots(cfg)
    cfg.merge_from_dict({
        'val_dataloader.dataset.bbox_file': None,
        'test_dataloader.dataset.bbox_file': None
    })
    with pytest.raises(FileNotFoundError, match='val_evaluator.ann_file'):
        check_data_roots(cfg)
    cfg.merge_from_dict(data_options('pose', data['pose']))
    check_data_roots(cfg)


def test_train_tool_help():
    result = subprocess.run([sys.executable, TRAIN_PY, '--help'],
                            cwd=ROOT,
                            capture_output=True,
                            text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    for option in ('--work-dir', '--resume', '--amp', '--cfg-options',
                   '--launcher'):
        assert option in result.stdout


def test_train_tool_rejects_a_pair_without_equals_in_one_line():
    """``--cfg-options foo`` is one argparse error naming the option and the
    pair, not mmengine's traceback."""
    result = subprocess.run([
        sys.executable, TRAIN_PY, 'no_config_needed.py', '--cfg-options',
        'foo'
    ],
                            cwd=ROOT,
                            capture_output=True,
                            text=True,
                            timeout=120)
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "train.py: error: argument --cfg-options: expected KEY=VALUE pairs, "
        "got 'foo'")


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    torch.cuda.is_available() or not torch.distributed.is_available()
    or not torch.distributed.is_gloo_available(),
    reason='CPU-only machine with gloo')
def test_init_cpu_distributed(monkeypatch):
    """``--launcher pytorch`` without CUDA: the process group comes up with
    gloo (nccl replaced), and DDP gets ``device_ids=None``."""
    cfg = Config(
        dict(
            launcher='none',
            env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
    init_cpu_distributed(cfg)  # not distributed: nothing to do
    assert not torch.distributed.is_initialized()
    assert 'model_wrapper_cfg' not in cfg
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(_free_port()))
    cfg.launcher = 'pytorch'
    cfg.find_unused_parameters = True
    try:
        with pytest.warns(UserWarning, match='gloo'):
            init_cpu_distributed(cfg)
        assert torch.distributed.is_initialized()
        assert torch.distributed.get_backend() == 'gloo'
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=True,
        device_ids=None)


@pytest.mark.slow
@pytest.mark.skipif(
    not torch.distributed.is_available()
    or not torch.distributed.is_gloo_available(),
    reason='needs torch.distributed with gloo')
def test_torchrun_two_processes_cpu(data, tmp_path):
    """``--launcher pytorch`` on CPU: 2 processes, gloo, 3 iterations of
    the quick FCN ARSAM config, validation and a checkpoint."""
    config = config_path('seg',
                         'fcn_r18-d8_1xb2-20iter_cityscapes-128x128',
                         'arsam',
                         quick=True)
    work_dir = tmp_path / 'work'
    options = [f'{k}={v}' for k, v in data_options('seg', data['seg']).items()]
    command = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '2', '--master_addr', '127.0.0.1', '--master_port',
        str(_free_port()), TRAIN_PY, config, '--launcher', 'pytorch',
        '--work-dir',
        str(work_dir), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
        'train_cfg.max_iters=3', *options
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400)
    assert result.returncode == 0, result.stdout[-4000:] + \
        result.stderr[-4000:]
    assert (work_dir / 'iter_3.pth').is_file()
    logs = [
        osp.join(root, f) for root, _, files in os.walk(work_dir)
        for f in files if f.endswith('.log')
    ]
    assert len(logs) == 1  # rank 0 writes the log
    with open(logs[0]) as f:
        log = f.read()
    assert 'Distributed training: True' in log
    assert 'mIoU' in log.split('Iter(val)')[-1]
