"""The one Markdown table helper, and how a number is written in a cell."""
import math
from typing import Any, Iterable, Optional, Sequence

__all__ = ['table', 'fmt', 'interval']


def table(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table: ``| a | b |`` lines under ``|---|---|``.

    Args:
        header (sequence): The column titles.
        rows (iterable[sequence]): One sequence of cells per row, each
            written with ``str``; a row shorter than the header is closed
            with empty cells (`` |`` each).

    Returns:
        str: The table's lines, joined by newlines.
    """

    def line(cells: Sequence[Any]) -> str:
        return ('| ' + ' | '.join(str(c) for c in cells) + ' |' +
                ' |' * (len(header) - len(cells)))

    return '\n'.join([line(header), '|' + '---|' * len(header)] +
                     [line(cells) for cells in rows])


def fmt(value: Any, spec: str = '.3f', sd: Optional[float] = None) -> str:
    """``value`` formatted with ``spec`` (``-`` for None or NaN), with
    ``± sd`` when a spread is given (and not 0 or None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    text = format(value, spec)
    if sd:
        text += f' ± {format(sd, spec)}'
    return text


def interval(mean: float, lo: Optional[float], hi: Optional[float]) -> str:
    """A signed estimate with its interval, ``+1.2 [0.3, 2.1]``
    (``[unbounded]`` where ``lo`` or ``hi`` is None)."""
    if lo is None or hi is None:
        return f'{mean:+.3g} [unbounded]'
    return f'{mean:+.3g} [{lo:.3g}, {hi:.3g}]'
