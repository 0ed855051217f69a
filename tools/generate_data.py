"""Write small offline data sets for the downstream configs.

Usage::

    python tools/generate_data.py cityscapes --out data/cityscapes
    python tools/generate_data.py ade20k --out data/ade/ADEChallengeData2016
    python tools/generate_data.py coco --out data/coco [--instances]
    python tools/generate_data.py imagenet --out data/imagenet
    python tools/generate_data.py cifar10 --out data/cifar10
    python tools/generate_data.py cifar100 --out data/cifar100
    python tools/generate_data.py digits --out data/digits --noise-rate 0.2

``--num-test`` (cityscapes, coco) and ``--val-fraction`` (digits) add a
test split apart from val, for selection on val and reporting on test; the
other files stay those written without it.

``--out`` is the ``data_root`` of the dataset config. Each sub-command has
``--seed`` and size options (``--help``) and ``--overwrite`` to replace
earlier output. CIFAR-format data (``cifar10``, ``cifar100``, ``digits``) is
read with ``LocalCIFAR10``/``LocalCIFAR100`` (``arsam_mm.data.local_cifar``):
the stock mmpretrain classes only accept the official files' md5s.

The sub-commands, their options and their summaries come from the table of
generators, :data:`arsam_mm.cfgtools.generators.GENERATORS`.
"""
import argparse
import time
from typing import Any, Dict, List, Optional

from arsam_mm.cfgtools.generators import GENERATORS, Generator


def _size(text: str) -> List[int]:
    """``'256x512'`` -> ``[256, 512]`` (height x width)."""
    parts = text.lower().split('x')
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f'expected HEIGHTxWIDTH such as 256x512, got {text!r}')
    return [int(p) for p in parts]


_TYPES = {'int': int, 'float': float, 'size': _size}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write small generated data sets in the Cityscapes, '
        'ADE20K, COCO keypoints, ImageNet and CIFAR formats (no network '
        'needed)')
    sub = parser.add_subparsers(dest='command', required=True)
    for generator in GENERATORS.values():
        p = sub.add_parser(
            generator.name, help=generator.help, description=generator.help)
        p.add_argument(
            '--out', required=True, help='output folder (the data_root)')
        p.add_argument('--seed', type=int, default=0, help='seed (default 0)')
        p.add_argument(
            '--overwrite',
            action='store_true',
            help='replace earlier output of this generator in --out')
        for option in generator.options:
            kwargs: Dict[str, Any] = dict(dest=option.dest)
            if option.help:
                kwargs['help'] = option.help
            if option.kind == 'flag':
                kwargs['action'] = 'store_true'
            else:
                default = generator.default(option)
                kwargs['default'] = list(default) \
                    if option.kind == 'size' else default
                if option.kind == 'choice':
                    kwargs['choices'] = option.choices
                else:
                    kwargs['type'] = _TYPES[option.kind]
                    kwargs['metavar'] = option.flag.lstrip('-').replace(
                        '-', '_').upper()
            p.add_argument(option.flag, **kwargs)
    return parser.parse_args(argv)


def generate(args: argparse.Namespace) -> Dict[str, Any]:
    """Call the generator that ``args.command`` names.

    Args:
        args (argparse.Namespace): Parsed command line.

    Returns:
        dict: The generator's record of what it wrote.
    """
    generator: Generator = GENERATORS[args.command]
    arguments = {}
    for option in generator.options:
        value = getattr(args, option.dest)
        arguments[option.dest] = tuple(value) \
            if option.kind == 'size' else value
    return generator.generate(
        args.out, seed=args.seed, overwrite=args.overwrite, **arguments)


def summary(command: str, record: Dict[str, Any], seconds: float) -> str:
    """One line that says what was written where."""
    what = GENERATORS[command].describe(record)
    return (f'{command}: wrote {what} to {record["out_dir"]} '
            f'(seed {record["seed"]}, {seconds:.1f} s)')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        record = generate(args)
    except (ValueError, FileExistsError) as err:
        raise SystemExit(f'{args.command}: {err}')
    print(summary(args.command, record, time.perf_counter() - start))


if __name__ == '__main__':
    main()
