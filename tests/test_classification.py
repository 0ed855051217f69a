"""Classification the OpenMMLab way: the CIFAR backbones, the configs of
``configs/classification`` and quick CPU training through ``tools/train.py``'s
path (``merge_train_args``, ``check_data_roots``, ``Runner.from_cfg``).
"""
import argparse
import copy
import functools
import os.path as osp
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope
from mmengine.runner import Runner

from arsam_mm import ARSAMOptimWrapper, SAMOptimWrapper
from arsam_mm.cfgtools.data_roots import check_data_roots
from arsam_mm.cfgtools.train import merge_train_args
from arsam_mm.data import write_cifar, write_digits

pytest.importorskip('mmpretrain', reason='needs mmpretrain (not installed)')
from mmpretrain.registry import DATASETS, MODELS  # noqa: E402

from arsam_mm.mmpretrain import PyramidNetCIFAR, WideResNetCIFAR  # noqa: E402
from arsam_mm.models.backbones.pyramidnet import \
    PyramidBasicBlock  # noqa: E402
from arsam_mm.models.backbones.wide_resnet import WideBasicBlock  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs' / 'classification'
MODEL_NAMES = ('resnet18', 'wide-resnet28-10', 'pyramidnet110-a270')
DATASETS_ = ('cifar10', 'cifar100')
VARIANTS = ('sgd', 'sam', 'arsam')
REAL = [f'{m}_1xb128_{d}' for m in MODEL_NAMES for d in DATASETS_]
QUICK = ('resnet18-w16_1xb16_cifar10', 'resnet18-w16_1xb16_digits')
# Keys a SAM/ARSAM config may change in its SGD baseline: the switch is the
# optimizer wrapper alone.
FRAGMENT_KEYS = {'optim_wrapper'}
# What a quick config may change in the real config it inherits.
SHRINK_KEYS = {
    'model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'param_scheduler', 'default_hooks', 'log_processor',
    'data_root', 'max_iters'
}
ARSAM_KEYS = {'type', 'rho', 'warmup_ratio'}


def real_config(name, variant):
    return CONFIGS / f'{name}_{variant}.py'


def quick_config(name, variant):
    return CONFIGS / 'quick' / f'{name}_{variant}.py'


@functools.lru_cache(maxsize=None)
def _load(path):
    return Config.fromfile(path)


def load(path):
    """``Config.fromfile``, parsed once per path (a copy each call)."""
    return copy.deepcopy(_load(str(path)))


def as_dict(cfg):
    return cfg.to_dict()


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------
# Backbones
# ---------------------------------------------------------------------------


def test_configs_register_models_and_datasets_through_custom_imports():
    """``import arsam_mm`` leaves mmpretrain alone; a classification config's
    ``custom_imports`` (``arsam_mm.mmpretrain``) registers the CIFAR
    backbones and the LocalCIFAR datasets. In a fresh interpreter."""
    config = quick_config(QUICK[1], 'arsam')
    code = ('import sys\n'
            'import arsam_mm\n'
            'assert "mmpretrain" not in sys.modules\n'
            'from mmpretrain.registry import DATASETS, MODELS\n'
            'names = ["WideResNetCIFAR", "PyramidNetCIFAR"]\n'
            'datasets = ["LocalCIFAR10", "LocalCIFAR100"]\n'
            'assert not any(MODELS.get(n) for n in names)\n'
            'assert not any(DATASETS.get(n) for n in datasets)\n'
            'from mmengine.config import Config\n'
            f'Config.fromfile({str(config)!r})\n'
            'import arsam_mm.mmpretrain as registered\n'
            'assert all(MODELS.get(n) is getattr(registered, n) '
            'for n in names)\n'
            'assert all(DATASETS.get(n) is getattr(registered, n) '
            'for n in datasets)\n')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=REPO)
    assert MODELS.get('WideResNetCIFAR') is WideResNetCIFAR
    assert MODELS.get('PyramidNetCIFAR') is PyramidNetCIFAR


@pytest.mark.parametrize('cls, kwargs, channels', [
    (WideResNetCIFAR, {}, 640),
    (WideResNetCIFAR, dict(depth=16, widen_factor=8), 512),
    (PyramidNetCIFAR, {}, 286),
    (PyramidNetCIFAR, dict(depth=272, alpha=200, bottleneck=True), 864),
])
def test_full_size_output_shapes(cls, kwargs, channels):
    with torch.device('meta'):
        net = cls(out_indices=(0, 1, 2), **kwargs)
        outs = net(torch.empty(2, 3, 32, 32))
    assert isinstance(outs, tuple) and len(outs) == 3
    assert outs[-1].shape == (2, channels, 8, 8)
    assert [o.shape[-1] for o in outs] == [32, 16, 8]
    assert net.out_channels == channels


@pytest.mark.parametrize(
    'cls, kwargs, published',
    [
        # Zagoruyko & Komodakis, Table 1 / the authors' code (36,479,194).
        (WideResNetCIFAR, {}, 36.5e6),
        # Han et al., PyramidNet-110 alpha=270 (basic) / the SAM papers.
        (PyramidNetCIFAR, {}, 28.5e6),
        # Han et al., Table 4: PyramidNet-272 alpha=200 (bottleneck) 26.0M.
        (PyramidNetCIFAR, dict(depth=272, alpha=200, bottleneck=True), 26.0e6),
    ])
def test_parameter_counts_match_the_papers(cls, kwargs, published):
    with torch.device('meta'):
        net = cls(**kwargs)
    total = n_params(net) + net.out_channels * 10 + 10  # 10-class head
    assert abs(total - published) / published < 0.01, total
    if cls is WideResNetCIFAR:
        assert total == 36_479_194


def test_wide_resnet_structure():
    net = WideResNetCIFAR(depth=16, widen_factor=2)
    blocks = [b for b in net.modules() if isinstance(b, WideBasicBlock)]
    assert len(blocks) == 6  # (16 - 4) / 6 = 2 per group
    # a 1x1 projection only where the shape changes (first of each group)
    assert [b.shortcut is not None
            for b in blocks] == [True, False, True, False, True, False]
    assert [b.conv2.out_channels for b in blocks] == [32, 32, 64, 64, 128, 128]
    assert net.layer2[0].conv1.stride == (2, 2)
    # with dropout, train mode is random and eval mode is not
    net = WideResNetCIFAR(depth=10, widen_factor=1, dropout=0.5)
    x = torch.randn(2, 3, 32, 32)
    net.eval()
    assert torch.equal(net(x)[0], net(x)[0])
    net.train()
    assert not torch.equal(net(x)[0], net(x)[0])


def test_pyramidnet_structure():
    net = PyramidNetCIFAR()
    blocks = [b for b in net.modules() if isinstance(b, PyramidBasicBlock)]
    assert len(blocks) == 54  # 3 groups of (110 - 2) / 6
    widths = [b.out_channels for b in blocks]
    assert widths == list(range(21, 287, 5))  # +270 / 54 = 5 per block
    assert [b.stride for b in blocks].count(2) == 2
    # The shortcut has no parameters: with the residual branch zeroed a
    # block returns its input, average-pooled and zero-padded.
    block = PyramidBasicBlock(4, 6, stride=2)
    torch.nn.init.zeros_(block.norm3.weight)
    block.eval()
    x = torch.randn(1, 4, 8, 8)
    out = block(x)
    assert out.shape == (1, 6, 4, 4)
    torch.testing.assert_close(out[:, :4],
                               torch.nn.functional.avg_pool2d(x, 2))
    assert torch.count_nonzero(out[:, 4:]) == 0


@pytest.mark.parametrize('cls, kwargs', [
    (WideResNetCIFAR, dict(depth=10, widen_factor=2, dropout=0.3)),
    (PyramidNetCIFAR, dict(depth=14, alpha=12)),
    (PyramidNetCIFAR, dict(depth=11, alpha=12, bottleneck=True)),
])
def test_gradients_reach_every_parameter(cls, kwargs):
    torch.manual_seed(0)
    net = cls(**kwargs)
    net.init_weights()
    head = torch.nn.Linear(net.out_channels, 10)
    x = torch.randn(4, 3, 32, 32)
    feats = net(x)[-1].mean(dim=(2, 3))
    loss = torch.nn.functional.cross_entropy(
        head(feats), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize('cls, kwargs, match', [
    (WideResNetCIFAR, dict(depth=27), 'depth'),
    (WideResNetCIFAR, dict(widen_factor=0), 'widen_factor'),
    (WideResNetCIFAR, dict(dropout=1.0), 'dropout'),
    (WideResNetCIFAR, dict(out_indices=(3, )), 'out_indices'),
    (PyramidNetCIFAR, dict(depth=111), 'depth'),
    (PyramidNetCIFAR, dict(depth=30, bottleneck=True), 'depth'),
    (PyramidNetCIFAR, dict(alpha=0), 'alpha'),
])
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


# ---------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------


def test_every_config_is_listed():
    found = {p.stem for p in CONFIGS.glob('*.py')}
    family = {f'resnet18_1xb128_cifar10_{m}'
              for m in ('looksam', 'aesam', 'randomsam', 'gsam',
                        'latesam')}
    assert found == {f'{n}_{v}' for n in REAL for v in VARIANTS} | family
    found = {p.stem for p in (CONFIGS / 'quick').glob('*.py')}
    assert found == {f'{n}_{v}' for n in QUICK for v in VARIANTS}


@pytest.mark.parametrize('name', REAL)
def test_real_configs_build(name):
    """Model, optimizer wrapper and schedulers of the three variants."""
    init_default_scope('mmpretrain')
    num_classes = 100 if name.endswith('cifar100') else 10
    model = None
    for variant in VARIANTS:
        cfg = load(real_config(name, variant))
        assert cfg.custom_imports.imports == [
            'arsam_mm', 'arsam_mm.mmpretrain'
        ]
        assert cfg.train_dataloader.batch_size == 128
        assert cfg.train_cfg.max_epochs == 200
        dataset = cfg.train_dataloader.dataset
        assert dataset.type == ('LocalCIFAR100'
                                if num_classes == 100 else 'LocalCIFAR10')
        assert DATASETS.get(dataset.type) is not None
        cutout = [t for t in dataset.pipeline if t.type == 'Cutout']
        assert len(cutout) == 1 and cutout[0].shape == 16
        assert cfg.model.head.loss.type == 'LabelSmoothLoss'
        assert cfg.model.head.loss.label_smooth_val == 0.1
        if model is None:  # the same model for all three variants
            model_cfg = cfg.model.copy()
            model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
            model = MODELS.build(model_cfg)  # ResNet's init cannot be meta
            assert model.head.fc.out_features == num_classes
            assert model.data_preprocessor.mean.numel() == 3
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        expected = {
            'sgd': OptimWrapper,
            'sam': SAMOptimWrapper,
            'arsam': ARSAMOptimWrapper
        }[variant]
        assert type(wrapper) is expected
        group = wrapper.optimizer.param_groups[0]
        assert type(wrapper.optimizer).__name__ == 'SGD'
        assert (group['lr'], group['momentum'],
                group['weight_decay']) == (0.05, 0.9, 1e-3)
        schedulers = [
            PARAM_SCHEDULERS.build(
                s, default_args=dict(optimizer=wrapper, epoch_length=391))
            for s in cfg.param_scheduler
        ]
        assert len(schedulers) == 1
        cosine = schedulers[0]
        assert type(cosine).__name__ == 'CosineAnnealingLR'
        assert not cosine.by_epoch  # converted: steps every iteration
        assert cosine.T_max == 200 * 391 and cosine.eta_min == 0


@pytest.mark.parametrize('name', REAL)
@pytest.mark.parametrize('variant', ['sam', 'arsam'])
def test_variants_differ_from_sgd_only_in_the_wrapper(name, variant):
    sgd = as_dict(load(real_config(name, 'sgd')))
    other = as_dict(load(real_config(name, variant)))
    changed = {
        k
        for k in sgd.keys() | other.keys() if sgd.get(k) != other.get(k)
    }
    assert changed <= FRAGMENT_KEYS, changed - FRAGMENT_KEYS
    assert other['custom_imports'] == sgd['custom_imports']
    assert other['optim_wrapper']['optimizer'] == sgd['optim_wrapper'][
        'optimizer']
    extra = other['optim_wrapper'].keys() - sgd['optim_wrapper'].keys()
    assert 'custom_hooks' not in other  # no hook needed
    if variant == 'sam':
        assert extra == {'type', 'rho'}
        assert other['optim_wrapper']['rho'] == 0.05
    else:
        assert extra == ARSAM_KEYS
        assert other['optim_wrapper']['warmup_ratio'] == 0.015


@pytest.mark.parametrize('name', QUICK)
@pytest.mark.parametrize('variant', VARIANTS)
def test_quick_configs_shrink_only_the_run(name, variant):
    real = as_dict(load(real_config('resnet18_1xb128_cifar10', variant)))
    quick_cfg = load(quick_config(name, variant))
    quick = as_dict(quick_cfg)
    changed = {
        k
        for k in real.keys() | quick.keys() if real.get(k) != quick.get(k)
    }
    if variant == 'arsam':  # explicit short-run warm-up and window
        changed -= {'optim_wrapper'}
        wrapper = quick['optim_wrapper']
        assert (wrapper['warmup_iters'], wrapper['window']) == (4, 8)
        short = {'warmup_iters', 'window', 'warmup_ratio'}
        assert {
            k: v
            for k, v in wrapper.items() if k not in short
        } == {
            k: v
            for k, v in real['optim_wrapper'].items() if k not in short
        }
    assert changed <= SHRINK_KEYS, changed - SHRINK_KEYS
    # the model: ResNet-18 with 16 instead of 64 base channels, nothing else
    model = copy.deepcopy(quick['model'])
    backbone = model['backbone']
    assert backbone.pop('stem_channels') == backbone.pop('base_channels') == 16
    assert model['head'].pop('in_channels') == 128
    real['model']['head'].pop('in_channels')
    assert model == real['model']
    assert quick['optim_wrapper']['optimizer'] == real['optim_wrapper'][
        'optimizer']
    assert quick_cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert quick_cfg.train_cfg.max_iters == 20
    assert quick_cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert quick_cfg.train_dataloader.num_workers == 0
    assert 16 <= quick_cfg.train_dataloader.batch_size <= 32
    root = 'data/digits' if 'digits' in name else 'data/quick/cifar10'
    for split in ('train', 'val', 'test'):
        assert quick_cfg[f'{split}_dataloader'].dataset.data_root == root


LABEL_NOISE = CONFIGS / 'label_noise'


def test_label_noise_configs():
    """The accuracy report's setting (reports/label_noise): the quick digits
    run on the 30%-noisy data, random crop without Cutout, 3600 iterations;
    SAM and ARSAM at rho 0.1, ARSAM with a window of 20 and 54 warm-up
    iterations, nothing else changed."""
    name = 'resnet18-w16_1xb16_digits-noise30'
    assert {p.stem for p in LABEL_NOISE.glob('*.py')} == {
        f'{name}_{v}' for v in VARIANTS}
    quick = as_dict(load(quick_config('resnet18-w16_1xb16_digits', 'sgd')))
    sgd_cfg = load(LABEL_NOISE / f'{name}_sgd.py')
    sgd = as_dict(sgd_cfg)
    changed = {k for k in quick.keys() | sgd.keys()
               if quick.get(k) != sgd.get(k)}
    assert changed == {'train_dataloader', 'val_dataloader',
                       'test_dataloader', 'train_cfg', 'param_scheduler',
                       'default_hooks', 'data_root', 'max_iters'}
    for split in ('train', 'val', 'test'):
        assert sgd_cfg[f'{split}_dataloader'].dataset.data_root == \
            'data/digits_noise30'
    assert [t.type for t in sgd_cfg.train_dataloader.dataset.pipeline] == [
        'RandomCrop', 'PackInputs']
    assert sgd_cfg.train_cfg.max_iters == 3600
    assert sgd_cfg.param_scheduler[0].T_max == 3600
    assert sgd_cfg.optim_wrapper == quick['optim_wrapper']
    for variant, extra in (('sam', dict(rho=0.1)),
                           ('arsam', dict(rho=0.1, window=20,
                                          warmup_iters=54))):
        other = as_dict(load(LABEL_NOISE / f'{name}_{variant}.py'))
        changed = {k for k in sgd.keys() | other.keys()
                   if sgd.get(k) != other.get(k)}
        assert changed <= FRAGMENT_KEYS, changed - FRAGMENT_KEYS
        wrapper = other['optim_wrapper']
        assert wrapper['optimizer'] == sgd['optim_wrapper']['optimizer']
        assert {k: wrapper[k] for k in extra} == extra
        assert 'custom_hooks' not in other


# ---------------------------------------------------------------------------
# Training through tools/train.py's path
# ---------------------------------------------------------------------------


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    base = tmp_path_factory.mktemp('classification_data')
    cifar = str(base / 'cifar10')
    write_cifar(cifar, variant='cifar10', num_train=96, num_test=40, seed=0)
    digits = str(base / 'digits')
    write_digits(digits, test_fraction=0.05, noise_rate=0.1, seed=0)
    return {QUICK[0]: cifar, QUICK[1]: digits}


def _args(config, work_dir, root, max_iters, every, resume=None, **options):
    """What ``tools/train.py CONFIG --work-dir ... --cfg-options ...``
    parses: the quick run shrunk further to ``max_iters`` of batch 8,
    validated and saved every ``every`` iterations."""
    cfg_options = {
        'train_dataloader.dataset.data_root': root,
        'val_dataloader.dataset.data_root': root,
        'test_dataloader.dataset.data_root': root,
        'train_dataloader.batch_size': 8,
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': every,
        'default_hooks.checkpoint.interval': every,
        'default_hooks.logger.interval': 1,
        'randomness.seed': 0,
    }
    cfg_options.update(options)
    return argparse.Namespace(
        config=str(config),
        work_dir=str(work_dir),
        resume=resume,
        amp=False,
        cfg_options=cfg_options,
        launcher='none')


class _Record(Hook):
    """Counts training iterations, keeps validation metrics and, with
    ``stop_at``, interrupts the run after that many iterations."""

    def __init__(self, stop_at=None):
        self.stop_at = stop_at
        self.start_iter = None
        self.iters = 0
        self.metrics = []

    def before_train(self, runner):
        self.start_iter = runner.iter

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self.iters += 1
        if self.stop_at is not None and runner.iter + 1 >= self.stop_at:
            runner.train_loop.stop_training = True

    def after_val_epoch(self, runner, metrics=None):
        self.metrics.append(dict(metrics or {}))


def _train(args, stop_at=None):
    """tools/train.py's main(), returning the runner and the record."""
    cfg = Config.fromfile(args.config)
    cfg = merge_train_args(cfg, args)
    check_data_roots(cfg)
    cfg.experiment_name = f'cls_test_{uuid.uuid4().hex[:12]}'
    runner = Runner.from_cfg(cfg)
    record = _Record(stop_at)
    runner.register_hook(record, priority='LOWEST')
    runner.train()
    return runner, record


def _check_run(runner, record, work_dir, start, stop):
    assert record.start_iter == start
    assert record.iters == stop - start
    assert runner.iter == stop
    (metrics, ) = record.metrics  # one validation, at the end
    assert 0 <= metrics['accuracy/top1'] <= 100
    assert runner.message_hub.get_scalar('val/accuracy/top1') is not None
    logs = list(Path(work_dir).glob('*/*.log'))
    assert any('accuracy/top1' in p.read_text() for p in logs)
    assert osp.isfile(osp.join(work_dir, f'iter_{stop}.pth'))


def _train_and_resume(name, variant, roots, tmp_path, first, total, **options):
    """Train ``total`` iterations, interrupted after ``first``; resume."""
    config = quick_config(name, variant)
    work_dir = tmp_path / 'work'
    args = _args(config, work_dir, roots[name], total, first, **options)
    runner, record = _train(args, stop_at=first)
    _check_run(runner, record, work_dir, 0, first)
    lr_first = runner.optim_wrapper.get_lr()['lr'][0]
    sa_first = getattr(runner.optim_wrapper, 'sharpness', None)
    evals = None if sa_first is None else sa_first.grad_evals

    # tools/train.py --resume: continues from iter_{first}.pth
    args.resume = 'auto'
    runner, record = _train(args)
    assert runner.cfg.resume is True
    _check_run(runner, record, work_dir, first, total)
    assert runner.optim_wrapper.get_lr()['lr'][0] < lr_first  # cosine goes on
    if sa_first is not None:  # the SAM/ARSAM state came with it
        sa = runner.optim_wrapper.sharpness
        assert sa.iters == total
        assert sa.grad_evals >= evals + (total - first)
    return runner


@pytest.mark.parametrize('variant', VARIANTS)
def test_quick_cifar10_trains_evaluates_and_resumes(variant, data_roots,
                                                    tmp_path):
    options = {}
    if variant == 'arsam':  # reach reuse steps within 4 iterations
        options = {'optim_wrapper.warmup_iters': 1, 'optim_wrapper.window': 2}
    runner = _train_and_resume(QUICK[0], variant, data_roots, tmp_path, 2, 4,
                               **options)
    if variant == 'arsam':
        sa = runner.optim_wrapper.sharpness
        assert sa.sam_steps < sa.iters  # some reuse steps happened
    if variant == 'sam':
        assert runner.optim_wrapper.sharpness.sam_steps == 4


@pytest.mark.slow
@pytest.mark.parametrize('variant', VARIANTS)
def test_quick_digits_trains_evaluates_and_resumes(variant, data_roots,
                                                   tmp_path):
    _train_and_resume(QUICK[1], variant, data_roots, tmp_path, 3, 6)


@pytest.mark.slow
@pytest.mark.parametrize('variant', VARIANTS)
def test_quick_configs_as_shipped(variant, data_roots, tmp_path):
    """The full 20-iteration quick run, as `tools/train.py` runs it."""
    args = argparse.Namespace(
        config=str(quick_config(QUICK[0], variant)),
        work_dir=str(tmp_path / 'work'),
        resume=None,
        amp=False,
        cfg_options={
            f'{s}_dataloader.dataset.data_root': data_roots[QUICK[0]]
            for s in ('train', 'val', 'test')
        },
        launcher='none')
    runner, record = _train(args)
    _check_run(runner, record, args.work_dir, 0, 20)
    if variant == 'arsam':
        sa = runner.optim_wrapper.sharpness
        assert 4 < sa.sam_steps < 20  # warm-up, then about one per window


@pytest.mark.parametrize('name, generator', [
    (QUICK[0], 'cifar10'),
    (QUICK[1], 'digits'),
])
def test_missing_quick_data_fails_before_training(name, generator, tmp_path):
    missing = str(tmp_path / 'nowhere')
    args = _args(quick_config(name, 'arsam'), tmp_path / 'work', missing, 4, 4)
    cfg = merge_train_args(Config.fromfile(args.config), args)
    with pytest.raises(FileNotFoundError) as info:
        check_data_roots(cfg)
    message = str(info.value)
    assert repr(missing) in message
    # both read the CIFAR-10 layout; the hint names both generators
    assert f'tools/generate_data.py cifar10 --out {missing}' in message
    assert f'`{generator}`' in message or generator == 'cifar10'
    assert not (tmp_path / 'work').exists()


@pytest.mark.parametrize('name', REAL)
def test_missing_real_data_names_the_generator(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/ here
    cfg = load(real_config(name, 'arsam'))
    variant = 'cifar100' if name.endswith('cifar100') else 'cifar10'
    with pytest.raises(
            FileNotFoundError,
            match=f'generate_data.py {variant} --out data/'
            f'{variant}'):
        check_data_roots(cfg)


def test_empty_data_root_fails_when_the_dataset_is_built(tmp_path):
    """A data_root that exists but holds no batch files passes the root
    check and fails when the dataset is built (``runner.train()``, before
    the first iteration), never trying to download."""
    cfg = Config.fromfile(quick_config(QUICK[0], 'sgd'))
    dataset = cfg.train_dataloader.dataset.copy()
    dataset.data_root = str(tmp_path)
    init_default_scope('mmpretrain')
    with pytest.raises(
            FileNotFoundError,
            match=f'generate_data.py cifar10 --out {tmp_path}'):
        DATASETS.build(dataset)
