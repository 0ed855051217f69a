"""Launch a worker script on several CPU processes (gloo) and collect what
each rank saved: the multi-process tests' launcher.

A rank that hangs in a collective fails after its process group's timeout,
and the whole launch is killed after :data:`LAUNCH_TIMEOUT` seconds, so a
hang fails the test instead of CI.
"""
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, '_ddp_worker.py')
WORLD_SIZE = 2
LAUNCH_TIMEOUT = 150

#: Mark of the tests that launch: they need torch.distributed with gloo.
needs_gloo = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason='needs torch.distributed with gloo')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _kill(procs) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def launch(variants, out_dir, worker: str = WORKER) -> dict:
    """Run ``worker`` on ``WORLD_SIZE`` ranks; return each variant's list
    of per-rank records."""
    port = _free_port()
    procs = []
    logs = []
    codes = []
    try:
        for rank in range(WORLD_SIZE):
            env = dict(
                os.environ,
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                WORLD_SIZE=str(WORLD_SIZE),
                MASTER_ADDR='127.0.0.1',
                MASTER_PORT=str(port),
                OMP_NUM_THREADS='1',
                CUDA_VISIBLE_DEVICES='')
            log = open(out_dir / f'rank{rank}.log', 'w+')
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [sys.executable, worker,
                     str(out_dir), *variants],
                    cwd=os.path.dirname(HERE),
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True))
        for p in procs:
            try:
                codes.append(p.wait(timeout=LAUNCH_TIMEOUT))
            except subprocess.TimeoutExpired:
                codes.append('timeout')
                _kill(procs)
    finally:
        _kill(procs)
        for p in procs:
            p.wait()
        outputs = []
        for log in logs:
            log.seek(0)
            outputs.append(log.read())
            log.close()
    if codes != [0] * WORLD_SIZE:
        report = '\n'.join(f'--- rank {r} (exit {c}) ---\n{out[-3000:]}'
                           for r, (c, out) in enumerate(zip(codes, outputs)))
        pytest.fail(f'launch of {variants} failed:\n{report}')
    return {
        variant: [
            torch.load(out_dir / f'{variant}_rank{r}.pt', weights_only=False)
            for r in range(WORLD_SIZE)
        ]
        for variant in variants
    }
