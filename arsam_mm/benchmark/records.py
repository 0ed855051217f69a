"""The benchmark's files: atomic writes, a checked load of
``records.json`` and the digest that ties a run to its config's content.

``records.json`` holds every finished run of a suite, so it is never
rewritten in place: :func:`atomic_write` writes a temporary file in the same
directory, flushes it to disk and renames it over the old one, so an
interruption leaves either the old file or the new one, never a truncated
one. :func:`load_records` turns a file that is not a complete records file
into a :class:`RecordsError` that names it and says what to do.
"""
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, TextIO, Union

from mmengine.config import Config

__all__ = ['RECORDS_FILE', 'RecordsError', 'atomic_write', 'load_records',
           'config_digest']

#: A suite's records file in its work dir: written after every run, the
#: settings and the records so far.
RECORDS_FILE = 'records.json'

#: The keys of a records file, as :func:`~.suite.run_suite` writes it.
_KEYS = ('command', 'environment', 'settings', 'records')


class RecordsError(ValueError):
    """A ``records.json`` that cannot be used: damaged, or written by runs
    that do not match the suite being resumed. The message names the file
    and what to do."""


def atomic_write(path: Union[str, Path], write: Callable[[TextIO], Any]
                 ) -> None:
    """Replace ``path`` with what ``write`` writes, all or nothing.

    ``write`` gets a text file in ``path``'s directory; once it returns, the
    file is flushed and synced to disk and renamed over ``path``
    (``os.replace``, atomic on POSIX and Windows). If ``write`` raises, or
    the process dies first, ``path`` keeps its previous content and the
    temporary file is removed (or, after a kill, left beside it as
    ``.<name>.*.tmp``).

    Args:
        path (str | Path): The file to write.
        write (callable): Called with the open temporary file, e.g.
            ``lambda f: json.dump(obj, f)``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.',
                               suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable (POSIX; not possible on Windows)
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def load_records(path: Union[str, Path]) -> Dict[str, Any]:
    """Read a suite's ``records.json``.

    Args:
        path (str | Path): The file; it must exist.

    Returns:
        dict: ``command``, ``environment``, ``settings`` and ``records``.

    Raises:
        RecordsError: When the file is empty, not JSON (e.g. cut short by
            an interrupted write of an older version) or not a records
            file; the message names the file and how to recover.
    """
    path = Path(path)
    try:
        saved = json.loads(path.read_text(encoding='utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        problem = ('it is empty' if not path.stat().st_size else
                   f'it is not valid JSON ({err})')
    else:
        problem = _problem(saved)
    if problem is None:
        return saved
    raise RecordsError(
        f'{path} is damaged: {problem}. It holds the finished runs of the '
        'benchmark, so restore it if you can (from a backup, or with '
        f'`git checkout -- {path}` where it is committed); otherwise delete '
        'it and run the suite again without --resume (every run is redone). '
        '--report-only needs an intact file.')


def _problem(saved: Any) -> Union[str, None]:
    """What is missing from a parsed records file; None when complete."""
    if not isinstance(saved, dict):
        return f'it holds a JSON {type(saved).__name__}, not an object'
    missing = [key for key in _KEYS if key not in saved]
    if missing:
        return f"it has no {', '.join(missing)}"
    if not isinstance(saved['records'], list) or not isinstance(
            saved['settings'], dict):
        return 'its records are not a list or its settings not an object'
    return None


def _canonical(value: Any) -> Any:
    """``value`` as JSON values with sorted string keys; other objects by
    qualified name (types, functions) or ``repr``."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(
            value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    name = getattr(value, '__qualname__', None)
    if name is not None:
        return f"{getattr(value, '__module__', '')}.{name}"
    return repr(value)


def config_digest(path: Union[str, Path]) -> str:
    """SHA-256 of a config's resolved content.

    The config is loaded as the runs load it (``Config.fromfile``: every
    ``_base_`` merged, ``{{_base_.x}}`` substituted, without importing its
    ``custom_imports``), and the resulting dict is hashed as JSON with sorted
    keys. So the digest changes when any value changes, in the file or in
    any of its bases, and not with comments, formatting or the yapf
    version; ``--cfg-options`` are not included (the suite's settings
    record them).

    Args:
        path (str | Path): The config file.

    Returns:
        str: The hex digest.
    """
    cfg = Config.fromfile(str(path), import_custom_modules=False)
    text = json.dumps(_canonical(cfg.to_dict()), sort_keys=True,
                      ensure_ascii=True, allow_nan=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()
