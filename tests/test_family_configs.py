"""The family table (:mod:`arsam_mm.family`) and the efficient-SAM
family's configs: one segmentation, one pose and one classification config
switched to every member that has model-zoo configs.

Each variant differs from its baseline only in ``optim_wrapper`` (a two-key
child: the zoo's optimizer and hooks stay), and its wrapper builds around
the baseline's optimizer with the member's arguments. Every list of the
members derives from the table: a member added to it shows up in each.
"""
import copy
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

import arsam_mm  # noqa: F401  (registers the wrappers)
from arsam_mm import family

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                   'configs')
#: (baseline, its optimizer type) per task.
BASELINES = {
    'seg': ('mmseg/fcn_r50-d8_4xb2-40k_cityscapes-512x1024', 'sgd', 'SGD'),
    'pose': ('mmpose/td-hm_res50_8xb64-210e_coco-256x192', 'adam', 'Adam'),
    'cls': ('classification/resnet18_1xb128_cifar10', 'sgd', 'SGD'),
}
#: Member -> (wrapper type, arguments its configs set): the family table's
#: members with model-zoo configs.
MEMBERS = family.zoo_members()


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


def test_the_table_is_consistent():
    """Names, colours and gain keys once each; a budget's knob and map
    known; a member that matches another's budget has an interval; every
    wrapper registered with its Amp twin, and AMP_TWINS names them."""
    from arsam_mm.engine.optim_wrappers import AMP_TWINS
    members = family.FAMILY
    assert members[0].name == 'base' and members[0].wrapper is None
    for values in ([m.name for m in members], [m.color for m in members],
                   [k for m in family.gain_members() for k in m.gain]):
        assert len(set(values)) == len(values), values
    for m in members:
        assert m.budget_map in family.BUDGET_MAPS, m
        if m.matches is not None:
            assert family.member(m.matches).budget_knob is not None
            assert m.budget_map == 'interval', m
    for name in family.wrapper_types():
        assert OPTIM_WRAPPERS.get(name).__name__ == name
        assert OPTIM_WRAPPERS.get(AMP_TWINS[name]).__name__ == f'Amp{name}'
    assert family.amp_twins().items() <= AMP_TWINS.items()
    assert family.member('periodic').budget_arguments(0.3) == \
        dict(interval=3)
    assert family.member('randomsam').budget_arguments(0.3) == dict(prob=0.3)
    with pytest.raises(ValueError, match="optimizer 'gsam' takes no budget"):
        family.member('gsam').budget_arguments(0.3)
    with pytest.raises(ValueError, match="optimizer must be one of .*'adam'"):
        family.member('adam')


#: Run in a fresh process: a member added to the table before anything
#: derives from it, then every derived list read.
_NEW_MEMBER = r"""
import json, sys
import arsam_mm.family as family  # the package's lazy names stay unread
assert 'arsam_mm.engine' not in sys.modules
new = family.Member('fastsam', 'FastSAM', 'FastSAMOptimWrapper', 'tab:cyan',
                    budget_knob='prob', step_cost=dict(prob=0.5),
                    zoo=dict(rho=0.05))
family.FAMILY = family.FAMILY + (new,)
sys.path[:0] = ['tools', '.']
from arsam_mm.benchmark import plots, variants
from arsam_mm.benchmark.markdown import gain_table
from arsam_mm.benchmark.report import recovered_gain
from arsam_mm.benchmark.settings import plan
from arsam_mm.engine.optim_wrappers import AMP_TWINS
import benchmark, benchmark_step_cost
from tests import test_family_configs
row = dict(task='t', budget=None, grad_evals_per_iter=1.5)
rows = [dict(row, optimizer=o, metric_mean=v, grad_evals_per_iter=e)
        for o, v, e in (('base', 80, 1), ('sam', 90, 2), ('fastsam', 88, 1.5))]
gains = recovered_gain(rows)
choices = next(a.choices for a in benchmark.build_parser()._actions
               if a.dest == 'optimizers')
json.dump(dict(
    optimizers='fastsam' in variants.OPTIMIZERS,
    budgeted='fastsam' in variants.BUDGETED,
    wrappers=variants.WRAPPERS.get('fastsam'),
    budget=variants.budget_arguments('fastsam', 0.25),
    plan=('fastsam', 0.25) in plan(['base', 'fastsam'], [0.25]),
    color=plots._COLORS.get('fastsam'),
    step_cost=benchmark_step_cost.VARIANTS.get('fastsam'),
    amp=AMP_TWINS.get('FastSAMOptimWrapper'),
    cli='fastsam' in choices,
    zoo=test_family_configs.MEMBERS.get('fastsam'),
    gains=gains['t'], table=gain_table(gains).splitlines()[0]), sys.stdout)
"""


def test_a_new_member_is_one_entry_of_the_table():
    """Every list of the members derives from the table: the benchmark's
    optimizers, budgets and wrappers, the command line's choices, the plot
    colours, the step-cost tool's variants, the Amp twins' names, the gain
    table and this module's configs all take a member added to it."""
    import json
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    out = subprocess.run([sys.executable, '-c', _NEW_MEMBER], cwd=root,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen == dict(
        optimizers=True, budgeted=True, wrappers='FastSAMOptimWrapper',
        budget=dict(prob=0.25), plan=True, color='tab:cyan',
        step_cost=dict(type='FastSAMOptimWrapper', rho=0.05, prob=0.5),
        amp='AmpFastSAMOptimWrapper', cli=True,
        zoo=['FastSAMOptimWrapper', dict(rho=0.05)],
        gains=dict(sam_gain=10, fastsam_gain=8, fastsam_share=0.8,
                   fastsam_share_per_extra_eval=1.6),
        table=('| task | SAM gain over base | ARSAM gain | share kept | '
               'share per extra grad eval | periodic gain | periodic share '
               '| periodic share per extra grad eval | FastSAM gain | '
               'FastSAM share | FastSAM share per extra grad eval |'))
