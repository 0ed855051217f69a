"""Divide every image size of a config by one consistent factor.

Every image size the config writes, anywhere in it (pipelines, nested
pipelines and hook arguments, codecs, heads, data preprocessors, inference
settings), is divided by one factor ``f <= shrink``: the keys of
:data:`EXACT_SIZE_KEYS` exactly, those of :data:`ROUNDED_SIZE_KEYS`
rounded. ``f`` is the largest integer that divides every exact size and
keeps every size that is a multiple of 32 (a network stride) a multiple of
32, so derived sizes stay consistent: RTMPose's SimCC ``input_size`` (192,
256) and ``in_featuremap_size`` (6, 8) become (96, 128) and (3, 4).
"""
from typing import Any, Iterator, List, Optional, Tuple

from .walk import dicts, type_name

__all__ = [
    'EXACT_SIZE_KEYS', 'ROUNDED_SIZE_KEYS', 'is_int', 'shrink_factor',
    'shrink_sizes'
]

#: Keys whose integer values are image sizes shrunk exactly: the factor
#: must divide them (a head built from them must match the network).
#: ``size`` counts only in data preprocessors and ``Pad`` transforms.
EXACT_SIZE_KEYS: Tuple[str, ...] = ('crop_size', 'input_size', 'heatmap_size',
                                    'in_featuremap_size', 'img_size', 'size')

#: Keys whose integer values are image sizes shrunk with rounding (resize
#: targets; ``stride`` only beside a ``crop_size``, as in sliding-window
#: inference).
ROUNDED_SIZE_KEYS: Tuple[str, ...] = ('scale', 'img_scale', 'scales', 'stride')

#: Multiples of this stay multiples of it (the usual total network stride).
_STRIDE = 32


def is_int(value: Any) -> bool:
    """Whether ``value`` is an ``int`` and not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def _size_ints(value: Any) -> Optional[List[int]]:
    """The ints of a size value (int or nested sequence of ints), or None
    when ``value`` is not one (floats are ratios, not sizes)."""
    if is_int(value):
        return [value]
    if isinstance(value, (list, tuple)) and value:
        out: List[int] = []
        for item in value:
            ints = _size_ints(item)
            if ints is None:
                return None
            out.extend(ints)
        return out
    return None


def _size_entries(cfg: Any) -> Iterator[Tuple[str, dict, str, bool]]:
    """(path, dict, key, exact) for every image size in ``cfg``."""
    for where, node in dicts(cfg):
        for key in EXACT_SIZE_KEYS + ROUNDED_SIZE_KEYS:
            if key not in node or _size_ints(node[key]) is None:
                continue
            if key == 'size':
                kind = type_name(node)
                if not (kind.endswith('DataPreProcessor') or kind == 'Pad'):
                    continue
            if key == 'stride' and 'crop_size' not in node:
                continue
            yield (f'{where}.{key}' if where else key, node, key,
                   key in EXACT_SIZE_KEYS)


def shrink_factor(cfg: Any, shrink: int) -> int:
    """The largest factor ``f <= shrink`` that shrinks ``cfg`` consistently.

    ``f`` divides every value of an exact size key, and a value that is a
    multiple of 32 stays one after division.

    Args:
        cfg (Config | dict): The config (any nesting of dicts and lists).
        shrink (int): The largest factor wanted (>= 1).

    Returns:
        int: ``f`` (1 when no larger factor fits).

    Raises:
        ValueError: If ``shrink`` is not an int >= 1.
    """
    if not is_int(shrink) or shrink < 1:
        raise ValueError(f'shrink must be an int >= 1, got {shrink!r}')
    exact = [
        v for _, node, key, is_exact in _size_entries(cfg) if is_exact
        for v in _size_ints(node[key]) if v > 0
    ]
    for f in range(shrink, 1, -1):
        if all(v % f == 0 and (v % _STRIDE or (v // f) % _STRIDE == 0)
               for v in exact):
            return f
    return 1


def _divide(value: Any, f: int, exact: bool) -> Any:
    if is_int(value):
        if value <= 0:  # -1 and the like: "keep" markers, not sizes
            return value
        return value // f if exact else max(1, int(round(value / f)))
    return type(value)(_divide(v, f, exact) for v in value)


def _fmt(value: Any) -> str:
    return repr(tuple(value) if isinstance(value, list) else value)


def shrink_sizes(cfg: Any, shrink: int) -> Tuple[int, List[str]]:
    """Divide every image size in ``cfg`` by :func:`shrink_factor`, in place.

    Args:
        cfg (Config | dict): The config.
        shrink (int): The largest factor wanted (>= 1).

    Returns:
        tuple[int, list[str]]: The factor used and one line per change
        (``path: old -> new``).
    """
    f = shrink_factor(cfg, shrink)
    changes: List[str] = []
    if f == 1:
        return f, changes
    for path, node, key, exact in list(_size_entries(cfg)):
        old = node[key]
        new = _divide(old, f, exact)
        if new != old:
            node[key] = new
            changes.append(f'{path}: {_fmt(old)} -> {_fmt(new)}')
    return f, changes
