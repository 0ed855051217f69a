"""A validation loop that also scores a held-out test split.

Selecting anything on the split that reports it (the best checkpoint, a
setting) flatters the reported figure. :class:`ValTestLoop` keeps the two
apart within one run: at every validation it evaluates the validation
dataloader with the validation evaluator, as ``ValLoop`` does (every hook
sees it as usual), and then the test dataloader with the test evaluator,
without calling hooks for the test batches. The test metrics join the
validation metrics under a ``test/`` prefix, after them, so hooks that pick
the first metric (``CheckpointHook(save_best='auto')``) and anything else
that selects still see validation first, and loggers and recorders get the
whole curve: both scores at every validation. The random states (Python,
numpy, torch) are restored after the test pass (a DataLoader draws its
base seed from torch's generator each time it is iterated), so a run that
scores its test split trains, and validates, bit for bit as one that does
not.

It is registered in mmengine's root ``LOOPS`` (found from every toolbox's
scope) and is active only where a config asks for it::

    val_cfg = dict(type='ValTestLoop', test_dataloader=test_dataloader,
                   test_evaluator=test_evaluator)

``tools/benchmark.py`` does so for its frontier runs
(:func:`arsam_mm.benchmark.worker.score_test_split`).
"""
import random
from contextlib import contextmanager
from typing import Dict, Iterator, List, Union

import numpy as np
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import LOOPS
from mmengine.runner import ValLoop
from mmengine.runner.amp import autocast
from torch.utils.data import DataLoader

__all__ = ['ValTestLoop', 'TEST_PREFIX']

#: The prefix of the test metrics among the validation metrics.
TEST_PREFIX = 'test'


@contextmanager
def _rng_kept() -> Iterator[None]:
    """Restore Python's, numpy's and torch's (CPU and initialised CUDA)
    random states on exit."""
    py, npy, cpu = random.getstate(), np.random.get_state(), \
        torch.get_rng_state()
    cuda = (torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() and torch.cuda.is_initialized()
            else None)
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


@LOOPS.register_module()
class ValTestLoop(ValLoop):
    """``ValLoop`` that also scores the test split at every validation.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The validation dataloader.
        evaluator (Evaluator | dict | list): The validation evaluator.
        test_dataloader (DataLoader | dict): The test dataloader.
        test_evaluator (Evaluator | dict | list): The test evaluator.
        fp16 (bool): Evaluate both under autocast. Defaults to False.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 test_dataloader: Union[DataLoader, Dict],
                 test_evaluator: Union[Evaluator, Dict, List],
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        if isinstance(test_dataloader, dict):  # as BaseLoop builds its own
            diff_rank_seed = runner._randomness_cfg.get(
                'diff_rank_seed', False)
            with _rng_kept():
                test_dataloader = runner.build_dataloader(
                    test_dataloader, seed=runner.seed,
                    diff_rank_seed=diff_rank_seed)
        self.test_dataloader = test_dataloader
        if isinstance(test_evaluator, (dict, list)):
            test_evaluator = runner.build_evaluator(test_evaluator)
        self.test_evaluator = test_evaluator
        meta = getattr(test_dataloader.dataset, 'metainfo', None)
        if meta is not None:
            self.test_evaluator.dataset_meta = meta

    def run(self) -> dict:
        """Validate as ``ValLoop.run`` (mmengine 0.10) does, and add the
        test metrics (:meth:`score_test`) before ``after_val_epoch``."""
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        self.runner.model.eval()
        losses = getattr(self, 'val_loss', None)  # mmengine >= 0.10.2
        if losses is not None:
            losses.clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if losses:
            from mmengine.runner.loops import _parse_losses
            metrics.update(_parse_losses(losses, 'val'))
        with _rng_kept():
            metrics.update(self.score_test())
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics

    @torch.no_grad()
    def score_test(self) -> Dict[str, float]:
        """The test evaluator's metrics on the test dataloader, each named
        ``test/<name>`` (no hooks are called for these batches).

        Returns:
            dict: The prefixed metrics.
        """
        self.runner.model.eval()
        for data_batch in self.test_dataloader:
            with autocast(enabled=self.fp16):
                outputs = self.runner.model.test_step(data_batch)
            self.test_evaluator.process(data_samples=outputs,
                                        data_batch=data_batch)
        metrics = self.test_evaluator.evaluate(
            len(self.test_dataloader.dataset))
        return {f'{TEST_PREFIX}/{k}': v for k, v in metrics.items()}
