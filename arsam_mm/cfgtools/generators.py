"""The data generators of :mod:`arsam_mm.data`, in one table.

:data:`GENERATORS` lists each generator once, with what
``tools/generate_data.py`` builds from it (the sub-command, its options and
its one-line summary). :data:`DATASETS` says which generated data each
dataset type reads: ``--smoke`` (:mod:`.smoke`) writes it, and the missing
data check (:mod:`.data_roots`) names the command that writes it.
"""
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ..data import (write_ade20k, write_cifar, write_cityscapes,
                    write_coco_keypoints, write_digits, write_imagenet)

__all__ = [
    'Option', 'Generator', 'GENERATORS', 'Source', 'DATASETS', 'SMOKE_DATA',
    'source_of'
]


@dataclass(frozen=True)
class Option:
    """A command-line option of a generator, for one writer argument.

    Args:
        flag (str): ``'--num-train'``; the writer argument is its name
            (``num_train``) unless ``argument`` is given.
        help (str): Help text. Defaults to ``''``.
        argument (str, optional): The writer argument it sets.
        kind (str): ``'int'``, ``'float'``, ``'size'`` (``HxW``, passed as
            an ``(h, w)`` tuple), ``'flag'`` (``store_true``) or
            ``'choice'``. Defaults to ``'int'``.
        choices (tuple, optional): The values of a ``'choice'`` option.
    """
    flag: str
    help: str = ''
    argument: Optional[str] = None
    kind: str = 'int'
    choices: Optional[Tuple[str, ...]] = None

    @property
    def dest(self) -> str:
        """The writer argument (and the argparse destination)."""
        return self.argument or self.flag.lstrip('-').replace('-', '_')


@dataclass(frozen=True)
class Generator:
    """One data generator: a writer and its ``generate_data.py``
    sub-command.

    Args:
        name (str): The sub-command.
        help (str): What it writes, in a few words.
        write (Callable): The writer (``write(out_dir, **arguments)``).
        options (tuple[Option]): Its options beyond ``--out``, ``--seed``
            and ``--overwrite``; defaults are the writer's.
        describe (Callable): ``record -> str``: what the writer's record
            says was written (the summary line's middle).
        fixed (Mapping): Writer arguments the sub-command fixes.
    """
    name: str
    help: str
    write: Callable[..., Dict[str, Any]]
    options: Tuple[Option, ...]
    describe: Callable[[Dict[str, Any]], str]
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def generate(self, out_dir: str, **arguments: Any) -> Dict[str, Any]:
        """Call the writer with the fixed arguments and ``arguments``;
        returns its record."""
        return self.write(out_dir, **self.fixed, **arguments)

    def default(self, option: Option) -> Any:
        """The writer's default of ``option``'s argument."""
        return inspect.signature(
            self.write).parameters[option.dest].default


def _test(record: Dict[str, Any]) -> str:
    return f" + {record['num_test']} test" if record.get('num_test') else ''


def _describe_cityscapes(record: Dict[str, Any]) -> str:
    h, w = record['size']
    return (f"{record['num_train']} train + {record['num_val']} val"
            f'{_test(record)} images ({h}x{w}, 19 classes)')


def _describe_ade20k(record: Dict[str, Any]) -> str:
    h, w = record['size']
    return (f"{record['num_train']} train + {record['num_val']} val "
            f'images ({h}x{w}, 19 of the 150 classes)')


def _describe_coco(record: Dict[str, Any]) -> str:
    h, w = record['image_size']
    test = _test(record)
    what = (f"{record['num_train']} train + {record['num_val']} val"
            f"{test} images ({h}x{w}; {record['num_train_instances']} "
            f"+ {record['num_val_instances']}" +
            (f" + {record['num_test_instances']}" if test else '') +
            ' persons)')
    if 'keypoint_noise' in record:
        what += (f"; train keypoint noise {record['keypoint_noise']:g}, "
                 f"{record['num_swapped']} left/right swapped")
    return what


def _describe_imagenet(record: Dict[str, Any]) -> str:
    h, w = record['image_size']
    return (f"{record['num_train']} train + {record['num_val']} val "
            f"images ({h}x{w}, {record['num_classes']} classes)")


def _describe_cifar(record: Dict[str, Any]) -> str:
    return (f"{record['num_train']} train + {record['num_test']} test "
            f"images, {len(record['classes'])} classes")


def _describe_digits(record: Dict[str, Any]) -> str:
    val = f" + {record['num_val']} val" if 'num_val' in record else ''
    return (f"{record['num_train']} train{val} + {record['num_test']} "
            f"test digits as {record['variant']}, noise_rate "
            f"{record['noise_rate']:g} ({record['num_flipped']} train "
            'labels flipped)')


_NUM_TEST = Option('--num-test',
                   'test images apart from val (default 0: none)')

#: Every generator of :mod:`arsam_mm.data`, by sub-command.
GENERATORS: Dict[str, Generator] = {
    g.name: g
    for g in (
        Generator(
            'cityscapes', 'shapes on a background, Cityscapes layout',
            write_cityscapes,
            (Option('--num-train'), Option('--num-val'), _NUM_TEST,
             Option('--size', 'HxW (256x512)', kind='size'),
             Option('--label-noise', 'probability that a shape of a train '
                    'image gets a wrong class (default 0)', kind='float')),
            _describe_cityscapes),
        Generator(
            'ade20k', 'shapes on a background, ADE20K layout', write_ade20k,
            (Option('--num-train'), Option('--num-val'),
             Option('--size', 'HxW (256x320)', kind='size')),
            _describe_ade20k),
        Generator(
            'coco', 'stick figures, COCO person keypoints',
            write_coco_keypoints,
            (Option('--num-train', 'images'), Option('--num-val', 'images'),
             _NUM_TEST,
             Option('--size', 'HxW (256x320)', 'image_size', kind='size'),
             Option('--max-persons'),
             Option('--keypoint-noise', 'train keypoints jittered by a '
                    "Gaussian of this std times the person's size "
                    '(default 0)', kind='float'),
             Option('--swap-prob', "probability of swapping a train "
                    "person's left/right labels (default 0)", kind='float'),
             Option('--instances', 'also write annotations/instances_*2017'
                    ".json (the names of mmdet's COCO detection configs)",
                    kind='flag')),
            _describe_coco),
        Generator(
            'imagenet', 'coloured patterns, ImageNet folders and meta lists',
            write_imagenet,
            (Option('--num-train'), Option('--num-val'),
             Option('--num-classes'),
             Option('--size', 'HxW (64x64)', 'image_size', kind='size')),
            _describe_imagenet),
        *(Generator(
            variant, f'coloured patterns, {variant.upper()} batch files',
            write_cifar, (Option('--num-train'), Option('--num-test')),
            _describe_cifar, fixed={'variant': variant})
          for variant in ('cifar10', 'cifar100')),
        Generator(
            'digits', "scikit-learn's handwritten digits as CIFAR-10, "
            'optional label noise on the train split', write_digits,
            (Option('--test-fraction', 'share of each class held out from '
                    'training (default 0.25): the test split, or val + test '
                    'with --val-fraction', kind='float'),
             Option('--val-fraction', 'share of each class in a val split '
                    'taken out of the held-out share (below '
                    '--test-fraction; default: no val split)',
                    kind='float'),
             Option('--noise-rate', 'share of train labels flipped to '
                    'another class (default 0)', kind='float'),
             Option('--variant', 'file layout (default cifar10)',
                    kind='choice', choices=('cifar10', 'cifar100'))),
            _describe_digits),
    )
}


@dataclass(frozen=True)
class Source:
    """The generated data a dataset type reads.

    Args:
        generator (str): A key of :data:`GENERATORS`.
        smoke (Mapping, optional): The writer's arguments for ``--smoke``
            data; None: ``--smoke`` has none (the dataset checks the
            official files' md5s).
        folder (str, optional): The ``--smoke`` data's folder under the
            cache. Defaults to ``generator``.
    """
    generator: str
    smoke: Optional[Mapping[str, Any]] = None
    folder: Optional[str] = None

    @property
    def smoke_folder(self) -> str:
        """Folder of its ``--smoke`` data under the cache."""
        return self.folder or self.generator


_SMOKE_COCO = dict(num_train=4, num_val=2, image_size=(256, 320))

#: Dataset type -> the generated data it reads with its model-zoo settings.
#: A ``scope.Type`` key wins over ``Type`` for datasets of that scope:
#: ``CocoDataset`` is mmpose's (person keypoints), mmdet's reads the same
#: data under its detection file names (``generate_data.py coco
#: --instances``). mmpretrain's ``CIFAR10``/``CIFAR100`` accept the official
#: files only: generated CIFAR data is read with ``LocalCIFAR10``/
#: ``LocalCIFAR100``.
DATASETS: Dict[str, Source] = {
    'CityscapesDataset':
    Source('cityscapes', dict(num_train=4, num_val=2, size=(256, 512))),
    'ADE20KDataset':
    Source('ade20k', dict(num_train=4, num_val=2, size=(256, 320))),
    'CocoDataset':
    Source('coco', _SMOKE_COCO),
    'mmdet.CocoDataset':
    Source('coco', dict(_SMOKE_COCO, instances=True), 'coco_detection'),
    'ImageNet':
    Source('imagenet', dict(num_train=8, num_val=4, image_size=(64, 64))),
    'LocalCIFAR10':
    Source('cifar10', dict(num_train=64, num_test=16)),
    'LocalCIFAR100':
    Source('cifar100', dict(num_train=64, num_test=16)),
    'CIFAR10':
    Source('cifar10'),
    'CIFAR100':
    Source('cifar100'),
}

#: ``--smoke`` data by folder name (:attr:`Source.smoke_folder`).
SMOKE_DATA: Dict[str, Source] = {
    s.smoke_folder: s
    for s in DATASETS.values() if s.smoke is not None
}


def source_of(kind: str, scope: Optional[str] = None) -> Optional[Source]:
    """The generated data a dataset type reads, or None.

    Args:
        kind (str): The dataset type without scope (``'CocoDataset'``).
        scope (str, optional): Its scope (``'mmdet'``); None or
            ``'mmpose'`` for the unscoped entries.

    Returns:
        Source | None: The entry of :data:`DATASETS`; None for a type
        without one, and for mmpose's keypoint ``CocoDataset`` of another
        scope than mmpose's.
    """
    source = DATASETS.get(f'{scope}.{kind}', DATASETS.get(kind))
    if kind == 'CocoDataset' and source is DATASETS['CocoDataset'] and \
            scope not in (None, 'mmpose'):
        return None  # e.g. mmpretrain's: not person keypoints
    return source
