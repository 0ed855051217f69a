"""Helpers shared by the data generators: argument checks, seeding, output.

Every generator derives one random stream per (split, sample) from its seed,
so a sample does not change when the number of other samples does, and it
writes only through these helpers, so that the same arguments give
byte-identical files.
"""
import json
import os
import os.path as osp
import shutil
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

from ..core.validate import check_int

#: Name of the JSON file in which each generator records what it wrote.
META_FILE = 'arsam_mm_meta.json'


def check_size(name: str, value: Any, minimum: int) -> Tuple[int, int]:
    """Return ``value`` as an ``(h, w)`` tuple of ints, each >= ``minimum``.

    Args:
        name (str): Argument name used in the error message.
        value (Any): A pair of ints ``(h, w)``.
        minimum (int): Smallest allowed height and width.

    Returns:
        tuple[int, int]: ``(h, w)``.

    Raises:
        ValueError: If ``value`` is not a pair of ints >= ``minimum``.
    """
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(
              isinstance(v, (int, np.integer))
              and not isinstance(v, (bool, np.bool_)) and v >= minimum
              for v in value))
    if not ok:
        raise ValueError(f'{name} must be a pair of ints (h, w), each >= '
                         f'{minimum}, got {value!r}')
    return int(value[0]), int(value[1])


def check_seed(value: Any) -> int:
    """Return ``value`` if it is a non-negative ``int`` (a seed).

    Args:
        value (Any): The seed.

    Returns:
        int: The seed.

    Raises:
        TypeError: If ``value`` is not an int.
        ValueError: If it is below 0.
    """
    return check_int('seed', value, minimum=0)


#: Smallest value of each count a generator takes; ``num_test`` 0 is no
#: test split.
_MINIMUM = {'num_test': 0}


def check_counts(seed: Any,
                 minimum: Optional[Dict[str, int]] = None,
                 **counts: Any) -> Tuple[int, ...]:
    """Check a generator's counts (split sizes and the like) and seed.

    Args:
        seed (Any): The seed, an int >= 0.
        minimum (dict, optional): Smallest allowed value by count name,
            over the defaults (1; ``num_test`` 0).
        **counts: The counts by argument name (``num_train=...``), in the
            order of the result.

    Returns:
        tuple[int, ...]: The counts in the order given, then the seed.

    Raises:
        ValueError: Naming the first count that is not an int at or above
            its minimum, or the seed.
    """
    lowest = dict(_MINIMUM, **(minimum or {}))
    checked = [
        check_int(name, value, lowest.get(name, 1))
        for name, value in counts.items()
    ]
    return (*checked, check_seed(seed))


def check_number(name: str,
                 value: Any,
                 low: float,
                 high: float,
                 closed: Tuple[bool, bool] = (True, True)) -> float:
    """Return ``value`` as a float if it is a finite number in an interval.

    Args:
        name (str): Argument name used in the error message.
        value (Any): The value to check (a Python or numpy number).
        low (float): Lower end of the interval.
        high (float): Upper end of the interval.
        closed (tuple[bool, bool]): Whether each end belongs to the
            interval. Defaults to both.

    Returns:
        float: ``value``.

    Raises:
        ValueError: If ``value`` is not a finite number in the interval.
    """
    ok = isinstance(value, (int, float, np.integer, np.floating)) \
        and not isinstance(value, (bool, np.bool_)) \
        and bool(np.isfinite(value))
    if ok:
        above = value >= low if closed[0] else value > low
        below = value <= high if closed[1] else value < high
        ok = above and below
    if not ok:
        interval = ('[' if closed[0] else '(') + f'{low:g}, {high:g}' + (
            ']' if closed[1] else ')')
        raise ValueError(
            f'{name} must be a number in {interval}, got {value!r}')
    return float(value)


def sample_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """The random generator of one sample.

    Args:
        seed (int): The generator's seed.
        stream (int): A number per split or purpose.
        index (int): Index of the sample in its split.

    Returns:
        numpy.random.Generator: A generator that depends only on the three
        numbers.
    """
    return np.random.default_rng([seed, stream, index])


def prepare_outputs(out_dir: str, owned: Iterable[str],
                    overwrite: bool) -> str:
    """Create ``out_dir`` and clear the paths a generator owns in it.

    Args:
        out_dir (str): Output folder (created if missing).
        owned (Iterable[str]): Paths relative to ``out_dir`` that the
            generator writes (files or folders).
        overwrite (bool): Remove existing owned paths instead of failing.

    Returns:
        str: ``out_dir``.

    Raises:
        ValueError: If ``out_dir`` is empty or names an existing file.
        FileExistsError: If an owned path exists and ``overwrite`` is False.
    """
    if not isinstance(out_dir, (str, os.PathLike)) or not str(out_dir):
        raise ValueError(f'out_dir must be a folder path, got {out_dir!r}')
    out_dir = os.fspath(out_dir)
    if osp.isfile(out_dir):
        raise ValueError(f'out_dir must be a folder path, got {out_dir!r} '
                         '(an existing file)')
    for rel in owned:
        path = osp.join(out_dir, rel)
        if not osp.lexists(path):
            continue
        if not overwrite:
            raise FileExistsError(
                f'{path} exists; pass overwrite=True (--overwrite) to '
                'replace it')
        if osp.isdir(path) and not osp.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    os.makedirs(out_dir, exist_ok=True)
    return out_dir


def write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as JSON with sorted keys (stable bytes).

    Args:
        path (str): Output file.
        obj (Any): JSON-serialisable object.
    """
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, sort_keys=True, separators=(',', ':'))
        f.write('\n')


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Round and clip a float image to ``uint8``.

    Args:
        img (numpy.ndarray): Image with values roughly in ``[0, 255]``.

    Returns:
        numpy.ndarray: The ``uint8`` image.
    """
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def hsv_colors(num: int,
               saturation: float = 0.85,
               value: float = 0.95,
               offset: float = 0.0) -> np.ndarray:
    """``num`` RGB colours with evenly spaced hues.

    Args:
        num (int): Number of colours.
        saturation (float): HSV saturation in ``[0, 1]``.
        value (float): HSV value in ``[0, 1]``.
        offset (float): Hue of the first colour, as a fraction of the circle.

    Returns:
        numpy.ndarray: ``(num, 3)`` float RGB colours in ``[0, 255]``.
    """
    hue = (offset + np.arange(num) / num) % 1.0
    sector = hue * 6.0
    i = np.floor(sector).astype(int) % 6
    f = sector - np.floor(sector)
    v = np.full(num, value)
    p = v * (1 - saturation)
    q = v * (1 - saturation * f)
    t = v * (1 - saturation * (1 - f))
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v),
             (v, p, q)]
    rgb = np.stack([
        np.choose(i, [row[c] for row in table]) for c in range(3)
    ], axis=1)
    return rgb * 255.0


def split_counts(total: int, parts: int) -> Sequence[int]:
    """Sizes of ``parts`` nearly equal chunks of ``total`` items.

    Args:
        total (int): Number of items.
        parts (int): Number of chunks.

    Returns:
        list[int]: Chunk sizes, larger ones first, summing to ``total``.
    """
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
