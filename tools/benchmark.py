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

Settings come from a profile, a named preset (PROFILES: DEFAULT, or QUICK
with --quick), that the flags given override; what depends on other
settings (a frontier's validations and test split, the optimizers) is
filled in last (:func:`derived`). arsam_mm.benchmark.settings.SuiteSettings
checks them all before anything runs.
"""
import argparse
import sys
from pathlib import Path
from typing import Any, Dict, NoReturn, Optional, Sequence

from rich.console import Console
from rich.progress import Progress

from arsam_mm.benchmark.reporting import write_report
from arsam_mm.benchmark.settings import SuiteSettings
from arsam_mm.benchmark.suite import run_suite
from arsam_mm.benchmark.variants import BUDGETED, OPTIMIZERS, parse_method_args
from arsam_mm.cfgtools.options import KeyValueAction

#: Validations per run of a frontier (--budgets), each scoring val and test.
FRONTIER_EVALS = 8

#: `make bench`: one verdict the paired rule can make, on the task where
#: SAM's gain holds at the best-on-val checkpoint (reports/frontier_test:
#: label-noise digits, +10.4 points on test at the final checkpoint, +9.5 at
#: the best-on-val one): the base optimizer, SAM, ARSAM and late-phase SAM
#: (the cheapest strong rival) at budget 0.5, 3 paired seeds, the whole
#: 600-iteration schedule, 8 validations scoring val and test, two runs at
#: a time (generated data, `make data`; reports/quick). Settings of
#: SuiteSettings, as its fields name them.
QUICK: Dict[str, Any] = dict(
    configs=['configs/classification/frontier/'
             'resnet18-w8_1xb16-600iter_digits-noise30-val35-test35_sgd.py'],
    optimizers=['base', 'sam', 'arsam', 'latesam'],
    iters=None, scale=1.0, repeats=3, evals=FRONTIER_EVALS, budgets=[0.5],
    jobs=2, cost_rounds=6,
    note='one task, one budget, ARSAM and late-phase SAM of the six '
    'efficient members and 3 seeds on a CPU: segmentation, pose, the '
    'budgets 0.1-0.3, the other rivals and 5 seeds are in '
    'reports/frontier_test, GPU timings in reports/gpu')
#: The radius the task was searched with (reports/frontier/search_*.md).
QUICK['task_rho'] = {Path(QUICK['configs'][0]).stem: 0.1}
#: Without --quick.
DEFAULT: Dict[str, Any] = dict(iters=200, scale=1.0, repeats=3, jobs=1,
                               cost_rounds=20)
#: The profiles, by name.
PROFILES = dict(default=DEFAULT, quick=QUICK)

#: Flags that set a setting (argparse dest -> SuiteSettings field), absent
#: from the parsed arguments unless given.
SETTING_FLAGS = dict(
    optimizers='optimizers', budgets='budgets', jobs='jobs',
    cost_rounds='cost_rounds', iters='iters', iters_scale='scale',
    repeats='repeats', evals='evals', score_test='score_test', skip='skip',
    rho='rho', task_rho='task_rho', arsam='arsam', method_args='method_args',
    target='targets', cfg_options='cfg_options')


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, ``PROG:
    error: MESSAGE`` (without argparse's usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f'{self.prog}: error: {message}\n')


def build_parser() -> Parser:
    """The benchmark's arguments; a setting's flag that is not given is
    absent from the parsed namespace (its profile's value applies)."""
    parser = Parser(description=__doc__.split('\n')[0])
    setting = dict(default=argparse.SUPPRESS)
    parser.add_argument('configs', nargs='*', help='baseline config files')
    parser.add_argument('--optimizers', nargs='+', choices=OPTIMIZERS,
                        help='default: base sam arsam; with --budgets: base '
                        'sam ' + ' '.join(BUDGETED), **setting)
    parser.add_argument('--budgets', nargs='+', type=float,
                        help='shares of SAM steps in (0, 1] at which every '
                        'budgeted optimizer runs (' + ', '.join(BUDGETED) +
                        ')', **setting)
    parser.add_argument('--jobs', type=int,
                        help='runs in parallel, the cores shared out among '
                        f"them (default {DEFAULT['jobs']}; --quick: "
                        f"{QUICK['jobs']})", **setting)
    parser.add_argument('--cost-rounds', type=int,
                        help='interleaved rounds of the step-cost '
                        'measurement per task; 0: none (default '
                        f"{DEFAULT['cost_rounds']}; --quick: "
                        f"{QUICK['cost_rounds']})", **setting)
    parser.add_argument('--iters', type=int,
                        help='iterations per run (default '
                        f"{DEFAULT['iters']}; --quick: see --iters-scale)",
                        **setting)
    parser.add_argument('--iters-scale', type=float,
                        help="instead of --iters: each config's own "
                        'train_cfg.max_iters times this (--quick: '
                        f"{QUICK['scale']})", **setting)
    parser.add_argument('--repeats', type=int,
                        help='seeds per (config, optimizer) (default '
                        f"{DEFAULT['repeats']}; --quick: {QUICK['repeats']})",
                        **setting)
    parser.add_argument('--evals', type=int,
                        help='validations per run, for the metric curves '
                        f'(default {SuiteSettings.evals}; with --budgets '
                        f"{FRONTIER_EVALS}; --quick: {QUICK['evals']})",
                        **setting)
    parser.add_argument('--score-test', action=argparse.BooleanOptionalAction,
                        help="every validation also scores the config's "
                        'test split (it needs one apart from val); the '
                        'report gives the test metrics of the final and the '
                        'best-on-val checkpoints (default: on with --budgets '
                        'or --quick, without --smoke)', **setting)
    parser.add_argument('--skip', type=int,
                        help='leading iterations left out of the timing '
                        f'(default {SuiteSettings.skip})', **setting)
    parser.add_argument('--rho', type=float,
                        help='radius of every member of the family (default '
                        f'{SuiteSettings.rho})', **setting)
    parser.add_argument('--task-rho', nargs='+', action=KeyValueAction,
                        help='radius per task instead of --rho, e.g. '
                        'TASK=0.1 (TASK: the config file name without .py)',
                        **setting)
    parser.add_argument('--arsam', nargs='+', action=KeyValueAction,
                        help='ARSAMOptimWrapper arguments, e.g. window=10 '
                        '(default: window iters/150 within [4, 50], '
                        'warmup_iters 1.5%% of iters)', **setting)
    parser.add_argument('--method-args', nargs='+', action=KeyValueAction,
                        help='further wrapper arguments, OPTIMIZER.ARG=VALUE, '
                        'e.g. looksam.alpha=0.1', **setting)
    parser.add_argument('--target', nargs='+', action=KeyValueAction,
                        help='metric to reach per task, e.g. TASK=0.5',
                        **setting)
    parser.add_argument('--work-dir', default='work_dirs/benchmark')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction,
                        help='overrides applied to every config', **setting)
    parser.add_argument('--smoke', action='store_true',
                        help='shrink each config as tools/train.py --smoke '
                        'does (generated data, image sizes / 8, batches of '
                        '2, no pretrained weights): every method runs on a '
                        'model-zoo config as it ships, on a CPU; the metrics '
                        'mean nothing. Needs --iters')
    parser.add_argument('--smoke-data', default=None,
                        help='where --smoke caches generated data '
                        '(default: data/smoke)')
    parser.add_argument('--quick', action='store_const', dest='profile',
                        const='quick', default='default',
                        help='the quick suite of `make bench` (the QUICK '
                        'profile; the flags given override it)')
    parser.add_argument('--resume', action='store_true',
                        help='keep the runs recorded in the work dir and '
                        'run only the missing ones')
    parser.add_argument('--report-only', action='store_true',
                        help='run nothing: write the report of the runs '
                        'recorded in the work dir')
    return parser


def derived(settings: Dict[str, Any]) -> Dict[str, Any]:
    """``settings`` with what follows from them where not set: a frontier
    (``budgets``) validates :data:`FRONTIER_EVALS` times and scores the test
    split (not on a shrunk ``smoke`` config, which validates on val); the
    optimizers are the base optimizer and SAM with ARSAM, or with every
    budgeted method."""
    budgets = settings.get('budgets')
    out: Dict[str, Any] = dict(
        optimizers=['base', 'sam'] + (list(BUDGETED) if budgets
                                      else ['arsam']),
        score_test=bool(budgets) and not settings.get('smoke'))
    if budgets:
        out['evals'] = FRONTIER_EVALS
    return {**out, **settings}


def parse_args(parser: argparse.ArgumentParser,
               argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """``argv`` parsed; ``settings`` (the :class:`SuiteSettings` arguments)
    is the profile's, overridden by the flags given, with :func:`derived`
    filling in the rest. A malformed argument is a ``parser.error``."""
    args = parser.parse_args(argv)
    given = {field: getattr(args, dest)
             for dest, field in SETTING_FLAGS.items() if hasattr(args, dest)}
    if 'iters' in given and 'scale' in given:
        parser.error('give --iters or --iters-scale, not both')
    if args.smoke_data is not None and not args.smoke:
        parser.error('--smoke-data only applies with --smoke')
    if args.smoke and 'iters' not in given:
        parser.error('--smoke needs --iters (a model-zoo config runs for '
                     'epochs or tens of thousands of iterations)')
    if 'iters' in given:  # the run's length: a number of iterations, ...
        given['scale'] = 1.0
    elif 'scale' in given:  # ... or each config's own, scaled
        given['iters'] = None
    if args.configs:
        given['configs'] = args.configs
    if args.smoke:
        given['smoke'] = args.smoke_data or 'data/smoke'
    if 'method_args' in given:  # OPTIMIZER.ARG pairs, nested
        try:
            given['method_args'] = parse_method_args(given['method_args'])
        except ValueError as err:
            parser.error(f'argument --method-args: {err}')
    args.settings = derived({**PROFILES[args.profile], **given})
    if not args.settings.get('configs') and not args.report_only:
        parser.error('give at least one config, or --quick')
    return args


def show(report: dict) -> None:
    """Print the report's Markdown and where it was written."""
    sys.stdout.write(report['markdown'])
    sys.stdout.write(f"report: {report['paths'][1]}\n")


def main(argv: Optional[Sequence[str]] = None) -> None:
    """The command line (``argv``: default ``sys.argv[1:]``). A bad setting
    (:class:`SuiteSettings` and the suite raise ``ValueError`` before
    anything runs) or unusable records (``RecordsError``) end in one line
    on stderr."""
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
    settings = SuiteSettings(**args.settings)
    runs = len(settings.configs) * len(settings.variants) * settings.repeats
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
        report = run_suite(settings, args.work_dir,
                           command=' '.join(['python'] + sys.argv),
                           progress=advance, resume=args.resume)
    finally:
        if bar is not None:
            progress.stop()
    show(report)


if __name__ == '__main__':
    main()
