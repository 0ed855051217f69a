"""Whether a model can run the second pass, checked before the first
iteration.

The second pass runs inside mmengine's own ``BaseModel.train_step``
(through ``optim_context`` and ``update_params``) and replays the data
preprocessor's output, so the model must be a ``BaseModel`` that keeps
mmengine's ``train_step`` and has a ``data_preprocessor`` module. mmengine's
``DeepSpeedStrategy`` and ``ColossalAIStrategy`` step through their own
engines and cannot run it at all.
"""
from typing import Any

from mmengine.model import BaseModel, is_model_wrapper
from torch import nn

__all__ = ['check_model', 'check_strategy', 'data_preprocessor']

#: (package, mmengine's wrapper class, strategy, why it cannot work).
_UNSUPPORTED_STRATEGIES = (
    ('deepspeed', 'MMDeepSpeedEngineWrapper', 'DeepSpeedStrategy',
     'DeepSpeed routes backward and the optimizer step through its engine '
     '(its train_step never enters optim_context) and under ZeRO-2/3 frees '
     'p.grad once reduced, so there is no gradient to perturb the weights '
     'with or to replace by the SAM gradient'),
    ('colossalai', 'ColossalAIModelWrapper', 'ColossalAIStrategy',
     'ColossalAI steps through its booster and requires its own optimizer '
     'wrapper class (ColossalAIOptimWrapper)'),
)


def check_strategy(model: Any, wrapper: str) -> None:
    """Refuse a model prepared by a strategy the family cannot run under.

    Args:
        model: The training model as the strategy wrapped it.
        wrapper (str): The optimizer wrapper's class name, for the message.

    Raises:
        ValueError: Under mmengine's ``DeepSpeedStrategy`` or
            ``ColossalAIStrategy`` (recognised by the wrapper classes and
            the packages of the model's classes), saying why.
    """
    for cls in type(model).__mro__:
        package = cls.__module__.split('.')[0]
        for pkg, name, strategy, why in _UNSUPPORTED_STRATEGIES:
            if package == pkg or cls.__name__ == name:
                raise ValueError(
                    f'{wrapper} cannot train a model prepared by mmengine\'s '
                    f'{strategy} ({type(model).__name__}): {why}. Use the '
                    'Runner, or the FlexibleRunner with DDPStrategy or '
                    'FSDPStrategy')


def check_model(model: Any, wrapper: str) -> None:
    """Refuse a model the second pass cannot run in.

    Args:
        model: The training model (possibly wrapped by a strategy).
        wrapper (str): The optimizer wrapper's class name, for the message.

    Raises:
        ValueError: For a model that overrides ``train_step`` (GANs with an
            ``OptimWrapperDict`` do this) or is not a ``BaseModel``, one
            without a data preprocessor module, and under DeepSpeed or
            ColossalAI (:func:`check_strategy`).
    """
    check_strategy(model, wrapper)
    module = model.module if is_model_wrapper(model) else model
    if not isinstance(module, BaseModel) or \
            type(module).train_step is not BaseModel.train_step:
        raise ValueError(
            f'{wrapper} cannot train '
            f'{type(module).__name__}: it overrides train_step (or is '
            'not an mmengine BaseModel), and the second pass runs inside '
            "mmengine's own train_step (models with several optimizers, "
            'OptimWrapperDict, e.g. GANs, are not supported)')
    if not isinstance(
            getattr(module, 'data_preprocessor', None), nn.Module):
        raise ValueError(
            f'{wrapper} needs a model with a '
            '`data_preprocessor` module (pass 2 replays its output); '
            f'{type(module).__name__} has none')


def data_preprocessor(module: nn.Module, wrapper: str) -> nn.Module:
    """The model's data preprocessor, whose output pass 2 replays.

    Args:
        module (nn.Module): The model, unwrapped.
        wrapper (str): The optimizer wrapper's class name, for the message.

    Raises:
        TypeError: For a model without a ``data_preprocessor`` module
            (outside a Runner, which :func:`check_model` refuses earlier).
    """
    preprocessor = getattr(module, 'data_preprocessor', None)
    if not isinstance(preprocessor, nn.Module):
        raise TypeError(
            f'{wrapper} needs a model with a `data_preprocessor` '
            'module (an mmengine BaseModel), got '
            f'{type(module).__name__}')
    return preprocessor
