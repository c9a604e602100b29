"""Known-answer tests for mdrl_lib.stats (IQM, stratified bootstrap CIs, performance profiles)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from mdrl_lib.stats import (
    aggregate_over_seeds,
    iqm,
    mean_std,
    normalize_scores,
    performance_profile,
    performance_profile_ci,
    stratified_bootstrap_ci,
)

# --- point estimators ---


def test_iqm_of_1_to_8_is_mean_of_3_to_6():
    assert iqm(np.arange(1, 9)) == 4.5
    assert iqm(np.arange(1, 9).reshape(4, 2)) == 4.5  # pooled over runs x tasks


def test_iqm_matches_rliable_definition_when_n_not_divisible_by_4():
    x = np.array([9.0, 1.0, 7.0, 3.0, 100.0, 2.0, 5.0, 4.0, 6.0, -50.0])  # n=10: floor(2.5)=2 cut per end
    assert iqm(x) == pytest.approx(np.mean([2, 3, 4, 5, 6, 7]))
    assert iqm([3.0]) == 3.0 and iqm([1.0, 5.0]) == 3.0 and iqm([1.0, 2.0, 9.0]) == 4.0  # n < 4: no cut
    # floor(0.25 n) cut per end, like scipy.stats.trim_mean(x, 0.25): n=5 and 7 cut 1, n=9 cuts 2
    assert iqm([100.0, 0.0, 1.0, 2.0, 3.0]) == 2.0
    assert iqm([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 100.0]) == 3.0
    assert iqm([-100.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0]) == 3.0


def test_iqm_constant_and_axes():
    assert iqm(np.full((5, 3), 2.5)) == 2.5
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(iqm(x, axis=-1), x.mean(axis=-1))  # rows of 4 consecutive ints
    # pooled over axes 0 and 2: {4i..4i+3, 4i+12..4i+15}; the middle four are 4i+2, 4i+3, 4i+12, 4i+13
    np.testing.assert_allclose(iqm(x, axis=(0, 2)), [7.5, 11.5, 15.5])


def test_mean_std_sample_std_and_single_seed():
    m, s = mean_std([[1.0, 2.0], [3.0, 6.0]], axis=0)
    np.testing.assert_allclose(m, [2.0, 4.0])
    np.testing.assert_allclose(s, [np.sqrt(2.0), np.sqrt(8.0)])
    m, s = mean_std([4.0])
    assert m == 4.0 and np.isnan(s)


def test_normalize_scores_numpy_and_xarray():
    np.testing.assert_allclose(normalize_scores([0.0, 5.0, 10.0], 0.0, 10.0), [0.0, 0.5, 1.0])
    da = xr.DataArray([[1.0, 3.0]], dims=("seed", "env"), coords={"env": ["a", "b"]})
    ref = xr.DataArray([3.0, 5.0], dims="env", coords={"env": ["a", "b"]})
    out = normalize_scores(da, xr.DataArray([1.0, 1.0], dims="env", coords={"env": ["a", "b"]}), ref)
    assert isinstance(out, xr.DataArray)
    np.testing.assert_allclose(out.values, [[0.0, 0.5]])
    with pytest.raises(ValueError, match="reference_score must differ"):
        normalize_scores([1.0], 2.0, 2.0)


# --- bootstrap ---


@pytest.mark.parametrize("statistic", ["mean", "median", "iqm"])
def test_bootstrap_of_constant_data_collapses_to_point(statistic):
    point, lo, hi = stratified_bootstrap_ci(np.full((10, 5), 0.7), statistic, rng=np.random.default_rng(0))
    assert point == pytest.approx(0.7)
    assert lo == point == hi


def test_bootstrap_ci_covers_true_mean_at_nominal_rate():
    rng = np.random.default_rng(20210823)
    covered = 0
    for _ in range(200):
        x = rng.normal(loc=1.0, scale=2.0, size=(100, 1))
        _, lo, hi = stratified_bootstrap_ci(x, "mean", n_boot=1000, ci=0.95, rng=rng)
        covered += lo <= 1.0 <= hi
    assert 0.9 <= covered / 200 <= 0.99


def test_same_seed_same_ci_different_seed_different():
    x = np.random.default_rng(3).normal(size=(10, 5))
    a = stratified_bootstrap_ci(x, "iqm", rng=np.random.default_rng(7))
    b = stratified_bootstrap_ci(x, "iqm", rng=np.random.default_rng(7))
    c = stratified_bootstrap_ci(x, "iqm", rng=np.random.default_rng(8))
    assert a == b
    assert a[0] == c[0] and (a[1], a[2]) != (c[1], c[2])
    assert stratified_bootstrap_ci(x, "iqm", rng=7) == a  # an int seed is wrapped with default_rng
    assert a[1] < a[0] < a[2]


def test_stratification_never_mixes_tasks():
    rng = np.random.default_rng(0)
    ranges = [(0.0, 1.0), (10.0, 11.0), (100.0, 101.0)]
    scores = np.stack([rng.uniform(lo, hi, size=6) for lo, hi in ranges], axis=1)  # (runs=6, tasks=3)
    seen = []

    def per_task_mean(samples):  # (n_boot, runs, tasks) -> (n_boot, tasks)
        seen.append(samples)
        return samples.mean(axis=1)

    point, lo, hi = stratified_bootstrap_ci(scores, per_task_mean, n_boot=500, rng=rng)
    resampled = seen[-1]
    assert resampled.shape == (500, 6, 3)
    for k, (a, b) in enumerate(ranges):
        assert np.isin(resampled[:, :, k], scores[:, k]).all()  # only task k's own runs
        assert a <= lo[k] <= point[k] <= hi[k] <= b


def test_bootstrap_bad_input_raises_one_clear_error():
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match=r"2-D.*ndim 3"):
        stratified_bootstrap_ci(np.ones((2, 2, 2)), rng=0)
    with pytest.raises(ValueError, match=r"ci must be .*\(0, 1\).*1\.5"):
        stratified_bootstrap_ci(x, ci=1.5, rng=0)
    with pytest.raises(ValueError, match=r"ci must be .*\(0, 1\).*0"):
        stratified_bootstrap_ci(x, ci=0.0, rng=0)
    with pytest.raises(ValueError, match=r"n_boot must be an integer >= 1.*got 0"):
        stratified_bootstrap_ci(x, n_boot=0, rng=0)
    with pytest.raises(ValueError, match=r"rng must be a numpy.random.Generator.*None"):
        stratified_bootstrap_ci(x, rng=None)
    with pytest.raises(ValueError, match=r"unknown statistic 'avg'.*iqm"):
        stratified_bootstrap_ci(x, "avg", rng=0)
    with pytest.raises(ValueError, match="NaN"):
        stratified_bootstrap_ci(np.array([[1.0], [np.nan]]), rng=0)


# --- profiles ---


def test_performance_profile_known_values_and_shape():
    scores = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])  # (runs=4, tasks=2)
    taus = np.array([-1.0, 0.99, 2.5, 4.0, 25.0, 40.0, 41.0])
    prof = performance_profile(scores, taus)
    # per task fraction > tau, then averaged over the two tasks
    np.testing.assert_allclose(prof, [1.0, 1.0, (0.5 + 1.0) / 2, (0.0 + 1.0) / 2, 0.25, 0.0, 0.0])


def test_performance_profile_monotone_and_bounded():
    scores = np.random.default_rng(1).normal(size=(10, 5))
    taus = np.linspace(scores.min() - 1, scores.max() + 1, 101)
    prof = performance_profile(scores, taus)
    assert np.all(np.diff(prof) <= 0)
    assert prof[0] == 1.0 and prof[-1] == 0.0
    assert performance_profile(scores, scores.max())[0] == 0.0


def test_performance_profile_ci_brackets_point_and_is_reproducible():
    scores = np.random.default_rng(2).normal(size=(10, 5))
    taus = np.linspace(-3, 3, 25)
    point, lo, hi = performance_profile_ci(scores, taus, n_boot=500, rng=np.random.default_rng(0))
    again = performance_profile_ci(scores, taus, n_boot=500, rng=np.random.default_rng(0))
    assert point.shape == lo.shape == hi.shape == (25,)
    np.testing.assert_array_equal(point, performance_profile(scores, taus))
    assert np.all(lo <= point) and np.all(point <= hi)
    for u, v in zip((point, lo, hi), again, strict=True):
        np.testing.assert_array_equal(u, v)


# --- xarray ---


def _curves() -> xr.DataArray:
    # dims (algo, seed, step); algo "a": seeds 1..4 at every step, shifted by step; algo "b": constant 5.
    a = np.arange(1.0, 5.0)[:, None] + np.array([0.0, 10.0])[None, :]
    b = np.full((4, 2), 5.0)
    return xr.DataArray(
        np.stack([a, b]),
        dims=("algo", "seed", "step"),
        coords={"algo": ["a", "b"], "seed": [0, 1, 2, 3], "step": [100, 200]},
        attrs={"scale": "smoke"},
    )


def test_aggregate_over_seeds_hand_computed():
    ds = aggregate_over_seeds(_curves(), rng=np.random.default_rng(0), n_boot=300)
    assert set(ds.data_vars) == {"mean", "std", "iqm", "ci_lo", "ci_hi"}
    for v in ds.data_vars.values():
        assert v.dims == ("algo", "step")
    assert list(ds.algo.values) == ["a", "b"] and list(ds.step.values) == [100, 200]
    np.testing.assert_allclose(ds["mean"].values, [[2.5, 12.5], [5.0, 5.0]])
    np.testing.assert_allclose(ds["std"].values, [[np.std([1, 2, 3, 4], ddof=1)] * 2, [0.0, 0.0]])
    np.testing.assert_allclose(ds["iqm"].values, [[2.5, 12.5], [5.0, 5.0]])  # mean of 2, 3 (+10)
    np.testing.assert_array_equal(ds["ci_lo"].sel(algo="b").values, [5.0, 5.0])
    np.testing.assert_array_equal(ds["ci_hi"].sel(algo="b").values, [5.0, 5.0])
    assert np.all(ds["ci_lo"].sel(algo="a") < ds["iqm"].sel(algo="a"))
    assert ds.attrs["scale"] == "smoke" and ds.attrs["n_seeds"] == 4


def test_aggregate_over_seeds_matches_stratified_bootstrap_per_cell():
    da = _curves()
    ds = aggregate_over_seeds(da, rng=5, n_boot=200, ci_statistic="mean")
    _, lo, hi = stratified_bootstrap_ci(da.sel(algo="a", step=200).values[:, None], "mean", 200, rng=5)
    assert ds["ci_lo"].sel(algo="a", step=200) == lo and ds["ci_hi"].sel(algo="a", step=200) == hi


def test_aggregate_over_seeds_with_task_dim_and_dataset():
    vals = np.array([[[1.0, 10.0]], [[2.0, 20.0]], [[3.0, 30.0]], [[4.0, 40.0]]])  # (seed, algo, env)
    ds_in = xr.Dataset({"ret": (("seed", "algo", "env"), vals)}, coords={"algo": ["x"], "env": ["e0", "e1"]})
    ds = aggregate_over_seeds(ds_in, task_dim="env", rng=0, n_boot=200)
    assert ds["mean"].dims == ("algo",)
    assert ds["mean"].item() == pytest.approx(13.75)
    assert ds["iqm"].item() == pytest.approx(np.mean([3.0, 4.0, 10.0, 20.0]))  # middle 4 of the 8 pooled
    assert ds["std"].item() == pytest.approx(np.std([5.5, 11.0, 16.5, 22.0], ddof=1))  # per-seed task means


def test_aggregate_over_seeds_bad_input():
    da = _curves()
    with pytest.raises(ValueError, match=r"dim='seeds'.*valid: \['algo', 'seed', 'step'\]"):
        aggregate_over_seeds(da, dim="seeds", rng=0)
    with pytest.raises(ValueError, match=r"ci must be .*got 95"):
        aggregate_over_seeds(da, ci=95, rng=0)
    with pytest.raises(ValueError, match=r"unknown ci_statistic 'max'"):
        aggregate_over_seeds(da, ci_statistic="max", rng=0)
    with pytest.raises(ValueError, match=r"var=None.*valid: \['a', 'b'\]"):
        aggregate_over_seeds(xr.Dataset({"a": da, "b": da}), rng=0)
