"""The config's own optimizer and the SAM family side by side.

    python tools/benchmark.py CONFIG [CONFIG ...] --optimizers base sam arsam \
        --iters N --repeats R [--work-dir DIR] [--cfg-options ...]
    python tools/benchmark.py CONFIG ... --budgets 0.1 0.2 0.3 0.5 --jobs 2
    python tools/benchmark.py --quick      # what `make bench` runs
    python tools/benchmark.py ZOO_CONFIG --smoke --iters 8 --budgets 0.5
        # a model-zoo config as it ships, shrunk onto generated data (CPU)
    python tools/benchmark.py ... --resume # keep the runs already done
    python tools/benchmark.py --work-dir DIR --report-only

Every finished run is recorded in WORK_DIR/records.json at once (the file
is replaced atomically), so an interrupted suite loses only the run in
progress: rerun the same command with --resume, or render the report of
what finished with --report-only. --resume refuses runs recorded with other
settings or from a config whose content has changed since.

Each (config, optimizer, budget, seed) trains in a fresh process on the
same seed, data and iteration budget; the report (JSON, Markdown, PNG plots)
goes to the work dir and the table is printed at the end.

With --budgets (shares of SAM steps), every budgeted method (ARSAM,
AE-SAM and late-phase SAM through target_ratio, periodic SAM and LookSAM
through interval, RandomSAM through prob) runs at each budget beside the
base optimizer and SAM, and the report adds each task's frontier: metric
against gradient evaluations and cost, and paired comparisons per budget
(seeds pair the runs; Holm over each budget's comparisons): which variant
is ahead, the share of SAM's gain each method keeps where SAM beats the
base optimizer, and the seeds each undecided comparison would need. Costs
come from each task's step costs, measured interleaved in one process
(--cost-rounds) and multiplied by every run's exact pass counts; the raw
wall-clock stays as a secondary column.

Frontier runs (--budgets, --quick) validate FRONTIER_EVALS times by default
and score each config's test split at every validation (--score-test, on by
default there): the settings are chosen on val, the report gives the final
and the best-on-val checkpoints' test metrics and the val and test curves,
and the frontier scores the final test metric. The configs need a test
split apart from val (QUICK's configs, data from `make data`).
"""
import argparse
import sys
from pathlib import Path
from typing import NoReturn, Optional, Sequence

from rich.console import Console
from rich.progress import Progress

from arsam_mm.benchmark.suite import run_suite, write_report
from arsam_mm.benchmark.variants import (BUDGETED, OPTIMIZERS,
                                         parse_method_args)
from arsam_mm.engine.cli import KeyValueAction

#: `make bench`: a small frontier of the three frontier tasks (generated data,
#: `make data`), each run for 40% of its iterations (at 30% the pose task's
#: AP is still 0), one seed, one budget, two runs at a time: 6.9 minutes on
#: the idle 2-core machine from a fresh clone, 9.2 with the venv
#: (reports/quick).
QUICK = dict(
    configs=[
        'configs/mmseg/frontier/'
        'fcn_r18-w32-2s-d4_1xb8-320iter_cityscapes-64x64-noise20-test_sgd.py',
        'configs/mmpose/frontier/'
        'td-hm_res18-half-s16_1xb16-300iter_coco-kpnoise-test-64x48_adam.py',
        'configs/classification/frontier/'
        'resnet18-w8_1xb16-600iter_digits-noise30-val35-test35_sgd.py',
    ],
    iters=None, iters_scale=0.4, repeats=1, evals=1, budgets=[0.3], jobs=2,
    cost_rounds=6)
#: The radius each frontier task was searched with
#: (reports/frontier/search_*.md); the segmentation task keeps --rho's 0.05.
#: LookSAM's alpha: the paper's 0.7 "was not suitable" for CIFAR ResNets
#: in the MSAM paper's reproduction (which used 0.1), and on the
#: classification frontier task it does not learn at all (reports/frontier).
QUICK['method_args'] = {'looksam.alpha': 0.1}
QUICK['task_rho'] = {
    Path(QUICK['configs'][1]).stem: 0.01,
    Path(QUICK['configs'][2]).stem: 0.1,
}
#: Without --quick.
DEFAULTS = dict(iters=200, iters_scale=1.0, repeats=3, evals=4, budgets=None,
                jobs=1, cost_rounds=20)
#: Validations per run of a frontier (--budgets), each scoring val and test.
FRONTIER_EVALS = 8


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, ``PROG:
    error: MESSAGE`` (without argparse's usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f'{self.prog}: error: {message}\n')


def build_parser() -> Parser:
    """The benchmark's arguments."""
    parser = Parser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='*', help='baseline config files')
    parser.add_argument('--optimizers', nargs='+', choices=OPTIMIZERS,
                        help='default: base sam arsam; with --budgets: base '
                        'sam ' + ' '.join(BUDGETED))
    parser.add_argument('--budgets', nargs='+', type=float, default=None,
                        help='shares of SAM steps in (0, 1] at which every '
                        'budgeted optimizer runs (' + ', '.join(BUDGETED) +
                        ')')
    parser.add_argument('--jobs', type=int, default=None,
                        help='runs in parallel, the cores shared out among '
                        f"them (default {DEFAULTS['jobs']}; --quick: "
                        f"{QUICK['jobs']})")
    parser.add_argument('--cost-rounds', type=int, default=None,
                        help='interleaved rounds of the step-cost '
                        'measurement per task; 0: none (default '
                        f"{DEFAULTS['cost_rounds']}; --quick: "
                        f"{QUICK['cost_rounds']})")
    parser.add_argument('--iters', type=int, default=None,
                        help='iterations per run (default '
                        f"{DEFAULTS['iters']}; --quick: see --iters-scale)")
    parser.add_argument('--iters-scale', type=float, default=None,
                        help="instead of --iters: each config's own "
                        'train_cfg.max_iters times this (--quick: '
                        f"{QUICK['iters_scale']})")
    parser.add_argument('--repeats', type=int, default=None,
                        help='seeds per (config, optimizer) (default '
                        f"{DEFAULTS['repeats']}; --quick: {QUICK['repeats']})")
    parser.add_argument('--evals', type=int, default=None,
                        help='validations per run, for the metric curves '
                        f"(default {DEFAULTS['evals']}; with --budgets "
                        f"{FRONTIER_EVALS}; --quick: {QUICK['evals']})")
    parser.add_argument('--score-test', action=argparse.BooleanOptionalAction,
                        default=None,
                        help="every validation also scores the config's "
                        'test split (it needs one apart from val); the '
                        'report gives the test metrics of the final and the '
                        'best-on-val checkpoints (default: on with --budgets '
                        'or --quick, without --smoke)')
    parser.add_argument('--skip', type=int, default=3,
                        help='leading iterations left out of the timing '
                        '(default 3)')
    parser.add_argument('--rho', type=float, default=0.05,
                        help='radius of every member of the family (default '
                        '0.05)')
    parser.add_argument('--task-rho', nargs='+', action=KeyValueAction,
                        help='radius per task instead of --rho, e.g. '
                        'TASK=0.1 (TASK: the config file name without .py)')
    parser.add_argument('--arsam', nargs='+', action=KeyValueAction,
                        help='ARSAMOptimWrapper arguments, e.g. window=10 '
                        '(default: window iters/150 within [4, 50], '
                        'warmup_iters 1.5%% of iters)')
    parser.add_argument('--method-args', nargs='+', action=KeyValueAction,
                        help='further wrapper arguments, OPTIMIZER.ARG=VALUE, '
                        'e.g. looksam.alpha=0.1')
    parser.add_argument('--target', nargs='+', action=KeyValueAction,
                        help='metric to reach per task, e.g. TASK=0.5')
    parser.add_argument('--work-dir', default='work_dirs/benchmark')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction,
                        help='overrides applied to every config')
    parser.add_argument('--smoke', action='store_true',
                        help='shrink each config as tools/train.py --smoke '
                        'does (generated data, image sizes / 8, batches of '
                        '2, no pretrained weights): every method runs on a '
                        'model-zoo config as it ships, on a CPU; the metrics '
                        'mean nothing. Needs --iters')
    parser.add_argument('--smoke-data', default=None,
                        help='where --smoke caches generated data '
                        '(default: data/smoke)')
    parser.add_argument('--quick', action='store_true',
                        help='the quick suite of `make bench`')
    parser.add_argument('--resume', action='store_true',
                        help='keep the runs recorded in the work dir and '
                        'run only the missing ones')
    parser.add_argument('--report-only', action='store_true',
                        help='run nothing: write the report of the runs '
                        'recorded in the work dir')
    return parser


def parse_args(parser: argparse.ArgumentParser,
               argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """``argv`` parsed, the defaults of ``--quick`` or of a plain run filled
    in and ``--method-args`` nested per optimizer; a malformed argument is
    a ``parser.error``."""
    args = parser.parse_args(argv)
    if args.quick and not args.configs:
        args.configs = QUICK['configs']
    if args.iters is not None and args.iters_scale is not None:
        parser.error('give --iters or --iters-scale, not both')
    if args.smoke_data is not None and not args.smoke:
        parser.error('--smoke-data only applies with --smoke')
    if args.smoke and args.iters is None:
        parser.error('--smoke needs --iters (a model-zoo config runs for '
                     'epochs or tens of thousands of iterations)')
    args.smoke = (args.smoke_data or 'data/smoke') if args.smoke else None
    if args.iters_scale is not None:
        args.iters = 0  # each config's own length, scaled (below)
    if args.quick and args.task_rho is None:
        args.task_rho = QUICK['task_rho']
    if args.quick and args.method_args is None:
        args.method_args = QUICK['method_args']
    for name in ('iters', 'iters_scale', 'repeats', 'budgets', 'jobs',
                 'cost_rounds'):
        if getattr(args, name) is None:
            setattr(args, name, (QUICK if args.quick else DEFAULTS)[name])
    frontier = bool(args.quick or args.budgets)
    if args.evals is None:
        args.evals = (QUICK['evals'] if args.quick else FRONTIER_EVALS
                      if args.budgets else DEFAULTS['evals'])
    if args.score_test is None:  # a shrunk zoo config validates on val
        args.score_test = frontier and not args.smoke
    args.iters = args.iters or None
    if args.optimizers is None:
        args.optimizers = ['base', 'sam'] + (
            list(BUDGETED) if args.budgets else ['arsam'])
    if not args.configs and not args.report_only:
        parser.error('give at least one config, or --quick')
    try:
        args.method_args = parse_method_args(args.method_args or {}) or None
    except ValueError as err:
        parser.error(f'argument --method-args: {err}')
    return args


def show(report: dict) -> None:
    """Print the report's Markdown and where it was written."""
    sys.stdout.write(report['markdown'])
    sys.stdout.write(f"report: {report['paths'][1]}\n")


def main(argv: Optional[Sequence[str]] = None) -> None:
    """The command line (``argv``: default ``sys.argv[1:]``). A bad setting
    (the suite's checks raise ``ValueError`` before anything runs) or
    unusable records (``RecordsError``) end in one line on stderr."""
    parser = build_parser()
    args = parse_args(parser, argv)
    try:
        benchmark(args)
    except ValueError as err:  # a message saying what to do
        parser.error(str(err))


def benchmark(args: argparse.Namespace) -> None:
    """Run the suite (or only the report) that ``args`` describe."""
    if args.report_only:
        try:
            report = write_report(args.work_dir)
        except (FileNotFoundError, NotADirectoryError) as err:
            raise ValueError(str(err)) from err
        show(report)
        return
    budgeted = [o for o in args.optimizers if o in BUDGETED]
    per_config = (len(args.optimizers) - len(budgeted) +
                  len(budgeted) * len(args.budgets)) if args.budgets \
        else len(args.optimizers)
    runs = len(args.configs) * per_config * args.repeats
    # Shown from the first run on: a setting the suite refuses leaves
    # nothing on the terminal but its error.
    progress = Progress(console=Console(), transient=True)
    bar = None

    def advance(label: str) -> None:
        nonlocal bar
        if bar is None:
            progress.start()
            bar = progress.add_task('benchmark', total=runs)
        progress.update(bar, description=label)
        if not label.endswith('step costs'):
            progress.advance(bar)

    try:
        report = run_suite(
            args.configs, args.optimizers, args.iters, args.repeats,
            args.work_dir, evals=args.evals, skip=args.skip, rho=args.rho,
            arsam=args.arsam, cfg_options=args.cfg_options,
            targets=args.target,
            command=' '.join(['python'] + sys.argv), progress=advance,
            resume=args.resume, budgets=args.budgets, jobs=args.jobs,
            cost_rounds=args.cost_rounds, scale=args.iters_scale,
            task_rho=args.task_rho, method_args=args.method_args,
            smoke=args.smoke, score_test=args.score_test)
    finally:
        if bar is not None:
            progress.stop()
    show(report)


if __name__ == '__main__':
    main()
