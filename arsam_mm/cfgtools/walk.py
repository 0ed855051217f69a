"""Walks over an mmengine config: every dict, the datasets, the metrics.

The config tools rewrite or check configs through these, so each place a
config nests what they look for is known once: any nesting of dicts and
lists (:func:`dicts`), the leaf datasets of wrappers such as
``ConcatDataset`` and ``RepeatDataset`` (:func:`datasets`), and an
evaluator given as one metric, a list of metrics or an ``Evaluator`` with
``metrics`` (:func:`evaluator_metrics`).
"""
from typing import Any, Iterator, Sequence, Tuple

__all__ = ['SPLITS', 'dicts', 'type_name', 'datasets', 'evaluator_metrics']

#: The splits of an mmengine config (``<split>_dataloader``,
#: ``<split>_cfg``, ``<split>_evaluator``).
SPLITS: Tuple[str, ...] = ('train', 'val', 'test')


def dicts(obj: Any, path: str = '') -> Iterator[Tuple[str, dict]]:
    """(path, dict) for every dict in ``obj``, depth first, each once.

    Args:
        obj (Any): A config or any nesting of dicts, lists and tuples.
        path (str): Path of ``obj`` itself. Defaults to ``''``.

    Yields:
        tuple[str, dict]: The dotted path (``a.b[2].c``) and the dict; a
        dict reached twice (shared) is yielded once.
    """
    seen = set()
    stack = [(path, obj)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if isinstance(node, dict):
            yield where, node
            items = [(f'{where}.{k}' if where else str(k), v)
                     for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            items = [(f'{where}[{i}]', v) for i, v in enumerate(node)]
        else:
            continue
        stack.extend(reversed(items))


def type_name(node: dict) -> str:
    """The class name a config dict's ``type`` names, without its scope.

    Args:
        node (dict): A config dict; ``type`` may be a string
            (``'mmdet.CocoDataset'``) or a class.

    Returns:
        str: ``'CocoDataset'``; ``''`` without a ``type``.
    """
    kind = node.get('type', '')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    return name.split('.')[-1]


def _leaves(dataset: Any) -> Iterator[dict]:
    stack = [dataset]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if 'datasets' in node:  # ConcatDataset, CombinedDataset
            stack.extend(node['datasets'])
        elif 'dataset' in node:  # RepeatDataset, ClassBalancedDataset
            stack.append(node['dataset'])
        else:
            yield node


def datasets(cfg: Any,
             splits: Sequence[str] = SPLITS,
             enabled_only: bool = False) -> Iterator[Tuple[str, dict]]:
    """(split, dataset config) for every leaf dataset of ``splits``.

    Args:
        cfg (Config | dict): The config.
        splits (Sequence[str]): Splits to walk. Defaults to all three.
        enabled_only (bool): Skip a split whose loop config
            (``<split>_cfg``) is None, as ``Runner`` does. Defaults to
            False: every split with a ``<split>_dataloader``.

    Yields:
        tuple[str, dict]: The split and a dataset config (the datasets a
        wrapper dataset holds, not the wrapper).
    """
    for split in splits:
        loader = cfg.get(f'{split}_dataloader', None)
        if not loader or (enabled_only
                          and cfg.get(f'{split}_cfg', None) is None):
            continue
        for dataset in _leaves(loader.get('dataset', None)):
            yield split, dataset


def evaluator_metrics(cfg: Any, split: str) -> Iterator[dict]:
    """Every metric config of the ``<split>_evaluator``.

    Args:
        cfg (Config | dict): The config.
        split (str): ``'val'`` or ``'test'``.

    Yields:
        dict: Each metric config, whether the evaluator is one metric, a
        list of metrics or a dict with ``metrics`` (one or a list).
    """
    node = cfg.get(f'{split}_evaluator', None)
    if isinstance(node, dict) and 'metrics' in node:
        node = node['metrics']
    for metric in node if isinstance(node, (list, tuple)) else [node]:
        if isinstance(metric, dict):
            yield metric
