"""Shared pytest options: ``--runslow`` enables the end-to-end cases;
tests that need a toolbox the environment lacks skip."""
import importlib.util

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
