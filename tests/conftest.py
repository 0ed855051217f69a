"""Shared pytest options and fixtures.

``--runslow`` enables the end-to-end cases; tests that need a toolbox the
environment lacks skip. Fixtures: :func:`cpu_amp` (mmengine's
``AmpOptimWrapper`` and the family's Amp twins on a CPU) and
:func:`logged` (what ``print_log`` wrote in a block).

Helpers that are not fixtures live in modules of their own, which the worker
scripts spawned as processes import as well: ``_toy.py`` (toy model and
data), ``_runner.py`` (a ``Runner`` on them), ``_launch.py`` (several
processes), ``_reference.py`` (the literal references).
"""
import contextlib
import importlib.util
import logging
from typing import Iterator, List, Tuple

import pytest


def pytest_addoption(parser):
    parser.addoption(
        '--runslow',
        action='store_true',
        default=False,
        help='also run tests marked slow (end-to-end training)')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--runslow'):
        return
    skip_slow = pytest.mark.skip(reason='slow: run with --runslow')
    for item in items:
        if 'slow' in item.keywords:
            item.add_marker(skip_slow)


# Packages of the pinned stack that the oldest supported stack (`make
# test-compat`) leaves out, by import name and by the name mmengine gives
# them when a config's scope needs one ("mmsegmentation is not installed").
OPTIONAL_PACKAGES = {
    'mmcv': 'mmcv',
    'mmseg': 'mmsegmentation',
    'mmpose': 'mmpose',
    'mmdet': 'mmdet',
    'mmpretrain': 'mmpretrain',
    'sklearn': 'scikit-learn',
}


def _missing_optional(exc: BaseException):
    """The optional package whose absence raised ``exc``, or None.

    Only a package that is really not installed counts, so on the pinned
    stack (everything installed) no failure is ever turned into a skip.
    """
    # mmengine asks pkg_resources for a config scope's package
    # (DistributionNotFound), or raises ModuleNotFoundError itself.
    lookup = type(exc).__name__ == 'DistributionNotFound'
    if not (lookup or isinstance(exc, ModuleNotFoundError)):
        return None
    top = (getattr(exc, 'name', None) or '').split('.')[0]
    text = str(exc)
    for module, dist in OPTIONAL_PACKAGES.items():
        named = top == module or text.startswith(
            (f'{module} is not installed', f'{dist} is not installed')) or (
                lookup and f"'{module}' distribution" in text)
        if named and importlib.util.find_spec(module) is None:
            return dist
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that needs a toolbox the environment lacks is skipped, with
    the reason, instead of failing (the oldest stack installs none)."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or report.passed:
        return
    dist = _missing_optional(call.excinfo.value)
    if dist is not None:
        report.outcome = 'skipped'
        report.longrepr = (str(item.path), item.location[1] or 0,
                           f'Skipped: needs {dist} (not installed)')


@pytest.fixture
def cpu_amp(monkeypatch):
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
    import functools

    import torch
    if not hasattr(torch.amp, 'GradScaler'):
        pytest.skip('needs torch.amp.GradScaler (torch >= 2.3) for a loss '
                    'scaler on a CPU')
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    from mmengine.runner import amp as runner_amp

    from arsam_mm.engine.optim_wrappers import amp_sam_optim_wrapper
    entered = []

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
def _logged() -> Iterator[List[Tuple[int, str]]]:
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    keep = _Keep()
    logger.addHandler(keep)
    try:
        yield keep.records
    finally:
        logger.removeHandler(keep)


@pytest.fixture
def logged():
    """``with logged() as lines:`` collects (level, message) of every line
    ``print_log(logger='current')`` writes inside the block."""
    return _logged
