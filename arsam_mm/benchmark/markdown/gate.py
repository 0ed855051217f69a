"""The table of :func:`arsam_mm.benchmark.gate.sam_gate`."""
from typing import Any, Dict

from ..gate import GATE_FIGURES, GATE_WORDS
from .table import interval, table

__all__ = ['gate_markdown']


def gate_markdown(gate: Dict[str, Dict[str, Any]]) -> str:
    """SAM minus the base optimizer per task and figure, one row each:
    the seeds, both means, the difference with its 95% interval, and the
    two-sided p."""
    rows = [[task, f"{entry['metric']}: {GATE_WORDS[figure]}",
             ', '.join(map(str, g['seeds'])), f"{g['base']:.4g}",
             f"{g['sam']:.4g}", interval(g['mean'], g['lo'], g['hi']),
             f"{g['p']:.2g}"]
            for task, entry in gate.items() for figure in GATE_FIGURES
            if figure in entry for g in [entry[figure]]]
    return table(['task', 'figure', 'seeds', 'base', 'SAM',
                  'SAM - base [95%]', 'p'], rows)
