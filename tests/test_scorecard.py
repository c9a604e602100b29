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
    # every experiment with scorecard rows has its quick data committed, except the hours-long ones still to be
    # trained, whose notebooks load them with run_or_pending
    from mdrl_lib.notebooks import list_notebooks, pending_experiments

    pending = set().union(*(pending_experiments(nb) for nb in list_notebooks()))
    assert set(missing) <= pending and len(rows) >= 20
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


def test_spread_rule_is_about_the_std_over_seeds():
    pub = {"A": np.array([10.0, 11.0, 12.0]), "B": np.array([0.0, 20.0, 40.0])}  # A least spread
    tight = {"A": np.array([5.0, 5.5, 6.0]), "B": np.array([1.0, 9.0, 30.0])}
    row = scorecard._spread_row("maxdiff", "f", "x", pub, tight, published_note="p", ours_note="o")
    assert row.rule == "spread" and row.verdict == "reproduced" and "A least spread" in row.claim
    loose = {**tight, "A": np.array([0.0, 50.0, 100.0])}  # a higher mean does not help: the spread decides
    assert scorecard._spread_row("maxdiff", "f", "x", pub, loose, published_note="p",
                                 ours_note="o").verdict == "not reproduced"
    one = {**tight, "A": np.array([5.0])}
    assert scorecard._spread_row("maxdiff", "f", "x", pub, one, published_note="p", ours_note="o").verdict == "no data"


def _fake_swimmer_light(best, transfer, steps=10_000, seeds=(13, 113, 213)):
    """swimmer_light-shaped results: ``best[(algo, body)]`` each seed's running max at the budget,
    ``transfer[(train_body, eval_body)]`` MaxDiff's per-seed final return."""
    import json

    algos, alphas, bodies = ["MaxDiff", "NN-MPPI", "SAC"], [0.0, 100.0], ["light", "heavy"]
    b = np.full((3, 2, 2, len(seeds), 1), np.nan)
    e = np.full((3, 2, 2, len(seeds), 2, 1), np.nan)
    for i, a in enumerate(algos):
        j = 1 if a == "MaxDiff" else 0
        for k, body in enumerate(bodies):
            b[i, j, k, :, 0] = best[a, body]
            for m, on in enumerate(bodies):
                e[i, j, k, :, m, 0] = transfer.get((body, on), 0.0) if a == "MaxDiff" else 0.0
    return xr.Dataset({"best_return": (("algo", "alpha", "train_body", "seed", "curve_step"), b),
                       "eval_return": (("algo", "alpha", "train_body", "seed", "eval_body", "eval_episode"), e)},
                      coords={"algo": algos, "alpha": alphas, "train_body": bodies, "seed": list(seeds),
                              "curve_step": [steps], "eval_body": bodies, "eval_episode": [0]},
                      attrs={"config": json.dumps({"total_steps": steps})})


def test_swimmer_light_rows_read_the_released_runs_at_our_step():
    from mdrl_lib import references

    pub = {(a, body): references.published_curve(references.published_folder(a, "swimmer", body=body, alpha=100))
           .sel(step=10_000).values for a in ("MaxDiff", "NN-MPPI", "SAC") for body in ("light", "heavy")}
    # published at 10 k on the light tail: MaxDiff best and least spread
    assert np.mean(pub["MaxDiff", "light"]) > max(np.mean(pub["NN-MPPI", "light"]), np.mean(pub["SAC", "light"]))
    assert np.std(pub["MaxDiff", "light"]) < np.std(pub["NN-MPPI", "light"])
    like = {k: np.quantile(v, [0.4, 0.5, 0.6]) for k, v in pub.items()}  # 3 seeds inside each published range
    ds = _fake_swimmer_light(like, {("light", "heavy"): [30.0, 31.0, 32.0], ("heavy", "heavy"): [20.0, 21.0, 22.0]})
    rows = scorecard.swimmer_light_rows(ds)
    assert [r.rule for r in rows] == ["range"] * 3 + ["best", "spread"] + ["range"] * 3 + ["best", "claim"]
    assert all(r.verdict == "inside" for r in rows if r.rule == "range")
    light = rows[:5]
    assert "light tail" in light[3].claim and light[3].verdict == "reproduced"
    assert "MaxDiff α=100 best" in light[3].claim
    assert light[4].verdict == "reproduced" and "MaxDiff α=100 least spread" in light[4].claim
    assert "NN-MPPI" in light[4].claim and "SAC" not in light[4].claim  # the two planners only
    assert rows[-1].verdict == "reproduced" and "228" in rows[-1].published  # light -> heavy beats heavy -> heavy
    # MaxDiff's light-tail seeds spread wide: the spread row fails; swap the transfer: the claim fails
    wide = {**like, ("MaxDiff", "light"): np.array([pub["MaxDiff", "light"].min(), 200.0, 400.0])}
    swapped = {("light", "heavy"): [20.0, 21.0, 22.0], ("heavy", "heavy"): [30.0, 31.0, 32.0]}
    flipped = _fake_swimmer_light(wide, swapped)
    rows = scorecard.swimmer_light_rows(flipped)
    assert rows[4].verdict == "not reproduced" and rows[-1].verdict == "not reproduced"
