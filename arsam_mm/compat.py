"""Compatibility layer for the OpenMMLab stack on CPU-only machines.

:func:`apply_compat` runs when :mod:`arsam_mm` is imported and applies three
independent fixes, each a no-op where the real component works:

1. **mmcv-lite.** ``mmcv-lite`` ships the Python side of :mod:`mmcv.ops` but
   not the compiled extension ``mmcv._ext``, so ``import mmseg.models`` (and
   mmpose's and mmpretrain's) fails inside ``mmcv.ops``. A finder placed at
   the end of :data:`sys.meta_path` answers ``import mmcv._ext`` only when no
   real extension is found, with a stand-in whose every function raises a
   :class:`RuntimeError` that says how to install full mmcv. The real
   :mod:`mmcv.ops` then imports unchanged: its classes can be built,
   subclassed and registered, its pure-PyTorch parts (``point_sample``,
   ``MultiScaleDeformableAttention`` on CPU, ...) work, and a compiled kernel
   raises when it is called.
2. **torchvision.** mmpose imports torchvision in one visualization module
   only. When torchvision is not installed, or raises on import (PyPI's
   torchvision beside a CPU-only torch), ``import torchvision`` yields a stub
   package whose every attribute raises :class:`ModuleNotFoundError` on use.
   The check is lazy: nothing is imported before something asks for
   torchvision, and a torchvision that imports is left as it is.
3. **torch.load under torch >= 2.6.** mmengine 0.10 calls :func:`torch.load`
   without ``weights_only``, which now defaults to ``True``; resuming then
   fails on the numpy and mmengine objects of a checkpoint. Exactly those
   globals are allow-listed with :func:`torch.serialization.add_safe_globals`
   (numpy 1 and numpy 2 spellings alike); ``weights_only`` stays on, so a
   checkpoint carrying any other global is still refused.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import pickle
import re
import sys
import types
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = [
    'apply_compat', 'mmcv_ops_available', 'install_mmcv_ext_stub',
    'install_torchvision_fallback', 'allow_mmengine_checkpoint_globals'
]

_MMCV_EXT = 'mmcv._ext'
_TORCHVISION = 'torchvision'

# ---------------------------------------------------------------------------
# 1. mmcv-lite: a stand-in for the compiled extension ``mmcv._ext``
# ---------------------------------------------------------------------------

# Informational entries that mmcv's own ``collect_env`` calls; they answer
# instead of raising so that reporting the environment keeps working.
_MMCV_INFO_FUNCTIONS = ('get_compiler_version', 'get_compiling_cuda_version')


def _find_spec_quietly(name: str) -> Optional[importlib.machinery.ModuleSpec]:
    """Return the spec of a top-level module without importing it.

    Args:
        name (str): Top-level module name.

    Returns:
        ModuleSpec, optional: The spec, or ``None`` when the module cannot
        be found.
    """
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def mmcv_ops_available() -> bool:
    """Tell whether mmcv's compiled extension ``mmcv._ext`` is present.

    mmcv is not imported: the extension file is looked for in mmcv's package
    folder. An extension that is present but fails to load counts as
    present, so its own import error reaches the user unchanged.

    Returns:
        bool: ``True`` for full mmcv, ``False`` for mmcv-lite, for the
        stand-in of this module, or when mmcv is not installed.
    """
    if _MMCV_EXT in sys.modules:
        module = sys.modules[_MMCV_EXT]
        return module is not None and not isinstance(module, _MissingMmcvExt)
    spec = _find_spec_quietly('mmcv')
    if spec is None or not spec.submodule_search_locations:
        return False
    locations = list(spec.submodule_search_locations)
    return importlib.machinery.PathFinder.find_spec(_MMCV_EXT,
                                                    locations) is not None


def _mmcv_op_error(name: str) -> RuntimeError:
    """Build the error raised by a compiled mmcv op that is missing.

    Args:
        name (str): Name of the function in ``mmcv._ext``.

    Returns:
        RuntimeError: The error to raise.
    """
    version = getattr(sys.modules.get('mmcv'), '__version__', '2.1.0')
    return RuntimeError(
        f'mmcv op `{name}` needs full mmcv with compiled ops (the extension '
        '`mmcv._ext`), but the installed mmcv has none (mmcv-lite). '
        'Install full mmcv, built from source: `pip uninstall -y mmcv-lite '
        f'&& MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv=={version}`'
        f' (torch must be installed first), or `mim install mmcv=={version}`.')


def _missing_mmcv_op(name: str) -> Any:
    """Make the stand-in for one function of ``mmcv._ext``.

    Args:
        name (str): Name of the compiled function.

    Returns:
        Callable: A function that raises the error of :func:`_mmcv_op_error`.
    """

    def missing_op(*args: Any, **kwargs: Any) -> Any:
        raise _mmcv_op_error(name)

    missing_op.__name__ = missing_op.__qualname__ = name
    return missing_op


def _no_compiled_ops_info() -> str:
    """Answer mmcv's compiler queries when there is no compiled extension."""
    return 'n/a (mmcv without compiled ops)'


class _MissingMmcvExt(types.ModuleType):
    """Stand-in for ``mmcv._ext``; each public name is a raising function."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith('_'):
            raise AttributeError(name)
        if name in _MMCV_INFO_FUNCTIONS:
            value = _no_compiled_ops_info
        else:
            value = _missing_mmcv_op(name)
        setattr(self, name, value)
        return value


class _MmcvExtFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``mmcv._ext`` when no other finder does, as a stand-in."""

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]] = None,
        target: Optional[types.ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != _MMCV_EXT:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(
            self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _MissingMmcvExt(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


_MMCV_EXT_FINDER = _MmcvExtFinder()


def install_mmcv_ext_stub() -> None:
    """Let ``import mmcv._ext`` fall back to the raising stand-in.

    The finder goes last on :data:`sys.meta_path`, so a real extension is
    always found first. Calling it again changes nothing.
    """
    if _MMCV_EXT_FINDER not in sys.meta_path:
        sys.meta_path.append(_MMCV_EXT_FINDER)


# ---------------------------------------------------------------------------
# 2. torchvision: a stub package when the real one is missing or broken
# ---------------------------------------------------------------------------


def _torchvision_error(what: str, reason: str) -> ModuleNotFoundError:
    """Build the error raised when the torchvision stub is used.

    Args:
        what (str): Dotted name of what was used.
        reason (str): Why torchvision is unavailable.

    Returns:
        ModuleNotFoundError: The error to raise.
    """
    return ModuleNotFoundError(
        f'`{what}` needs torchvision, which {reason}; arsam_mm put a stub '
        'in its place so that mmpose imports. Install the torchvision build '
        'that matches your torch (same version line and index) to use it.',
        name=_TORCHVISION)


class _UnavailableMeta(type):
    """Metaclass of stub classes: instantiating or using them raises."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise _torchvision_error(cls._arsam_mm_what, cls._arsam_mm_reason)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith('__'):
            raise AttributeError(name)
        raise _torchvision_error(f'{cls._arsam_mm_what}.{name}',
                                 cls._arsam_mm_reason)


class _MissingTorchvision(types.ModuleType):
    """Stub for torchvision or one of its submodules.

    Any public name is a stub class that raises on use, so that
    ``from torchvision.transforms import ToPILImage`` succeeds; reading
    ``__version__`` raises :class:`ModuleNotFoundError`, which is how
    mmengine's ``collect_env`` expects a missing torchvision to look.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name)
        self._arsam_mm_reason = reason

    def __getattr__(self, name: str) -> Any:
        if name == '__version__':
            raise _torchvision_error(f'{self.__name__}.__version__',
                                     self._arsam_mm_reason)
        if name.startswith('__'):
            raise AttributeError(name)
        value = _UnavailableMeta(
            name, (), {
                '_arsam_mm_what': f'{self.__name__}.{name}',
                '_arsam_mm_reason': self._arsam_mm_reason,
                '__module__': self.__name__,
            })
        setattr(self, name, value)
        return value


class _StubLoader(importlib.abc.Loader):
    """Creates :class:`_MissingTorchvision` modules."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def create_module(
            self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _MissingTorchvision(spec.name, self.reason)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _stub_spec(name: str, reason: str) -> importlib.machinery.ModuleSpec:
    """Return the spec of a stub torchvision (sub)package."""
    return importlib.machinery.ModuleSpec(
        name, _StubLoader(reason), is_package=True)


def _drop_modules(prefix: str) -> None:
    """Remove a package and its submodules from :data:`sys.modules`."""
    for name in [
            n for n in sys.modules if n == prefix or n.startswith(prefix + '.')
    ]:
        del sys.modules[name]


class _GuardedLoader(importlib.abc.Loader):
    """Runs the real torchvision loader and falls back to the stub."""

    def __init__(self, finder: '_TorchvisionFinder',
                 loader: importlib.abc.Loader) -> None:
        self._finder = finder
        self._loader = loader

    def create_module(
            self, spec: importlib.machinery.ModuleSpec
    ) -> Optional[types.ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        # torchvision runs with its own loader in place.
        module.__spec__.loader = module.__loader__ = self._loader
        try:
            self._loader.exec_module(module)
        except Exception as exc:
            reason = f'failed to import ({type(exc).__name__}: {exc})'
            _drop_modules(_TORCHVISION)
            stub = _MissingTorchvision(_TORCHVISION, reason)
            stub.__spec__ = _stub_spec(_TORCHVISION, reason)
            stub.__loader__ = stub.__spec__.loader
            stub.__path__ = []
            stub.__package__ = _TORCHVISION
            # The import system returns what sys.modules holds after this.
            sys.modules[_TORCHVISION] = stub
            warnings.warn(
                f'torchvision {reason}; arsam_mm replaced it by a stub that '
                'raises on use. Install the torchvision build that matches '
                'your torch, or uninstall torchvision.', RuntimeWarning)
        else:
            self._finder.remove()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _TorchvisionFinder(importlib.abc.MetaPathFinder):
    """Sits first on :data:`sys.meta_path` until torchvision is imported.

    For ``torchvision`` it asks the other finders; when none finds it, it
    returns the stub package, and otherwise it wraps the real loader in
    :class:`_GuardedLoader`. Once the stub is in :data:`sys.modules` it
    also answers for the stub's submodules.
    """

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]] = None,
        target: Optional[types.ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname == _TORCHVISION:
            spec = self._find_real(fullname, path, target)
            if spec is None:
                return _stub_spec(fullname, 'is not installed')
            if spec.loader is not None:
                spec.loader = _GuardedLoader(self, spec.loader)
            return spec
        parent = sys.modules.get(_TORCHVISION)
        if (fullname.startswith(_TORCHVISION + '.')
                and isinstance(parent, _MissingTorchvision)):
            return _stub_spec(fullname, parent._arsam_mm_reason)
        return None

    def _find_real(
        self, fullname: str, path: Optional[Sequence[str]],
        target: Optional[types.ModuleType]
    ) -> Optional[importlib.machinery.ModuleSpec]:
        """Ask the other finders, in order, for the real module."""
        for finder in list(sys.meta_path):
            find_spec = getattr(finder, 'find_spec', None)
            if finder is self or find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def remove(self) -> None:
        """Take this finder off :data:`sys.meta_path`."""
        while self in sys.meta_path:
            sys.meta_path.remove(self)


_TORCHVISION_FINDER = _TorchvisionFinder()


def install_torchvision_fallback() -> None:
    """Make ``import torchvision`` fall back to the stub when it must.

    Nothing happens when torchvision is already imported. Otherwise a finder
    goes first on :data:`sys.meta_path`; it takes itself off again once the
    real torchvision has imported. Calling it again changes nothing.
    """
    if _TORCHVISION in sys.modules or _TORCHVISION_FINDER in sys.meta_path:
        return
    sys.meta_path.insert(0, _TORCHVISION_FINDER)


# ---------------------------------------------------------------------------
# 3. torch.load(weights_only=True) and mmengine checkpoints
# ---------------------------------------------------------------------------

# Attributes that mmengine checkpoints reach through ``getattr`` (pickle
# protocol 2 spells a function defined in a class as getattr(class, name)):
# HistoryBuffer keeps its statistics methods in its state, and OneCycle
# schedulers keep their annealing function.
_GETATTR_ALLOWED: Dict[str, Tuple[str, ...]] = {
    'mmengine.logging.history_buffer.HistoryBuffer':
    ('min', 'max', 'current', 'mean'),
    'mmengine.optim.scheduler.param_scheduler.OneCycleParamScheduler':
    ('_annealing_cos', '_annealing_linear'),
}


class _ClassName:
    """Inert stand-in for a class a checkpoint names only for ``getattr``.

    Registering it instead of the class means the unpickler can neither
    instantiate nor call the class itself.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise pickle.UnpicklingError(
            f'arsam_mm: a checkpoint may not call {self.path}')

    def __repr__(self) -> str:
        return f'<class name {self.path}>'


_ONE_CYCLE = _ClassName(
    'mmengine.optim.scheduler.param_scheduler.OneCycleParamScheduler')


def _resolve(path: str) -> Any:
    """Import ``module.qualname`` and return the object."""
    module, _, name = path.rpartition('.')
    return getattr(importlib.import_module(module), name)


def _checkpoint_getattr(obj: Any, name: str) -> Any:
    """Stand in for ``builtins.getattr`` while loading a checkpoint.

    Only the (class, attribute) pairs of :data:`_GETATTR_ALLOWED` resolve.

    Args:
        obj: The class, or its :class:`_ClassName` stand-in.
        name (str): The attribute.

    Returns:
        The attribute of the real class.

    Raises:
        pickle.UnpicklingError: For any other pair.
    """
    if isinstance(obj, _ClassName):
        path = obj.path
    else:
        path = (f'{getattr(obj, "__module__", "")}.'
                f'{getattr(obj, "__qualname__", "")}')
    allowed = _GETATTR_ALLOWED.get(path, ())
    if isinstance(name, str) and name in allowed:
        cls = _resolve(path)
        if isinstance(obj, _ClassName) or obj is cls:
            return getattr(cls, name)
    raise pickle.UnpicklingError(
        f'arsam_mm: getattr({obj!r}, {name!r}) is not allowed while '
        'loading a checkpoint with weights_only=True')


def _torch_version() -> Tuple[int, int]:
    """Return torch's (major, minor) version."""
    import torch
    match = re.match(r'(\d+)\.(\d+)', str(torch.__version__))
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _named_safe_globals_supported() -> bool:
    """Tell whether ``add_safe_globals`` takes ``(object, name)`` pairs."""
    import torch
    try:
        from torch._weights_only_unpickler import _get_user_allowed_globals
    except ImportError:  # moved in a later torch, which has the pairs
        return True
    probe = (_ClassName('probe'), 'arsam_mm.compat._probe')
    try:
        with torch.serialization.safe_globals([probe]):
            return _get_user_allowed_globals().get(probe[1]) is probe[0]
    except Exception:
        return False


def _numpy_safe_globals(named: bool) -> List[Any]:
    """List the numpy globals of a checkpoint holding arrays and scalars.

    Args:
        named (bool): Whether ``(object, name)`` pairs may be used; they
            accept the spelling of numpy 1 (``numpy.core``) and numpy 2
            (``numpy._core``) whichever numpy is installed.

    Returns:
        list: Entries for :func:`torch.serialization.add_safe_globals`.
    """
    try:
        import numpy
    except ImportError:
        return []
    try:
        multiarray = importlib.import_module('numpy._core.multiarray')
    except ImportError:  # numpy < 1.26
        multiarray = importlib.import_module('numpy.core.multiarray')
    # A dtype is rebuilt by calling numpy.dtype and then BUILD on the
    # instance, whose class (numpy.dtypes.Float64DType, ...) must be allowed.
    dtype_classes = {type(numpy.dtype(c)) for c in numpy.typecodes['All']}
    entries: List[Any] = [numpy.ndarray, numpy.dtype]
    entries += sorted(dtype_classes, key=repr)
    for name in ('_reconstruct', 'scalar'):
        obj = getattr(multiarray, name)
        if not named:
            entries.append(obj)
            continue
        for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
            entries.append((obj, f'{module}.{name}'))
    return entries


def _mmengine_safe_globals(named: bool) -> List[Any]:
    """List the mmengine globals of a Runner checkpoint.

    Args:
        named (bool): Whether ``(object, name)`` pairs may be used; without
            them the ``getattr`` entries cannot be stood in for and are left
            out (``weights_only`` loading then refuses those checkpoints).

    Returns:
        list: Entries for :func:`torch.serialization.add_safe_globals`.
    """
    if _find_spec_quietly('mmengine') is None:
        return []
    from mmengine.logging.history_buffer import HistoryBuffer
    entries: List[Any] = [HistoryBuffer]
    if named:
        entries += [(_checkpoint_getattr, 'builtins.getattr'),
                    (_ONE_CYCLE, _ONE_CYCLE.path)]
    return entries


def allow_mmengine_checkpoint_globals() -> bool:
    """Allow-list the globals of mmengine checkpoints for ``torch.load``.

    Only on torch >= 2.6, where ``weights_only=True`` is the default. The
    entries are numpy arrays, scalars and dtypes, mmengine's
    ``HistoryBuffer`` and a ``getattr`` restricted to the attributes in
    :data:`_GETATTR_ALLOWED`. Calling it again changes nothing.

    Returns:
        bool: Whether globals were allow-listed.
    """
    if _find_spec_quietly('torch') is None or _torch_version() < (2, 6):
        return False
    import torch
    named = _named_safe_globals_supported()
    entries = _numpy_safe_globals(named) + _mmengine_safe_globals(named)
    if not entries:
        return False
    torch.serialization.add_safe_globals(entries)
    return True


def apply_compat() -> None:
    """Apply the three fixes of this module; safe to call repeatedly."""
    if (_find_spec_quietly('mmcv') is not None and not mmcv_ops_available()):
        install_mmcv_ext_stub()
    install_torchvision_fallback()
    allow_mmengine_checkpoint_globals()
