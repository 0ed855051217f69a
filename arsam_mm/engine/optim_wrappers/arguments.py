"""The arguments a family wrapper accepts, checked before it builds
anything.

A config passes a wrapper's arguments by keyword, and everything a
subclass does not name goes on, as ``**kwargs``, to
:class:`mmengine.optim.OptimWrapper` (or ``AmpOptimWrapper``). A mistyped
name (``windw=20``) would surface there as an unexpected keyword of a class
the user never named; :func:`check_arguments` names it, the closest valid
name (:func:`difflib.get_close_matches`) and all valid ones instead.
"""
import difflib
import inspect
from typing import Any, Dict, Set

__all__ = ['valid_arguments', 'check_arguments']


def valid_arguments(cls: type, internal: type) -> Set[str]:
    """The keyword arguments ``cls(...)`` accepts: those named by the
    ``__init__`` of every class of its MRO but ``internal`` and ``object``.

    Args:
        cls (type): The wrapper class being built.
        internal (type): The base whose ``__init__`` arguments subclasses
            fill in themselves (the family's schedule, correction, ...).

    Returns:
        set[str]: The names.
    """
    valid = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None or klass in (object, internal):
            continue
        for name, param in inspect.signature(init).parameters.items():
            if name != 'self' and param.kind not in (
                    param.VAR_KEYWORD, param.VAR_POSITIONAL):
                valid.add(name)
    return valid


def check_arguments(cls: type, kwargs: Dict[str, Any],
                    internal: type) -> None:
    """Reject an argument ``cls`` does not accept.

    Args:
        cls (type): The wrapper class being built.
        kwargs (dict): The arguments it leaves to its bases.
        internal (type): As for :func:`valid_arguments`.

    Raises:
        TypeError: For an unknown argument, naming it, the closest valid
            name and all valid ones.
    """
    valid = valid_arguments(cls, internal)
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, sorted(valid), n=1)
        hint = f' (did you mean {close[0]!r}?)' if close else ''
        raise TypeError(
            f'{cls.__name__} got an unknown argument {name!r}{hint}; '
            f'valid arguments: {", ".join(sorted(valid))}')
