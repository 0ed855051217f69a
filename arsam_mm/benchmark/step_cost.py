"""What a step of each optimizer costs, measured interleaved in one process,
and what a run costs, derived from its exact pass counts.

Wall-clock times of runs trained one after another (or side by side) move
with whatever else the machine does: on a shared 2-core machine a suite
once reported ARSAM at 0.28x the base optimizer's time per iteration. The
benchmark therefore measures, once per task, the cost of a one-pass and a
two-pass step of every optimizer on the task's own model and batch, taking
one step of each variant in turn (:func:`time_step_kinds`), so that a load
that comes or goes hits every variant alike; on a CPU the clock is the
process's CPU time, which time spent waiting for a core held by another
process does not inflate. The medians' ratios to the base step are what
load does not move. A run's cost is then its pass count,
iteration by iteration, priced with those step costs (:func:`derived_cost`).
"""
import copy
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

__all__ = [
    'COST_BUDGET', 'time_step_kinds', 'summarize', 'derived_cost',
    'measure_config'
]

#: Budget of the budgeted methods while their step costs are measured:
#: half the steps take each kind.
COST_BUDGET = 0.5


def _passes(wrapper: Any) -> Optional[int]:
    return getattr(wrapper, 'passes', None)


def time_step_kinds(model: nn.Module,
                    batch: Any,
                    wrappers: Dict[str, Dict[str, Any]],
                    rounds: int,
                    warmup: int = 2,
                    sync: Callable[[], None] = lambda: None,
                    clock: Callable[[], float] = time.process_time
                    ) -> Dict[str, List[Tuple[int, float]]]:
    """Time ``model.train_step`` under each wrapper, interleaved.

    Each wrapper trains its own deep copy of ``model`` on ``batch``. Every
    round takes one step of each wrapper other than ``base``, each between
    two base steps, starting one wrapper later than the round before; a
    step's reference is the mean of the base steps just before and just
    after it, so that a load that comes or goes between steps cancels out
    of their ratio.

    Args:
        model (nn.Module): An mmengine ``BaseModel`` (deep-copied per
            wrapper).
        batch: One training batch, as the dataloader yields it.
        wrappers (dict): Name -> optim wrapper config; it must hold
            ``base``, the plain optimizer.
        rounds (int): Timed rounds.
        warmup (int): Untimed rounds first. Defaults to 2.
        sync (callable): Waits for the device (``torch.cuda.synchronize``
            on a GPU).
        clock (callable): Seconds. The default, the process's CPU time,
            is what a CPU step costs: time the process spends waiting for
            a core that another process holds does not count. On a GPU
            pass ``time.perf_counter`` (wall-clock around synchronised
            steps).

    Returns:
        dict: ``base`` and ``<name>_one`` / ``<name>_two`` (steps that ran
        one or two forward-backward passes) -> ``(reference, seconds)`` of
        each step (a base step is its own reference).
    """
    from mmengine.optim import build_optim_wrapper

    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f'rounds must be an int >= 1, got {rounds!r}')
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f'warmup must be an int >= 0, got {warmup!r}')
    if 'base' not in wrappers or len(wrappers) < 2:
        raise ValueError('wrappers must hold base (the plain optimizer) '
                         f'and another, got {sorted(wrappers)}')
    runs = {}
    for name, cfg in wrappers.items():
        copy_ = copy.deepcopy(model)
        wrapper = build_optim_wrapper(copy_, copy.deepcopy(cfg))
        wrapper.initialize_count_status(copy_, 0, warmup + rounds)
        runs[name] = (copy_, wrapper)

    def step(name: str) -> Tuple[str, float]:
        copy_, wrapper = runs[name]
        before = _passes(wrapper)
        sync()
        start = clock()
        copy_.train_step(batch, wrapper)
        sync()
        elapsed = clock() - start
        if before is None:
            return name, elapsed
        return name + ('_two' if _passes(wrapper) - before > 1
                       else '_one'), elapsed

    others = [name for name in runs if name != 'base']
    times: Dict[str, List[Tuple[float, float]]] = {}
    for index in range(warmup + rounds):
        shift = index % len(others)
        previous = step('base')[1]
        for name in others[shift:] + others[:shift]:
            kind, elapsed = step(name)
            following = step('base')[1]
            if index >= warmup:
                reference = (previous + following) / 2
                times.setdefault(kind, []).append((reference, elapsed))
                times.setdefault('base', []).append((previous, previous))
            previous = following
    return times


def summarize(times: Dict[str, List[Tuple[float, float]]]
              ) -> Dict[str, Any]:
    """Medians, spreads and ratios to the base step.

    Args:
        times (dict): As :func:`time_step_kinds` returns (with ``base``).

    Returns:
        dict: ``median_s``, ``stdev_s`` and ``samples`` per step kind, and
        ``x_base``: each kind's median ratio to its reference base step.
    """
    if not times.get('base'):
        raise ValueError('times must hold base steps, got kinds '
                         f'{sorted(times)}')
    seconds = {k: [t for _, t in v] for k, v in times.items() if v}
    return dict(
        median_s={k: statistics.median(v) for k, v in seconds.items()},
        stdev_s={k: statistics.stdev(v) if len(v) > 1 else 0.0
                 for k, v in seconds.items()},
        samples={k: len(v) for k, v in seconds.items()},
        x_base={k: statistics.median(t / ref for ref, t in v)
                for k, v in times.items() if v})


def derived_cost(grad_evals: Sequence[int], optimizer: str,
                 x_base: Dict[str, float]) -> Optional[float]:
    """A run's mean cost per iteration, in base steps, from its passes.

    An iteration that ran ``p`` forward-backward passes costs the
    optimizer's one-pass step plus ``p - 1`` times the difference between
    its two-pass and one-pass steps; the base optimizer's iterations cost
    one base step each.

    Args:
        grad_evals (sequence[int]): Passes run so far, after each
            iteration (the benchmark recorder's ``grad_evals``).
        optimizer (str): Whose step costs price the passes.
        x_base (dict): Step costs relative to the base step
            (:func:`summarize`'s ``x_base``).

    Returns:
        float: Cost per iteration in base steps; None when a kind of step
        the run took was not measured.
    """
    if not grad_evals:
        return None
    if optimizer == 'base':
        return 1.0
    one = x_base.get(f'{optimizer}_one', x_base.get('base'))
    two = x_base.get(f'{optimizer}_two')
    total, previous = 0.0, 0
    for count in grad_evals:
        passes, previous = count - previous, count
        if passes > 1 and two is None:
            return None
        total += one if passes <= 1 else one + (passes - 1) * (two - one)
    return total / len(grad_evals)


def measure_config(cfg: Any,
                   optimizers: Sequence[str],
                   rho: float = 0.05,
                   rounds: int = 20,
                   warmup: int = 2,
                   method_args: Optional[Dict[str, Dict[str, Any]]] = None
                   ) -> Dict[str, Any]:
    """Step costs of ``optimizers`` on a config's own model and batch.

    Builds the config's model and first training batch with mmengine's
    ``Runner`` and times every optimizer's steps with
    :func:`time_step_kinds`; the budgeted methods run at
    :data:`COST_BUDGET`, ARSAM with no warm-up and windows of 4, so that
    both kinds of step occur.

    Args:
        cfg (Config): The baseline config (its ``work_dir`` set).
        optimizers (sequence[str]): Names from
            :data:`~.variants.OPTIMIZERS`; ``base`` is always measured.
        rho (float): SAM radius. Defaults to 0.05.
        rounds (int): Timed rounds. Defaults to 20.
        warmup (int): Untimed rounds. Defaults to 2.
        method_args (dict, optional): Further wrapper arguments per
            optimizer (:func:`~.variants.make_variant`).

    Returns:
        dict: :func:`summarize`'s figures plus ``rounds`` and ``threads``.
    """
    from mmengine.runner import Runner

    from .variants import BUDGETED, make_variant

    variants = {
        name: make_variant(cfg, name, rho=rho,
                           budget=COST_BUDGET if name in BUDGETED else None,
                           arsam=dict(window=4, warmup_iters=0),
                           method_args=method_args)
        for name in dict.fromkeys(['base', *optimizers])
    }
    wrappers = {name: variant.optim_wrapper.to_dict()
                for name, variant in variants.items()}
    runner = Runner.from_cfg(variants['base'])
    batch = next(iter(runner.build_dataloader(cfg.train_dataloader)))
    cuda = torch.cuda.is_available()
    times = time_step_kinds(
        runner.model, batch, wrappers, rounds, warmup,
        sync=torch.cuda.synchronize if cuda else (lambda: None),
        clock=time.perf_counter if cuda else time.process_time)
    result = summarize(times)
    result.update(rounds=rounds, threads=torch.get_num_threads(),
                  clock='wall-clock' if cuda else 'process CPU time')
    return result
