"""All of the benchmark's Markdown, written with one table helper
(:func:`.table.table`): ``report.md`` and its tables (:mod:`.report`) and
each task's frontier section (:mod:`.frontier`), and the SAM gate of a
setting search (:mod:`.gate`)."""
from .frontier import frontier_markdown
from .gate import gate_markdown
from .report import (best_vs_final_markdown, cost_table, gain_table,
                     markdown_table, report_markdown)
from .table import fmt, table

__all__ = [
    'table', 'fmt', 'markdown_table', 'gain_table', 'best_vs_final_markdown',
    'cost_table', 'report_markdown', 'frontier_markdown', 'gate_markdown'
]
