"""arsam_mm/benchmark/stats.py and the frontier's paired rule."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from arsam_mm.benchmark.frontier import analyse
from arsam_mm.benchmark.stats import TwoWay, holm, seeds_for_power


def test_two_variants_are_the_paired_t_test():
    """With two variants the model is the paired t test: scipy's ttest_rel
    and t.interval on the per-seed differences."""
    a = [71.2, 68.0, 74.9, 70.3]
    b = [69.0, 67.1, 71.8, 70.0]
    est = TwoWay({'a': dict(enumerate(a)), 'b': dict(enumerate(b))}
                 ).contrast({'a': 1, 'b': -1})
    ref = sps.ttest_rel(a, b)
    diff = np.subtract(a, b)
    lo, hi = sps.t.interval(0.95, len(diff) - 1, loc=diff.mean(),
                            scale=sps.sem(diff))
    assert est.mean == pytest.approx(diff.mean())
    assert est.t == pytest.approx(ref.statistic)
    assert est.p == pytest.approx(ref.pvalue)
    assert (est.lo, est.hi) == (pytest.approx(lo), pytest.approx(hi))
    assert est.df == 3
    assert est.sd == pytest.approx(diff.std(ddof=1))
    assert est.p_greater == pytest.approx(
        sps.ttest_rel(a, b, alternative='greater').pvalue)


def test_two_way_contrasts_match_least_squares():
    """The pooled model against an independent fit: ordinary least squares
    on a design of variant and seed dummies (numpy), the contrast's
    variance from (X'X)^+."""
    rng = np.random.default_rng(1)
    names, seeds = ['base', 'sam', 'x', 'y'], [0, 3, 7]
    y = rng.normal(0, 3, (1, 3)) + rng.normal(0, 1, (4, 3))
    values = {n: {s: y[i, j] for j, s in enumerate(seeds)}
              for i, n in enumerate(names)}
    # one seed run by only one variant is left out of the model
    values['x'][9] = 100.0
    model = TwoWay(values)
    assert model.seeds == seeds and model.df == 6
    rows, target = [], []
    for i in range(4):
        for j in range(3):
            rows.append([1.0] + [float(i == k) for k in range(4)] +
                        [float(j == k) for k in range(3)])
            target.append(y[i, j])
    x, target = np.array(rows), np.array(target)
    coef, *_ = np.linalg.lstsq(x, target, rcond=None)
    df = len(target) - np.linalg.matrix_rank(x)
    sigma2 = ((target - x @ coef)**2).sum() / df
    assert df == model.df and model.sd == pytest.approx(math.sqrt(sigma2))
    weights = {'x': 1.0, 'base': -0.5, 'sam': -0.5}
    c = np.zeros(x.shape[1])
    c[1 + names.index('x')], c[1], c[2] = 1.0, -0.5, -0.5
    est = model.contrast(weights)
    se = math.sqrt(sigma2 * c @ np.linalg.pinv(x.T @ x) @ c)
    assert est.mean == pytest.approx(c @ coef)
    assert est.se == pytest.approx(se)
    assert est.p_greater == pytest.approx(sps.t.sf(c @ coef / se, df))
    assert est.p == pytest.approx(2 * sps.t.sf(abs(c @ coef) / se, df))


def test_fieller_interval_inverts_the_t_test():
    """At each end of the interval of a ratio r the contrast num - r den
    is exactly at the t test's critical value; unbounded when the
    denominator is not significant."""
    rng = np.random.default_rng(2)
    y = rng.normal(0, 3, (1, 5)) + rng.normal(0, 1, (3, 5))
    y[1] += 6  # sam
    y[2] += 4  # m
    model = TwoWay({n: dict(enumerate(y[i]))
                    for i, n in enumerate(['base', 'sam', 'm'])})
    num, den = {'m': 1.0, 'base': -1.0}, {'sam': 1.0, 'base': -1.0}
    share = model.ratio(num, den)
    means = y.mean(axis=1)
    assert share.value == pytest.approx((means[2] - means[0]) /
                                        (means[1] - means[0]))
    crit = sps.t.ppf(0.975, model.df)
    for r in (share.lo, share.hi):
        est = model.contrast({'m': 1.0, 'sam': -r, 'base': r - 1.0})
        assert abs(est.t) == pytest.approx(crit)
    assert share.lo < share.value < share.hi
    # inside: not rejected; the midpoint of the value and an end is inside
    mid = model.contrast({'m': 1.0, 'sam': -share.value,
                          'base': share.value - 1.0})
    assert abs(mid.t) < crit
    flat = TwoWay({'base': {0: 1.0, 1: 2.0, 2: 3.0},
                   'sam': {0: 1.5, 1: 1.9, 2: 3.2},
                   'm': {0: 1.2, 1: 2.2, 2: 3.1}})
    assert flat.contrast(den).p > 0.05
    assert flat.ratio(num, den)[1:] == (None, None)


def test_holm_against_a_hand_worked_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06,
    # 0.04 x 1 = 0.04 -> raised to 0.06 (adjusted p never decreases)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx(
        [0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([0.2]) == [0.2] and holm([]) == []


def test_seeds_for_power_matches_the_tables():
    """G*Power's sample sizes of the two-sided one-sample (paired) t test
    at 80% power and alpha 0.05: d 0.5 -> 34, 0.8 -> 15, 1.0 -> 10."""
    assert seeds_for_power(0.5, 1.0) == 34
    assert seeds_for_power(-1.6, 2.0) == 15
    assert seeds_for_power(3.0, 3.0) == 10
    for d in (0.5, 0.8, 1.0, 2.0):
        n = seeds_for_power(d, 1.0)
        power = [sps.nct.sf(sps.t.ppf(0.975, k - 1), k - 1, d * math.sqrt(k))
                 + sps.nct.cdf(-sps.t.ppf(0.975, k - 1), k - 1,
                               d * math.sqrt(k)) for k in (n - 1, n)]
        assert power[0] < 0.8 <= power[1]
    assert seeds_for_power(0.2, 1.0) is None  # 199 > max_seeds
    assert seeds_for_power(0.2, 1.0, max_seeds=300) == 199
    assert seeds_for_power(0.0, 1.0) is None
    assert seeds_for_power(1.0, 0.0) == 2


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match='level must be in'):
        TwoWay({'a': {0: 1, 1: 2}, 'b': {0: 1, 1: 2}}, level=1.5)
    with pytest.raises(ValueError, match='at least 2 variants, got 1'):
        TwoWay({'a': {0: 1, 1: 2}})
    with pytest.raises(ValueError,
                       match=r'share at least 2 seeds .* got \[1\]'):
        TwoWay({'a': {0: 1, 1: 2}, 'b': {1: 1, 2: 2}})
    model = TwoWay({'a': {0: 1, 1: 2}, 'b': {0: 1, 1: 3}})
    with pytest.raises(ValueError, match='weights must sum to 0'):
        model.contrast({'a': 1})
    with pytest.raises(ValueError, match=r"not in the model: \['c'\]"):
        model.contrast({'a': 1, 'c': -1})
    with pytest.raises(ValueError, match='sd must be >= 0, got -1'):
        seeds_for_power(1.0, -1)


# The simulated suites: the base optimizer, SAM and five budgeted methods
# at one budget; the seed moves every variant together with sd 3x the
# run-to-run sd (1), as the committed suites' numbers
# (shared/research/verdicts.md: residual sd 1.3-7.1 beside much larger
# spreads over seeds).
METHODS = ('arsam', 'periodic', 'aesam', 'looksam', 'randomsam')


def _suite(rng, seeds, lead=None, size=2.0):
    rows = []
    shift = rng.normal(0, 3.0, seeds)
    for opt, budget in [('base', None), ('sam', None)] + [
            (m, 0.3) for m in METHODS]:
        y = shift + rng.normal(0, 1.0, seeds) + (size if opt == lead else 0)
        rows.append(dict(
            task='t', optimizer=opt, budget=budget, metric='m',
            label=opt if budget is None else f'{opt}@{budget:g}',
            metric_mean=float(y.mean()), metric_sd=float(y.std(ddof=1)),
            grad_evals_per_iter=1.3, cost_x_base=None, seeds=seeds,
            metric_by_seed=[[s, float(v)] for s, v in enumerate(y)]))
    return rows


def _claims(result):
    return [c for family in result['comparisons'].values() for c in family
            if c['ahead'] is not None]


#: Simulated suites per rate; 3 binomial sds of a 5% rate over them.
SUITES = 1000
MARGIN = 3 * math.sqrt(0.05 * 0.95 / SUITES)  # 0.021


@pytest.mark.parametrize('seeds', [3, 5])
def test_equal_methods_are_called_different_at_most_5_percent(seeds):
    """Identical methods: the rule names some variant ahead of another at
    the budget (any of its 14 comparisons) in at most 5% of the suites
    (+ 3 binomial sds), and SAM passes the gate in at most 2.5% (a
    one-sided 2.5% test). The former rule (mean difference beyond the
    larger sd) named a pair in about 74% of such suites with 3 seeds."""
    rng = np.random.default_rng(seeds)
    results = [analyse(_suite(rng, seeds), 't') for _ in range(SUITES)]
    lead = np.mean([bool(_claims(r)) for r in results])
    gate = np.mean([r['gate']['passed'] for r in results])
    assert lead <= 0.05 + MARGIN, lead
    assert gate <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / SUITES), gate
    # measured with these generators: a lead named in 3.7% (3 seeds) and
    # 2.9% (5 seeds) of the suites, the gate passed in 2.2% and 2.5%
    assert lead > 0.0


def test_a_lead_of_two_run_sds_is_found_with_5_seeds():
    """One rival 2 run-to-run sds ahead of every other variant, 5 seeds:
    the rule names it ahead of some variant it leads in most suites
    (measured 72%: ahead of the base optimizer, SAM or ARSAM), ahead of
    ARSAM itself in about half (measured 49%: one comparison of 14 at
    Holm's level)."""
    rng = np.random.default_rng(7)
    found = behind = 0
    for _ in range(500):
        result = analyse(_suite(rng, 5, lead='periodic'), 't')
        found += any(c['ahead'] == 'periodic@0.3' for c in _claims(result))
        behind += result['arsam_behind'][0.3] == ['periodic']
        # never the wrong way round
        assert all(c['ahead'] == 'periodic@0.3' for c in _claims(result)
                   if 'periodic@0.3' in (c['a'], c['b']))
    assert found / 500 > 0.5, found / 500
    assert behind / 500 > 0.35, behind / 500
