"""mmpretrain datasets that read CIFAR-format files from disk, offline.

mmpretrain 1.2.0's ``CIFAR10``/``CIFAR100`` check every batch file against
the md5 of the official archive on each load and, when one differs or is
missing, download the archive (``download=True``, the default) or fail. The
generated data sets of :mod:`arsam_mm.data` have the same format but other
bytes, so these subclasses replace only that check:

- every batch file must exist;
- when the folder holds ``arsam_mm_meta.json`` (written by the generators),
  each file's md5 must match the one recorded there; the official files
  (no such record) are accepted as they are;
- nothing is ever downloaded: a missing file raises ``FileNotFoundError``
  that says how to generate the data;
- ``split='val'`` reads the validation batch the generators write apart
  from the test batch (``val_batch``; CIFAR-100 layout ``val``;
  ``tools/generate_data.py digits --val-fraction``).

Reading is the parent's code, unchanged. Use them in a config with::

    custom_imports = dict(imports=['arsam_mm', 'arsam_mm.mmpretrain'])
    train_dataloader = dict(dataset=dict(type='LocalCIFAR10', ...))

(:mod:`arsam_mm.mmpretrain` imports this module and the CIFAR backbones.)
Importing this module imports mmpretrain (and so torchvision); the
generators and ``import arsam_mm`` do not.
"""
import json
import os.path as osp
from typing import Optional

from mmengine.fileio import exists, join_path
from mmpretrain.datasets import CIFAR10, CIFAR100
from mmpretrain.datasets.utils import calculate_md5
from mmpretrain.registry import DATASETS

from ._common import META_FILE
from .cifar import CIFAR_LAYOUTS

__all__ = ['LocalCIFAR10', 'LocalCIFAR100']


class _LocalMixin:
    """Integrity check against the generator's md5 record; no download."""

    _generator = ''

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 download: bool = False,
                 **kwargs) -> None:
        if download:
            raise ValueError(
                f'{type(self).__name__} never downloads; got download='
                f'{download!r}')
        if split not in ('train', 'test', 'val'):
            raise ValueError("split must be 'train', 'test' or 'val', got "
                             f'{split!r}')
        if split == 'val':  # read as the parent reads a test split
            self.test_list = [[name, None] for name in CIFAR_LAYOUTS[
                self._generator]['val']]
        super().__init__(  # type: ignore[call-arg]
            data_root=data_root, split='test' if split == 'val' else split,
            download=False, **kwargs)
        self.split = split

    def _batch_folder(self) -> str:
        return join_path(self.data_prefix['root'], self.base_folder)

    def _expected_md5(self) -> Optional[dict]:
        path = osp.join(self._batch_folder(), META_FILE)
        if not osp.isfile(path):
            return None
        with open(path, encoding='utf-8') as f:
            return json.load(f).get('md5')

    def _check_integrity(self) -> bool:
        """Whether every batch file exists (and matches its recorded md5)."""
        folder = self._batch_folder()
        md5s = self._expected_md5() or {}
        for filename, _ in self.train_list + self.test_list:
            path = join_path(folder, filename)
            if not exists(path):
                return False
            if filename in md5s and calculate_md5(path) != md5s[filename]:
                return False
        return True

    def load_data_list(self):
        """Check the files, then read them with the parent's code."""
        if not self._check_integrity():
            folder = self._batch_folder()
            raise FileNotFoundError(
                f'{type(self).__name__}: missing or altered batch files in '
                f'{folder}. Generate data with `python tools/generate_data.py'
                f' {self._generator} --out {self.data_prefix["root"]}`, or '
                f'extract the official {self.filename} there.')
        return super().load_data_list()


@DATASETS.register_module()
class LocalCIFAR10(_LocalMixin, CIFAR10):
    """``CIFAR10`` that reads generated or local files and never downloads.

    Args:
        data_root (str): Folder that holds ``cifar-10-batches-py``.
        split (str): ``'train'``, ``'test'`` or ``'val'`` (the generators'
            validation batch). Defaults to ``'train'``.
        download (bool): Must be False (kept for config compatibility).
        **kwargs: Other arguments of ``CIFAR10``.
    """
    _generator = 'cifar10'
    meta = dict(CIFAR10.meta, md5=None)


@DATASETS.register_module()
class LocalCIFAR100(_LocalMixin, CIFAR100):
    """``CIFAR100`` that reads generated or local files and never downloads.

    Args:
        data_root (str): Folder that holds ``cifar-100-python``.
        split (str): ``'train'``, ``'test'`` or ``'val'`` (the generators'
            validation batch). Defaults to ``'train'``.
        download (bool): Must be False (kept for config compatibility).
        **kwargs: Other arguments of ``CIFAR100``.
    """
    _generator = 'cifar100'
    meta = dict(CIFAR100.meta, md5=None)
