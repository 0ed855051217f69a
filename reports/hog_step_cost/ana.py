import json, statistics as st, sys
import os; sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from arsam_mm.benchmark.step_cost import derived_cost
P = dict(sam=('sam', [2 * (i + 1) for i in range(8)]),
         ph=('periodic', [2, 3, 5, 6, 8, 9, 11, 12]),
         pq=('periodic', [2, 3, 4, 5, 7, 8, 9, 10]))
def est(times, how):
    base = [t for _, t in times['base']]
    xb = {}
    for k, v in times.items():
        r = [t / ref for ref, t in v]
        ts = [t for _, t in v]
        if how == 'med_ratio': xb[k] = st.median(r)
        elif how == 'ratio_med': xb[k] = st.median(ts) / st.median(base)
        elif how == 'ratio_min': xb[k] = min(ts) / min(base)
        elif how == 'ratio_q1': xb[k] = st.quantiles(ts, n=4)[0] / st.quantiles(base, n=4)[0]
        elif how == 'mean_ratio': xb[k] = st.mean(r)
        elif how == 'trim_ratio':
            r = sorted(r); c = len(r)//4; xb[k] = st.mean(r[c:len(r)-c])
    return {n: derived_cost(p, o, xb) for n, (o, p) in P.items()}
data = json.load(open(sys.argv[1]))
for how in ['med_ratio', 'ratio_med', 'ratio_min', 'ratio_q1', 'mean_ratio', 'trim_ratio']:
    rows = []
    worst = 0
    for i in range(0, len(data), 2):
        q, l = est(data[i]['times'], how), est(data[i+1]['times'], how)
        d = {n: l[n]/q[n]-1 for n in q}
        worst = max(worst, max(abs(x) for x in d.values()))
        rows.append(' '.join(f'{n}:{q[n]:.3f}/{d[n]*100:+.1f}%' for n in q))
    allv = {n: [est(x['times'], how)[n] for x in data] for n in P}
    sp = ' '.join(f'{n} {min(v):.3f}-{max(v):.3f}' for n, v in allv.items())
    print(f'{how:11s} worst {worst*100:.1f}%  range {sp}')
    for r in rows: print('   ', r)
    base = [st.median([t for _, t in x['times']['base']])*1000 for x in data]
print('base median ms', [f'{b:.1f}' for b in base])
