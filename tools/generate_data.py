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
"""
import argparse
import time
from typing import Any, Dict, List, Optional

from arsam_mm.data import (write_ade20k, write_cifar, write_cityscapes,
                           write_coco_keypoints, write_digits,
                           write_imagenet)


def _size(text: str) -> List[int]:
    """``'256x512'`` -> ``[256, 512]`` (height x width)."""
    parts = text.lower().split('x')
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f'expected HEIGHTxWIDTH such as 256x512, got {text!r}')
    return [int(p) for p in parts]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write small generated data sets in the Cityscapes, '
        'ADE20K, COCO keypoints, ImageNet and CIFAR formats (no network '
        'needed)')
    sub = parser.add_subparsers(dest='command', required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            '--out', required=True, help='output folder (the data_root)')
        p.add_argument('--seed', type=int, default=0, help='seed (default 0)')
        p.add_argument(
            '--overwrite',
            action='store_true',
            help='replace earlier output of this generator in --out')
        return p

    p = add('cityscapes', 'shapes on a background, Cityscapes layout')
    p.add_argument('--num-train', type=int, default=64)
    p.add_argument('--num-val', type=int, default=16)
    p.add_argument('--num-test', type=int, default=0,
                   help='test images apart from val (default 0: none)')
    p.add_argument(
        '--size', type=_size, default=[256, 512], help='HxW (256x512)')
    p.add_argument(
        '--label-noise',
        type=float,
        default=0.0,
        help='probability that a shape of a train image gets a wrong '
        'class (default 0)')

    p = add('ade20k', 'shapes on a background, ADE20K layout')
    p.add_argument('--num-train', type=int, default=32)
    p.add_argument('--num-val', type=int, default=8)
    p.add_argument(
        '--size', type=_size, default=[256, 320], help='HxW (256x320)')

    p = add('coco', 'stick figures, COCO person keypoints')
    p.add_argument('--num-train', type=int, default=128, help='images')
    p.add_argument('--num-val', type=int, default=32, help='images')
    p.add_argument('--num-test', type=int, default=0,
                   help='test images apart from val (default 0: none)')
    p.add_argument(
        '--size', type=_size, default=[256, 320], help='HxW (256x320)')
    p.add_argument('--max-persons', type=int, default=2)
    p.add_argument(
        '--keypoint-noise',
        type=float,
        default=0.0,
        help='train keypoints jittered by a Gaussian of this std times the '
        "person's size (default 0)")
    p.add_argument(
        '--swap-prob',
        type=float,
        default=0.0,
        help="probability of swapping a train person's left/right labels "
        '(default 0)')
    p.add_argument(
        '--instances',
        action='store_true',
        help='also write annotations/instances_*2017.json (the names of '
        "mmdet's COCO detection configs)")

    p = add('imagenet', 'coloured patterns, ImageNet folders and meta lists')
    p.add_argument('--num-train', type=int, default=64)
    p.add_argument('--num-val', type=int, default=16)
    p.add_argument('--num-classes', type=int, default=10)
    p.add_argument('--size', type=_size, default=[64, 64], help='HxW (64x64)')

    for variant in ('cifar10', 'cifar100'):
        p = add(variant, f'coloured patterns, {variant.upper()} batch files')
        p.add_argument('--num-train', type=int, default=5000)
        p.add_argument('--num-test', type=int, default=1000)

    p = add('digits', "scikit-learn's handwritten digits as CIFAR-10, "
            'optional label noise on the train split')
    p.add_argument('--test-fraction', type=float, default=0.25,
                   help='share of each class held out from training '
                   '(default 0.25): the test split, or val + test with '
                   '--val-fraction')
    p.add_argument('--val-fraction', type=float, default=None,
                   help='share of each class in a val split taken out of '
                   'the held-out share (below --test-fraction; default: '
                   'no val split)')
    p.add_argument(
        '--noise-rate',
        type=float,
        default=0.0,
        help='share of train labels flipped to another class (default 0)')
    p.add_argument(
        '--variant',
        choices=('cifar10', 'cifar100'),
        default='cifar10',
        help='file layout (default cifar10)')
    return parser.parse_args(argv)


def generate(args: argparse.Namespace) -> Dict[str, Any]:
    """Call the generator that ``args.command`` names.

    Args:
        args (argparse.Namespace): Parsed command line.

    Returns:
        dict: The generator's record of what it wrote.
    """
    common = dict(seed=args.seed, overwrite=args.overwrite)
    if args.command == 'cityscapes':
        return write_cityscapes(
            args.out,
            num_train=args.num_train,
            num_val=args.num_val,
            size=tuple(args.size),
            label_noise=args.label_noise,
            num_test=args.num_test,
            **common)
    if args.command == 'ade20k':
        return write_ade20k(
            args.out,
            num_train=args.num_train,
            num_val=args.num_val,
            size=tuple(args.size),
            **common)
    if args.command == 'coco':
        return write_coco_keypoints(
            args.out,
            num_train=args.num_train,
            num_val=args.num_val,
            image_size=tuple(args.size),
            max_persons=args.max_persons,
            keypoint_noise=args.keypoint_noise,
            swap_prob=args.swap_prob,
            instances=args.instances,
            num_test=args.num_test,
            **common)
    if args.command == 'imagenet':
        return write_imagenet(
            args.out,
            num_train=args.num_train,
            num_val=args.num_val,
            num_classes=args.num_classes,
            image_size=tuple(args.size),
            **common)
    if args.command in ('cifar10', 'cifar100'):
        return write_cifar(
            args.out,
            variant=args.command,
            num_train=args.num_train,
            num_test=args.num_test,
            **common)
    return write_digits(
        args.out,
        test_fraction=args.test_fraction,
        noise_rate=args.noise_rate,
        variant=args.variant,
        val_fraction=args.val_fraction,
        **common)


def summary(command: str, record: Dict[str, Any], seconds: float) -> str:
    """One line that says what was written where."""
    test = (f" + {record['num_test']} test" if record.get('num_test')
            else '')
    if command == 'cityscapes':
        h, w = record['size']
        what = (f"{record['num_train']} train + {record['num_val']} val"
                f'{test} images ({h}x{w}, 19 classes)')
    elif command == 'ade20k':
        h, w = record['size']
        what = (f"{record['num_train']} train + {record['num_val']} val "
                f'images ({h}x{w}, 19 of the 150 classes)')
    elif command == 'coco':
        h, w = record['image_size']
        what = (f"{record['num_train']} train + {record['num_val']} val"
                f"{test} images ({h}x{w}; {record['num_train_instances']} "
                f"+ {record['num_val_instances']}" + (
                    f" + {record['num_test_instances']}" if test else '') +
                ' persons)')
        if 'keypoint_noise' in record:
            what += (f"; train keypoint noise {record['keypoint_noise']:g}, "
                     f"{record['num_swapped']} left/right swapped")
    elif command == 'imagenet':
        h, w = record['image_size']
        what = (f"{record['num_train']} train + {record['num_val']} val "
                f"images ({h}x{w}, {record['num_classes']} classes)")
    elif command == 'digits':
        val = (f" + {record['num_val']} val" if 'num_val' in record
               else '')
        what = (f"{record['num_train']} train{val} + {record['num_test']} "
                f"test digits as {record['variant']}, noise_rate "
                f"{record['noise_rate']:g} ({record['num_flipped']} train "
                'labels flipped)')
    else:
        what = (f"{record['num_train']} train + {record['num_test']} test "
                f"images, {len(record['classes'])} classes")
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
