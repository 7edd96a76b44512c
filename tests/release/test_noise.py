"""DP noise inside MPC: the per-node samplers against their target laws, the noise left when
one node's share is removed, the calibration's bounds, refusals, and noisy COUNT/SUM plans
end to end through the nodes' program and the recipient's decoder.

OpenDP's samplers draw from a CSPRNG and cannot be seeded (by design); every statistical
threshold here is set so that a correct sampler fails with probability below 10^-4."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from tests.release.plans import HEAD
from tests.release.test_stage import _duck, _rows, _run
from tyst.jobs.check import check_plan
from tyst.plan import parse_plan
from tyst.planner.jobspec import job_spec
from tyst.release.mechanisms import Noise
from tyst.release.privacy import (
    NoisyColumn,
    bound95,
    calibration,
    per_node_scale,
    sample,
    tail_cut,
)
from tyst.sql import ir
from tyst.sql.errors import SqlError

INT = ir.INT

PLAN = (
    HEAD
    + """\
[privacy]
unit = "k"
mechanism = "{mechanism}"
{measure} = "{spend}"
max_rows_per_unit = 1
bounds = {{ x = [-20, 30] }}
keys = {{ g = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11] }}
"""
)


def _spec(sql: str, mechanism: str = "laplace", spend: str = "1"):  # type: ignore[no-untyped-def]
    measure = "epsilon" if mechanism == "laplace" else "rho"
    text = PLAN.format(sql=sql, mechanism=mechanism, measure=measure, spend=spend)
    return job_spec(parse_plan(text))


def _column(mechanism: str, scale: float) -> NoisyColumn:
    return NoisyColumn(
        "c", "COUNT", mechanism, Fraction(1), 1, scale, tail_cut(mechanism, scale), 0, INT
    )


def _chi_square(samples: np.ndarray, pmf: dict[int, float]) -> tuple[float, int]:
    """Pearson's statistic over the cells with expected count ≥ 5 (the rest pooled)."""
    n = len(samples)
    values, counts = np.unique(samples, return_counts=True)
    seen = dict(zip(values.tolist(), counts.tolist(), strict=True))
    cells = [x for x, p in pmf.items() if p * n >= 5]
    stat, rest_obs, rest_exp = 0.0, n, n * 1.0
    for x in cells:
        obs, exp = seen.get(x, 0), pmf[x] * n
        stat += (obs - exp) ** 2 / exp
        rest_obs -= obs
        rest_exp -= exp
    if rest_exp >= 5:
        stat += (rest_obs - rest_exp) ** 2 / rest_exp
        return stat, len(cells)
    return stat, len(cells) - 1


def _critical(df: int) -> float:
    """A chi-square quantile far out (p ≈ 10^-5; Wilson–Hilferty approximation)."""
    z = 4.3
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def _laplace_pmf(b: float) -> dict[int, float]:
    q = math.exp(-1 / b)
    return {x: (1 - q) / (1 + q) * q ** abs(x) for x in range(-60, 61)}


def _gaussian_pmf(s: float) -> dict[int, float]:
    w = {x: math.exp(-(x**2) / (2 * s * s)) for x in range(-80, 81)}
    total = sum(w.values())
    return {x: v / total for x, v in w.items()}


@pytest.mark.parametrize(("mechanism", "scale"), [("laplace", 2.0), ("gaussian", 3.0)])
def test_one_node_samples_the_target_law(mechanism: str, scale: float) -> None:
    draws = sample(_column(mechanism, scale), 4000)
    pmf = _laplace_pmf(scale) if mechanism == "laplace" else _gaussian_pmf(scale)
    stat, df = _chi_square(draws, pmf)
    assert stat < _critical(df), (stat, df)
    # and it is not some other law: the same test rejects a scale 1.5 times as large
    wrong = _laplace_pmf(1.5 * scale) if mechanism == "laplace" else _gaussian_pmf(1.5 * scale)
    assert _chi_square(draws, wrong)[0] > _critical(_chi_square(draws, wrong)[1])


@pytest.mark.parametrize(("mechanism", "scale"), [("laplace", 2.0), ("gaussian", 3.0)])
def test_two_nodes_noise_without_the_third_has_at_least_the_target_variance(
    mechanism: str, scale: float
) -> None:
    q = math.exp(-1 / scale)
    target = 2 * q / (1 - q) ** 2 if mechanism == "laplace" else scale**2  # Gaussian: ≤ σ²
    column = _column(mechanism, scale)
    two = sample(column, 3000) + sample(column, 3000)
    # Var(N1 + N2) = 2·Var(N) ≥ Var(N); the sample variance is well above the target
    assert np.var(two) >= target
    assert abs(np.var(two) / (2 * target) - 1) < 0.25


@pytest.mark.parametrize(("mechanism", "scale"), [("laplace", 3.0), ("gaussian", 4.0)])
def test_the_95_percent_bound_holds_for_three_noises(mechanism: str, scale: float) -> None:
    column = _column(mechanism, scale)
    total = sample(column, 2000) + sample(column, 2000) + sample(column, 2000)
    bound = bound95(mechanism, scale)
    assert np.mean(np.abs(total) <= bound) >= 0.93  # a proven bound: ≥ 95 % in law
    assert bound < 4 * math.sqrt(3) * scale * (1.5 if mechanism == "laplace" else 1)


def test_the_scale_is_accounted_by_opendp() -> None:
    b = per_node_scale("laplace", 3, Fraction(1, 2))
    assert 6.0 <= b < 6.0 * (1 + 2**-20)
    s = per_node_scale("gaussian", 2, Fraction(1, 8))
    assert 4.0 <= s < 4.0 * (1 + 2**-20)  # σ = Δ/√(2ρ)


def test_calibration_splits_the_spend_and_scales_the_sum() -> None:
    spec = _spec("SELECT COUNT(*) AS n, SUM(x) AS s FROM t", spend="1")
    n, s = calibration(spec.plan.privacy, spec.compiled.plan)
    assert (n.spend, s.spend) == (Fraction(1, 2), Fraction(1, 2))
    assert (n.sensitivity, s.sensitivity) == (1, 30)
    assert n.scale >= 2.0
    assert s.scale >= 60.0
    assert isinstance(spec.release[0], Noise)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT AVG(x) AS a FROM t", "COUNT and SUM only"),
        ("SELECT MAX(x) AS a FROM t", "COUNT and SUM only"),
        ("SELECT SUM(g) AS a FROM t", "needs clamp bounds"),
        ("SELECT k, COUNT(*) AS n FROM t GROUP BY k", "public key set"),
        ("SELECT COUNT(*) * 2 AS n FROM t", "no expressions"),
        ("SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING COUNT(*) > 2", "HAVING"),
        ("SELECT COUNT(*) AS n FROM t a JOIN t b ON a.k = b.k", "one table"),
    ],
)
def test_what_the_privacy_release_cannot_do_is_refused(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        _spec(sql)


def test_min_group_size_with_privacy_is_refused() -> None:
    text = PLAN.format(
        sql="SELECT COUNT(*) AS n FROM t", mechanism="laplace", measure="epsilon", spend="1"
    ).replace('recipients = ["a"]', 'recipients = ["a"]\nmin_group_size = 5')
    with pytest.raises(SqlError, match="min_group_size with"):
        job_spec(parse_plan(text))


def test_tyst_check_shows_each_noisy_column() -> None:
    spec = _spec("SELECT g, COUNT(*) AS n, SUM(x) AS s FROM t GROUP BY g", spend="1")
    text = check_plan(spec.plan).text
    assert "1. noise: laplace (ε = 1 per run" in text
    n, s = calibration(spec.plan.privacy, spec.compiled.plan)
    assert (
        f"       n: discrete Laplace noise, ε = 1/2 (sensitivity 1), 95 % of releases within "
        f"±{n.bound95} of the exact value"
    ) in text
    assert (
        f"       s: discrete Laplace noise, ε = 1/2 (sensitivity 30), 95 % of releases within "
        f"±{s.bound95} of the exact value"
    ) in text
    assert "       exact (public keys): g" in text
    assert "bounded aggregate COUNT(*)" in text


def test_noisy_count_and_sum_end_to_end() -> None:
    sql = "SELECT COUNT(*) AS n, SUM(x) AS s FROM t WHERE x > -30"
    spec = _spec(sql, spend="2")
    n_col, s_col = calibration(spec.plan.privacy, spec.compiled.plan)
    within, differs, runs = 0, 0, 40
    for run in range(runs):
        rows = _rows(9, seed=run)
        clamped = [(k, g, min(max(x, -20), 30)) for k, g, x in rows]
        exact = [int(v) for v in _duck(sql.replace("SUM(x)", "SUM(x)"), clamped)[0]]
        got, padded = _run(spec, rows)
        assert padded == 1
        assert got["header"] == ["n", "s"]
        noisy = [int(v) for v in got["rows"][0]]
        errors = [abs(a - b) for a, b in zip(noisy, exact, strict=True)]
        differs += any(errors)
        within += errors[0] <= n_col.bound95 and errors[1] <= s_col.bound95
        assert errors[0] <= 3 * n_col.tail
        assert errors[1] <= 3 * s_col.tail
    assert within >= 0.9 * runs
    assert differs >= 0.9 * runs  # noise is there: an exact release would be a silent leak


def test_noisy_group_counts_over_public_keys() -> None:
    sql = "SELECT g, COUNT(*) AS n FROM t GROUP BY g"
    spec = _spec(sql, mechanism="gaussian", spend="2")
    rows = _rows(30, seed=5)
    got, padded = _run(spec, rows)
    keys = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11]
    assert padded == len(keys)
    assert [int(r[0]) for r in sorted(got["rows"], key=lambda r: int(r[0]))] == keys
    exact = dict(_duck(sql, rows))
    (col,) = calibration(spec.plan.privacy, spec.compiled.plan)
    for g, n in got["rows"]:
        assert abs(int(n) - int(exact.get(g, "0"))) <= 3 * col.tail  # key 11: no rows, noise only
