"""Side-by-side benchmark of the base optimizer, SAM, ARSAM and periodic
SAM on the same config, seed, data and iteration budget
(``tools/benchmark.py`` is its command line).

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

from .recorder import BenchmarkRecorder, IterTimerStart
from .report import aggregate, markdown_table
from .variants import OPTIMIZERS, make_variant

warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

__all__ = [
    'BenchmarkRecorder', 'IterTimerStart', 'OPTIMIZERS', 'make_variant',
    'aggregate', 'markdown_table'
]
