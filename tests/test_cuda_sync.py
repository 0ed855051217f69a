"""No host synchronisation on fp32 steps that do not log (needs CUDA).

``torch.cuda.set_sync_debug_mode('error')`` makes every synchronising CUDA
call (``.item()``, ``bool(tensor)``, a blocking device-to-host copy) raise.
Steps of the fp32 wrappers driven by ``train_step`` (nothing reads the log)
must run under it; the one wait per window, when ARSAM reads its queued
statistics, is an explicit CUDA event wait, which the debug mode does not
count, and is exercised here too. AE-SAM (its decision reads ``||g||^2``
once per step) and ASAM (one read per SAM step) read by design; the AMP
twins read the loss scaler's flags. The figures the wrappers logged are
read afterwards, once, and equal the steps taken. ``tests/test_host_reads``
checks the same on a CPU, every member included.
"""
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

from tests._toy import ToyModel, make_batches

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
]


@pytest.mark.parametrize('cfg', [
    dict(type='SAMOptimWrapper', rho=0.05),
    dict(type='ARSAMOptimWrapper', warmup_iters=2, window=4, seed=0),
    dict(type='LookSAMOptimWrapper', interval=3),
    dict(type='RandomSAMOptimWrapper', prob=0.5, seed=0),
    dict(type='GSAMOptimWrapper', interval=2),
    dict(type='LateSAMOptimWrapper', target_ratio=0.5),
], ids=lambda cfg: cfg['type'])
def test_training_steps_do_not_sync(cfg):
    import arsam_mm  # noqa: F401
    hub = MessageHub.get_instance(f'cuda_sync_{cfg["type"]}')
    torch.manual_seed(0)
    model = ToyModel(bn=True, dropout=0.1).cuda()
    wrapper = build_optim_wrapper(
        model, dict(cfg, optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    wrapper.initialize_count_status(model, 0, 24)  # LateSAM's run length
    batches = [{k: v.cuda() for k, v in b.items()}
               for b in make_batches(24)]
    model.train_step(batches[0], wrapper)  # lazy CUDA initialisation
    torch.cuda.synchronize()
    kinds = []
    torch.cuda.set_sync_debug_mode('error')
    try:
        for data in batches[1:]:
            model.train_step(data, wrapper)
            kinds.append(int(bool(wrapper.sharpness.plan.sam)))
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(next(model.parameters())).all()
    assert hub.get_scalar('train/sam_step').data[0].tolist()[1:] == kinds
    assert wrapper.sharpness.sam_steps == 1 + sum(kinds)
    if cfg['type'] != 'SAMOptimWrapper':
        assert set(kinds) == {0, 1}
    if cfg['type'] == 'ARSAMOptimWrapper':
        assert wrapper.sharpness.schedule.iter == 24  # windows crossed: 5
