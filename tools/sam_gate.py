"""SAM against the base optimizer, paired by seed, from a suite's records.

    python tools/sam_gate.py WORK_DIR [WORK_DIR ...] [--seeds 3 4 5 6 7]

Prints one Markdown table per work dir (of ``tools/benchmark.py``): for
each task whose base optimizer and SAM ran without a budget, SAM minus the
base optimizer with its 95% interval (a paired t test over the shared
seeds) on the best validation metric of each run (what a setting search
selects on), the final test metric and the test metric at the best-on-val
checkpoint. ``--seeds`` restricts it to some seeds: a setting chosen on
some seeds is confirmed on fresh ones.
"""
import argparse
from pathlib import Path
from typing import Optional, Sequence

from arsam_mm.benchmark.gate import sam_gate
from arsam_mm.benchmark.markdown import gate_markdown
from arsam_mm.benchmark.records import RECORDS_FILE, load_records


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description='SAM minus the base optimizer, paired by seed, from '
        'benchmark records (val at the best validation, test final, test '
        'at the best-on-val checkpoint).')
    parser.add_argument('work_dirs', nargs='+', metavar='WORK_DIR',
                        help='work dirs of tools/benchmark.py')
    parser.add_argument('--seeds', type=int, nargs='+',
                        help='only these seeds (default: every seed both '
                        'variants ran)')
    args = parser.parse_args(argv)
    for work_dir in args.work_dirs:
        path = Path(work_dir) / RECORDS_FILE
        if not path.exists():
            parser.error(f'WORK_DIR {work_dir!r} holds no {RECORDS_FILE}')
        gate = sam_gate(load_records(path)['records'], seeds=args.seeds)
        if not gate:
            parser.error(f'WORK_DIR {work_dir!r}: no task with base and SAM '
                         'runs on 2 or more shared seeds'
                         + (f' among seeds {args.seeds}' if args.seeds
                            else ''))
        print(f'{work_dir}\n\n{gate_markdown(gate)}\n')


if __name__ == '__main__':
    main()
