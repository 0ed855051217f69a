"""Side-by-side benchmark of the base optimizer, SAM, ARSAM and periodic
SAM on the same config, seed, data and iteration budget
(``tools/benchmark.py`` is its command line)."""
from .recorder import BenchmarkRecorder, IterTimerStart
from .report import aggregate, markdown_table
from .variants import OPTIMIZERS, make_variant

__all__ = [
    'BenchmarkRecorder', 'IterTimerStart', 'OPTIMIZERS', 'make_variant',
    'aggregate', 'markdown_table'
]
