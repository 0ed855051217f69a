"""The benchmark: the config's own optimizer and every member of the SAM
family (:data:`arsam_mm.family.FAMILY`) on the same config, seed, data and
iteration budget, at each budget (share of SAM steps) for the budgeted
members, with step costs, paired statistics and a frontier per task
(``tools/benchmark.py`` is its command line).

Three parts: the typed settings (:mod:`.settings`), the executor that
runs, records and resumes a suite and writes its report (:mod:`.suite`,
:mod:`.reporting`; one process per run, :mod:`.worker`), and the Markdown
(:mod:`.markdown`).

Importing the package (the command line does, and so does every run's
process, :mod:`.worker`) silences one warning: setuptools 80.9 to 81 warn
``pkg_resources is deprecated`` each time mmengine's ``Config`` resolves a
``mmseg::``/``mmpose::`` base (``mmengine.utils.is_installed`` imports and
reloads ``pkg_resources``), several lines per config loaded. The project's
venv pins setuptools 80.8.0 (requirements.txt), where that warning is a
``DeprecationWarning`` hidden by default; the filter keeps the logs clean
in a venv not yet rebuilt. setuptools 82 removed ``pkg_resources``.
"""
import warnings

from .markdown import markdown_table
from .recorder import BenchmarkRecorder, IterTimerStart
from .report import aggregate
from .settings import SuiteSettings
from .variants import OPTIMIZERS, make_variant

warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

__all__ = [
    'BenchmarkRecorder', 'IterTimerStart', 'OPTIMIZERS', 'make_variant',
    'aggregate', 'markdown_table', 'SuiteSettings'
]
