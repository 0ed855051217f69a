"""LSQ quantization-aware training (Esser et al., arXiv 1902.08153).

- :mod:`.lsq`: the fake quantizer (learned step size, STE, gradient scale).
- :mod:`.qmodules`: ``QConv2d``, ``QConvTranspose2d``, ``QLinear``.
- :mod:`.convert`: :func:`quantize_model`, in-place conversion of a model.
- :mod:`.mm_model`: ``LSQQuantizedModel`` in mmengine's ``MODELS`` registry,
  for configs (imported here when mmengine is installed).

In a config: ``custom_imports = dict(imports=['arsam_mm',
'arsam_mm.quantization'])`` and ``model = dict(type='LSQQuantizedModel',
model=<float model config>, w_bits=4, a_bits=4)``.
"""
import importlib.util

from .convert import SUPPORTED_LAYERS, quantize_model, quantized_layers
from .lsq import (SUPPORTED_BITS, LSQQuantizer, check_bits, lsq_quantize,
                  quant_range)
from .qmodules import QConv2d, QConvTranspose2d, QLinear, QuantLayerMixin

__all__ = [
    'SUPPORTED_BITS', 'SUPPORTED_LAYERS', 'LSQQuantizer', 'check_bits',
    'lsq_quantize', 'quant_range', 'QuantLayerMixin', 'QConv2d',
    'QConvTranspose2d', 'QLinear', 'quantize_model', 'quantized_layers'
]

if importlib.util.find_spec('mmengine') is not None:
    from .mm_model import build_lsq_quantized_model  # noqa: F401
    __all__ += ['build_lsq_quantized_model']
