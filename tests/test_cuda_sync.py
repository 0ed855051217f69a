"""No host synchronisation on steps that do not log (needs CUDA).

``torch.cuda.set_sync_debug_mode('error')`` makes every synchronising CUDA
call (``.item()``, ``bool(tensor)``, a blocking device-to-host copy) raise.
SAM and reuse steps of the fp32 wrappers must run under it; the one wait per
window, when ARSAM reads its queued statistics, is an explicit CUDA event
wait, which the debug mode does not count, and is exercised here too.
"""
import pytest
import torch
from mmengine.optim import build_optim_wrapper

from tests._toy import ToyModel, make_batches

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
]


@pytest.mark.parametrize('cfg', [
    dict(type='SAMOptimWrapper', rho=0.05),
    dict(type='ARSAMOptimWrapper', warmup_iters=2, window=4, seed=0),
])
def test_training_steps_do_not_sync(cfg):
    import arsam_mm  # noqa: F401
    torch.manual_seed(0)
    model = ToyModel(bn=True, dropout=0.1).cuda()
    wrapper = build_optim_wrapper(
        model, dict(cfg, optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    batches = [{k: v.cuda() for k, v in b.items()}
               for b in make_batches(24)]
    model.train_step(batches[0], wrapper)  # lazy CUDA initialisation
    torch.cuda.synchronize()
    kinds = set()
    torch.cuda.set_sync_debug_mode('error')
    try:
        for data in batches[1:]:
            model.train_step(data, wrapper)
            kinds.add(wrapper.sharpness.plan.sam)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(next(model.parameters())).all()
    if cfg['type'] == 'ARSAMOptimWrapper':
        assert kinds == {True, False}
        assert wrapper.sharpness.schedule.iter == 24  # windows crossed: 5
