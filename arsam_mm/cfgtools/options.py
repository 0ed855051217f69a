"""Command-line option helpers of the tools (``tools/train.py``,
``tools/benchmark.py``)."""
import argparse
from typing import Optional, Sequence

from mmengine.config import DictAction

__all__ = ['KeyValueAction']


class KeyValueAction(DictAction):
    """mmengine's ``DictAction`` (``KEY=VALUE`` pairs, values parsed as
    numbers, tuples, lists, ...), with a pair without ``=`` an argparse
    error naming the option and the pair (``DictAction`` raises a bare
    ``ValueError`` from inside argparse: a traceback)."""

    def __call__(self,
                 parser: argparse.ArgumentParser,
                 namespace: argparse.Namespace,
                 values: Optional[Sequence[str]],
                 option_string: Optional[str] = None) -> None:
        for pair in values or []:
            if '=' not in pair or pair.startswith('='):
                raise argparse.ArgumentError(
                    self, f'expected KEY=VALUE pairs, got {pair!r}')
        super().__call__(parser, namespace, values, option_string)
