import json, os, subprocess, sys, time
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT); sys.path.insert(0, os.path.join(ROOT, 'tests'))
import torch
torch.set_num_threads(1)
from test_step_cost import _big_toy, WRAPPERS
from arsam_mm.benchmark.step_cost import time_step_kinds
out = []
model, batch = _big_toy()
time_step_kinds(model, batch, WRAPPERS, rounds=4, warmup=1)
t0 = time.perf_counter()
for trial in range(int(sys.argv[1])):
    for loaded in (False, True):
        hogs = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(2)] if loaded else []
        try:
            times = time_step_kinds(model, batch, WRAPPERS, rounds=int(sys.argv[2]), warmup=4)
        finally:
            for h in hogs: h.kill(); h.wait()
        out.append(dict(loaded=loaded, times=times))
        print(trial, loaded, time.perf_counter() - t0, flush=True)
json.dump(out, open(sys.argv[3], 'w'))
