"""Running mmengine's ``AmpOptimWrapper`` (and the family's Amp twins) on a
CPU inside a test, and reading what was logged."""
import contextlib
import functools
import logging
from typing import Iterator, List, Optional, Tuple

import pytest
import torch
from mmengine.logging import MMLogger


def allow_cpu_amp(monkeypatch) -> List[Optional[torch.dtype]]:
    """Let ``AmpOptimWrapper`` build and train on a CPU, for this test.

    ``AmpOptimWrapper`` asserts an accelerator and builds
    ``torch.cuda.amp.GradScaler`` (disabled without CUDA); here it gets
    ``torch.amp.GradScaler('cpu')``, which scales, unscales, skips and
    updates as on a GPU. ``autocast`` (bf16 only on a CPU) becomes a no-op
    that records each entry's ``dtype``, so the AMP steps compute in the
    model's precision and compare exactly with the fp32 wrappers.

    Returns:
        list: The ``dtype`` of every ``autocast`` entered (pass 1 in
        ``optim_context``, pass 2 in the twins' second pass).
    """
    if not hasattr(torch.amp, 'GradScaler'):
        pytest.skip('needs torch.amp.GradScaler (torch >= 2.3) for a loss '
                    'scaler on a CPU')
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    from mmengine.runner import amp as runner_amp

    from arsam_mm.engine.optim_wrappers import amp_sam_optim_wrapper
    entered: List[Optional[torch.dtype]] = []

    @contextlib.contextmanager
    def autocast(device_type=None, dtype=None, enabled=True,
                 cache_enabled=None):
        entered.append(dtype)
        yield

    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    monkeypatch.setattr(amp_optimizer_wrapper, 'GradScaler',
                        functools.partial(torch.amp.GradScaler, 'cpu'))
    monkeypatch.setattr(runner_amp, 'autocast', autocast)
    monkeypatch.setattr(amp_sam_optim_wrapper, 'autocast', autocast)
    return entered


class _Keep(logging.Handler):

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[Tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, record.getMessage()))


@contextlib.contextmanager
def logged() -> Iterator[List[Tuple[int, str]]]:
    """(level, message) of every line ``print_log(logger='current')``
    writes inside the block."""
    logger = MMLogger.get_current_instance()
    keep = _Keep()
    logger.addHandler(keep)
    try:
        yield keep.records
    finally:
        logger.removeHandler(keep)
