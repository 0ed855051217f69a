"""What the pinned OpenMMLab stack needs from ``import arsam_mm``, and only
where it needs it.

:func:`apply_compat` runs when :mod:`arsam_mm` is imported. It has two
parts; each checks the environment first and changes nothing where the
problem it fixes does not exist. With full mmcv and torch < 2.6 nothing at
all is installed. Neither part imports mmcv, torchvision or mmpretrain.

1. **mmcv-lite has no ``mmcv._ext``.**

   - *Who needs it:* environments with the ``mmcv-lite`` distribution, as
     the pinned stack (full mmcv exists only as a source package that takes
     minutes to build).
   - *Why:* mmcv-lite ships the Python side of :mod:`mmcv.ops` but not its
     compiled extension ``mmcv._ext``, which :mod:`mmcv.ops` loads at import
     time. ``import mmseg.models`` and ``import mmpose.models`` (and so every
     mmseg/mmpose Runner) then fail with ``No module named 'mmcv._ext'``,
     even for models that never call a compiled op.
   - *What:* a finder at the end of :data:`sys.meta_path` answers the single
     module name ``mmcv._ext`` with a stand-in whose functions raise a
     :class:`RuntimeError` naming the op and how to install full mmcv. The
     real :mod:`mmcv.ops` then imports unchanged: its classes can be built,
     subclassed and registered, its pure-PyTorch parts (``point_sample``,
     ...) work, and a compiled kernel raises when it is called.
   - *Scope:* installed only when the ``mmcv-lite`` distribution is
     installed and mmcv's package folder holds no ``_ext`` extension (looked
     up without importing mmcv). Full mmcv, even beside a leftover
     mmcv-lite, gets nothing; so does a full mmcv whose extension is missing
     or broken, whose own error then reaches the user.
   - *Limit:* it works only in processes that import :mod:`arsam_mm`. A
     config without ``custom_imports = dict(imports=['arsam_mm'])`` run by
     mmseg's or mmpose's own ``tools/train.py`` still fails with
     ``No module named 'mmcv._ext'`` (the README's troubleshooting section
     says so): no code of this package runs in such a process, and a
     ``.pth`` start-up hook that would run in every Python process of the
     environment is the kind of global side effect this module avoids.

2. **torch.load under torch >= 2.6 with mmengine 0.10.**

   - *Who needs it:* torch >= 2.6 (``weights_only=True`` by default) with
     mmengine installed; mmengine 0.10 calls :func:`torch.load` without
     ``weights_only``, so resuming and ``load_from`` fail on the numpy and
     mmengine objects a Runner checkpoint holds.
   - *What:* exactly those globals are allow-listed with
     :func:`torch.serialization.add_safe_globals`: numpy arrays, scalars and
     dtypes (numpy 1 and numpy 2 spellings), mmengine's ``HistoryBuffer``
     and a ``getattr`` that resolves only the (class, attribute) pairs of
     :data:`_GETATTR_ALLOWED`. ``weights_only`` stays on, so a checkpoint
     carrying any other global is still refused: an untrusted checkpoint
     cannot run code.
   - *Scope:* torch's allow-list is per process (torch offers no per-call
     hook that mmengine's calls would pass through), so the entries also
     apply to other ``torch.load(weights_only=True)`` calls of the process;
     they are inert data types only. Nothing happens on torch < 2.6 or
     without mmengine.

What is deliberately not here: a torchvision fallback. The pinned
``torch``/``torchvision`` pair imports, mmpretrain needs a real torchvision,
and a missing or mismatched torchvision is best reported by its own import
error (install the torchvision build that matches your torch).
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import pickle
import re
import sys
import types
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = [
    'apply_compat', 'mmcv_ops_available', 'mmcv_lite_installed',
    'install_mmcv_ext_stub', 'allow_mmengine_checkpoint_globals'
]

_MMCV_EXT = 'mmcv._ext'

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


def mmcv_lite_installed() -> bool:
    """Tell whether the ``mmcv-lite`` distribution is installed.

    Returns:
        bool: Whether its metadata is found on :data:`sys.path`.
    """
    try:
        importlib.metadata.distribution('mmcv-lite')
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


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
        '`mmcv._ext`), but the installed mmcv has none (mmcv-lite; arsam_mm '
        'stands in for the extension so that mmcv.ops imports). '
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
    """Finds ``mmcv._ext``, and nothing else, when no other finder does."""

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


def install_mmcv_ext_stub() -> bool:
    """Let ``import mmcv._ext`` fall back to the raising stand-in, on
    mmcv-lite only.

    The finder goes last on :data:`sys.meta_path`, so a real extension is
    always found first. Calling it again changes nothing.

    Returns:
        bool: Whether the stand-in is in place (mmcv-lite without
        ``mmcv._ext``).
    """
    if _MMCV_EXT_FINDER in sys.meta_path:
        return True
    if (_find_spec_quietly('mmcv') is None or mmcv_ops_available()
            or not mmcv_lite_installed()):
        return False
    sys.meta_path.append(_MMCV_EXT_FINDER)
    return True


# ---------------------------------------------------------------------------
# 2. torch.load(weights_only=True) and mmengine checkpoints
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
    # FSDPStrategy's local checkpoints (ShardedTensor's pickled state).
    'torch.distributed._shard.sharded_tensor.api.ShardedTensor':
    ('ProcessGroupState', ),
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
    from mmengine.logging.history_buffer import HistoryBuffer
    entries: List[Any] = [HistoryBuffer]
    if named:
        entries += [(_checkpoint_getattr, 'builtins.getattr'),
                    (_ONE_CYCLE, _ONE_CYCLE.path)]
    return entries


def _sharded_tensor_safe_globals() -> List[Any]:
    """List torch's ``ShardedTensor`` classes: the model and optimizer state
    of mmengine's ``FSDPStrategy`` checkpoints with the (default) local
    state dict hold them.

    Returns:
        list: Entries for :func:`torch.serialization.add_safe_globals`;
        empty without ``torch.distributed``.
    """
    import torch
    if not torch.distributed.is_available():
        return []
    try:
        from torch.distributed._shard.metadata import ShardMetadata
        from torch.distributed._shard.sharded_tensor.api import ShardedTensor
        from torch.distributed._shard.sharded_tensor.metadata import (
            MEM_FORMAT_ENCODING, ShardedTensorMetadata, TensorProperties)
        from torch.distributed._shard.sharded_tensor.shard import Shard
        from torch.distributed._shard.sharding_spec import ChunkShardingSpec
        from torch.distributed.remote_device import _remote_device
    except ImportError:  # moved in another torch version
        return []
    return [
        ShardedTensor, ShardedTensor.ProcessGroupState, Shard,
        ShardMetadata, ShardedTensorMetadata, TensorProperties,
        MEM_FORMAT_ENCODING, ChunkShardingSpec, _remote_device
    ]


def allow_mmengine_checkpoint_globals() -> bool:
    """Allow-list the globals of mmengine checkpoints for ``torch.load``.

    Only on torch >= 2.6, where ``weights_only=True`` is the default, and
    with mmengine installed. The entries are numpy arrays, scalars and
    dtypes, mmengine's ``HistoryBuffer``, a ``getattr`` restricted to the
    attributes in :data:`_GETATTR_ALLOWED` and torch's ``ShardedTensor``
    classes (``FSDPStrategy``'s local checkpoints). Calling it again changes
    nothing.

    Returns:
        bool: Whether globals were allow-listed.
    """
    if (_find_spec_quietly('torch') is None
            or _find_spec_quietly('mmengine') is None
            or _torch_version() < (2, 6)):
        return False
    import torch
    named = _named_safe_globals_supported()
    entries = _numpy_safe_globals(named) + _mmengine_safe_globals(named)
    entries += _sharded_tensor_safe_globals()
    torch.serialization.add_safe_globals(entries)
    return True


def apply_compat() -> None:
    """Apply both parts where they are needed; safe to call repeatedly."""
    install_mmcv_ext_stub()
    allow_mmengine_checkpoint_globals()
