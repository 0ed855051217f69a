"""Kept micro-batches in a form ``torch.load(weights_only=True)`` accepts.

A checkpoint saved inside a gradient-accumulation cycle of a SAM step must
carry the data preprocessor's outputs of the cycle's earlier micro-batches
(pass 2 replays them after the last one). Those outputs hold tensors, plain
containers, numpy values and mmengine data elements (``SegDataSample``,
``PoseDataSample``, ...). Pickling the elements would need their classes in
the checkpoint loader's allow-list, so :func:`pack` turns everything into
tensors, numbers, strings and containers, and :func:`unpack` rebuilds the
elements from their class path, accepting only subclasses of
:class:`mmengine.structures.BaseDataElement` from modules that are already
imported: a checkpoint cannot make the loader import or call anything else.
"""
import sys
from typing import Any

import numpy as np
import torch
from mmengine.structures import BaseDataElement

__all__ = ['pack', 'unpack']

_TAG = '__arsam_packed__'


def pack(obj: Any) -> Any:
    """Encode ``obj`` with weights-only-loadable types.

    Args:
        obj: A data preprocessor output (or any part of one).

    Returns:
        The encoded object.

    Raises:
        TypeError: For a value of a type it cannot encode, naming it.
    """
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return obj
    if isinstance(obj, BaseDataElement):
        cls = type(obj)
        return {
            _TAG: 'element',
            'cls': f'{cls.__module__}:{cls.__qualname__}',
            'metainfo': pack(dict(obj.metainfo_items())),
            'data': pack(dict(obj.items())),
        }
    if isinstance(obj, np.ndarray):
        return {_TAG: 'ndarray', 'value': torch.from_numpy(obj.copy())}
    if isinstance(obj, np.generic):
        return {_TAG: 'npscalar', 'dtype': obj.dtype.str, 'value': obj.item()}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError('cannot keep a batch dict with non-str keys in a '
                            f'checkpoint: {list(obj)!r}')
        return {_TAG: 'dict', 'items': {k: pack(v) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return {
            _TAG: 'tuple' if isinstance(obj, tuple) else 'list',
            'items': [pack(v) for v in obj]
        }
    raise TypeError('cannot keep a value of type '
                    f'{type(obj).__module__}.{type(obj).__qualname__} of the '
                    'batch in a checkpoint')


def _element_class(path: str) -> type:
    module_name, _, qualname = path.partition(':')
    module = sys.modules.get(module_name)
    if module is None:
        raise ValueError(
            f'checkpoint batch: data element class {path!r} is from a module '
            'that is not imported; import the toolbox first')
    cls: Any = module
    for part in qualname.split('.'):
        cls = getattr(cls, part, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseDataElement)):
        raise ValueError(f'checkpoint batch: {path!r} is not an mmengine '
                         'BaseDataElement subclass')
    return cls


def unpack(obj: Any) -> Any:
    """Invert :func:`pack`.

    Raises:
        ValueError: For an element class that is not an imported
            :class:`BaseDataElement` subclass, or an unknown tag.
    """
    if not isinstance(obj, dict):
        return obj
    kind = obj.get(_TAG)
    if kind == 'element':
        cls = _element_class(obj['cls'])
        element = cls(metainfo=unpack(obj['metainfo']))
        for key, value in unpack(obj['data']).items():
            setattr(element, key, value)
        return element
    if kind == 'ndarray':
        return obj['value'].numpy()
    if kind == 'npscalar':
        return np.dtype(obj['dtype']).type(obj['value'])
    if kind == 'dict':
        return {k: unpack(v) for k, v in obj['items'].items()}
    if kind in ('list', 'tuple'):
        items = [unpack(v) for v in obj['items']]
        return tuple(items) if kind == 'tuple' else items
    raise ValueError(f'checkpoint batch: unknown packed entry {kind!r}')
