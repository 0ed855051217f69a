"""The efficient-SAM family's configs: one segmentation, one pose and one
classification config switched to every member.

Each variant differs from its baseline only in ``optim_wrapper`` (a two-key
child: the zoo's optimizer and hooks stay), and its wrapper builds around
the baseline's optimizer with the member's arguments.
"""
import copy
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch import nn

import arsam_mm  # noqa: F401  (registers the wrappers)

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                   'configs')
#: (baseline, its optimizer type) per task.
BASELINES = {
    'seg': ('mmseg/fcn_r50-d8_4xb2-40k_cityscapes-512x1024', 'sgd', 'SGD'),
    'pose': ('mmpose/td-hm_res50_8xb64-210e_coco-256x192', 'adam', 'Adam'),
    'cls': ('classification/resnet18_1xb128_cifar10', 'sgd', 'SGD'),
}
#: Member -> (wrapper type, arguments its configs set).
MEMBERS = {
    'arsam': ('ARSAMOptimWrapper', None),
    'looksam': ('LookSAMOptimWrapper', dict(rho=0.05, interval=5,
                                            alpha=0.7)),
    'aesam': ('AESAMOptimWrapper', dict(rho=0.05)),
    'randomsam': ('RandomSAMOptimWrapper', dict(rho=0.05, prob=0.5)),
    'gsam': ('GSAMOptimWrapper', dict(rho=0.05, alpha=0.1)),
    'latesam': ('LateSAMOptimWrapper', dict(rho=0.05, target_ratio=0.1)),
}


def load(name):
    return Config.fromfile(osp.join(CONFIGS, name + '.py'))


def strip(cfg):
    """Drop mmengine's scope prefixes (``mmseg.SGD`` -> ``SGD``)."""
    if isinstance(cfg, dict):
        return {
            k: strip(v.split('.')[-1] if k == 'type' and isinstance(v, str)
                     else v)
            for k, v in cfg.items()
        }
    if isinstance(cfg, list):
        return [strip(v) for v in cfg]
    return cfg


@pytest.mark.parametrize('member', sorted(MEMBERS))
@pytest.mark.parametrize('task', sorted(BASELINES))
def test_member_config_switches_only_the_wrapper(task, member):
    prefix, base_opt, optimizer_type = BASELINES[task]
    baseline = load(f'{prefix}_{base_opt}').to_dict()
    variant = load(f'{prefix}_{member}').to_dict()
    changed = {
        k
        for k in set(baseline) | set(variant)
        if baseline.get(k) != variant.get(k)
    }
    assert changed == {'optim_wrapper'}, changed
    wrapper_type, args = MEMBERS[member]
    own = strip(variant['optim_wrapper'])
    assert own['type'] == wrapper_type
    assert own['optimizer'] == strip(baseline['optim_wrapper'])['optimizer']
    assert strip(variant.get('custom_hooks', [])) == \
        strip(baseline.get('custom_hooks', []))
    base_wrapper = strip(baseline['optim_wrapper'])
    for key, value in base_wrapper.items():  # the zoo's arguments stay
        if key != 'type':
            assert own[key] == value, key
    if args is not None:
        assert {k: v for k, v in own.items()
                if k != 'type' and k not in base_wrapper} == args
    # The wrapper builds around the baseline's optimizer.
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    wrapper = build_optim_wrapper(model, copy.deepcopy(own))
    assert type(wrapper).__name__ == wrapper_type
    assert type(wrapper.optimizer).__name__ == optimizer_type
    group = wrapper.optimizer.param_groups[0]
    assert group['lr'] == own['optimizer']['lr']
    assert group['rho'] == 0.05
