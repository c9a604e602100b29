"""The reproduction scorecard: published values recomputed from the released data, rules that can fail, and a
committed REPRODUCTION.md that matches the committed data."""

import numpy as np
import pytest
import xarray as xr

from mdrl_lib import scorecard
from mdrl_lib.experiments import point_mass
from mdrl_lib.paths import root


@pytest.mark.parametrize("beta", [1.0, 0.1, 0.01, 0.001])
def test_point_mass_published_error_is_the_papers_bar(beta):
    """The authors' bar chart (docs/methods/maxdiff.md §5.3), recomputed from their evaluation logs."""
    for algo in ("MaxDiff", "NN-MPPI", "SAC"):
        err = scorecard.point_mass_published_error(beta, algo)
        mean, std = point_mass.PUBLISHED_FINAL_ERROR[beta][algo]
        assert err.mean() == pytest.approx(mean, abs=0.051) and err.std() == pytest.approx(std, abs=0.051)


def test_best_rule_needs_the_mean_and_two_of_three_seeds():
    pub = {"A": 1.0, "B": 2.0, "C": 2.01}  # lower is better: A best; B and C near-tied (their order is no claim)
    ok = {"A": np.array([1.0, 1.0, 2.5]), "B": np.array([3.0, 3.0, 3.0]), "C": np.array([2.0, 2.0, 2.0])}
    row = scorecard._order_row("maxdiff", "f", "error", pub, ok, lower_is_better=True, published_note="p",
                               ours_note="o")
    assert row.verdict == "reproduced" and row.claim == "error: A best (published A < B < C)"
    one_seed = {**ok, "A": np.array([1.0, 9.0, 9.0])}  # A beats the others in one seed only, and not on the mean
    assert scorecard._order_row("maxdiff", "f", "e", pub, one_seed, lower_is_better=True, published_note="p",
                                ours_note="o").verdict == "not reproduced"
    lucky_mean = {**ok, "A": np.array([0.0, 2.5, 2.5])}  # best mean, but beats C in 1 of 3 seeds
    assert scorecard._order_row("maxdiff", "f", "e", pub, lucky_mean, lower_is_better=True, published_note="p",
                                ours_note="o").verdict == "not reproduced"
    missing = {**ok, "C": np.array([np.nan, np.nan, 3.0])}  # C has no value on two seeds: only seed 3 compares
    assert scorecard._order_row("maxdiff", "f", "e", pub, missing, lower_is_better=True, published_note="p",
                                ours_note="o").verdict == "reproduced"
    higher = scorecard._order_row("maxdiff", "f", "e", pub, ok, lower_is_better=False, published_note="p",
                                  ours_note="o")  # 'higher is better' ranks C first; in ours B is highest
    assert higher.claim == "e: C best (published C > B > A)" and higher.verdict == "not reproduced"


def test_range_rule_reads_the_published_curve_at_the_same_step():
    pub = xr.DataArray([[0.0, 10.0, 20.0], [0.0, 30.0, 40.0]], dims=("seed", "step"),
                       coords={"step": [0, 1000, 2000]})
    inside = scorecard._range_row("maxdiff", "f", "x", np.array([12.0, 28.0]), pub, 1500)
    assert inside.verdict == "inside" and "published read at 1,000" in inside.claim and "2/2 inside" in inside.ours
    assert scorecard._range_row("maxdiff", "f", "x", np.array([35.0, 50.0]), pub, 1000).verdict == "outside"
    assert scorecard._range_row("maxdiff", "f", "x", np.array([np.nan]), pub, 1000).verdict == "no data"


def test_claim_rule_direction():
    better, worse = np.array([0.1, 0.2, 0.9]), np.array([0.5, 0.5, 0.5])
    assert scorecard._claim_row("diffmaxent", "f", "c", better, worse, "o", lower_is_better=True).verdict == \
        "reproduced"
    assert scorecard._claim_row("diffmaxent", "f", "c", better, worse, "o").verdict == "not reproduced"


def test_committed_reproduction_md_is_current():
    rows, missing = scorecard.scorecard("quick")
    assert not missing and len(rows) >= 20
    committed = (root() / "REPRODUCTION.md").read_text(encoding="utf-8")
    assert committed == scorecard.markdown(rows, missing, scale="quick"), (
        "REPRODUCTION.md is stale: regenerate it with `make figures NOTEBOOKS=99`")


def test_published_folder_finds_one_released_run_or_says_why():
    from mdrl_lib import references

    assert references.published_folder("MaxDiff", "swimmer", body="heavy", alpha=100) == \
        "maxdiff/SwimmerEnv_v3_H40_alpha100"
    assert references.published_folder("SAC", "point_mass", beta=0.001) == \
        "sac_orig/PointMass2D_DoubleIntEnv_beta1e_03_rew25"
    with pytest.raises(ValueError, match="expected one released run for MaxDiff on swimmer .*found \\[\\]"):
        references.published_folder("MaxDiff", "swimmer", body="heavy", alpha=7)
