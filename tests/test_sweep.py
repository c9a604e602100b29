import numpy as np
import pytest
import xarray as xr

from mdrl_lib.sweep import grid, run_sweep


def toy_run(seed, algo, beta):
    """A stand-in experiment: a seeded 'learning curve' whose level depends on the setting."""
    rng = np.random.default_rng(seed)
    level = {"MaxDiff": 2.0, "SAC": 1.0}[algo] / beta
    steps = np.arange(4) * 10
    return xr.Dataset({"ret": ("step", level * steps + rng.normal(size=4))}, coords={"step": steps})


SETTINGS = {"algo": ["SAC", "MaxDiff"], "beta": [1.0, 0.1]}


def check(ds):
    assert dict(ds.sizes) == {"algo": 2, "beta": 2, "seed": 3, "step": 4}
    assert list(ds.algo.values) == ["SAC", "MaxDiff"]  # order given, not sorted
    assert list(ds.beta.values) == [1.0, 0.1]
    np.testing.assert_array_equal(ds.ret.sel(algo="MaxDiff", beta=0.1, seed=2).values,
                                  toy_run(2, "MaxDiff", 0.1).ret.values)


def test_serial_and_process_agree():
    serial = run_sweep(toy_run, SETTINGS, [0, 1, 2], executor="serial", progress=False)
    check(serial)
    procs = run_sweep(toy_run, SETTINGS, [0, 1, 2], executor="process", max_workers=2, progress=False)
    xr.testing.assert_identical(serial, procs)


def test_dask_local_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        ds = run_sweep(toy_run, SETTINGS, [0, 1, 2], executor=cluster.scheduler_address, progress=False)
        with distributed.Client(cluster) as client:
            ds2 = run_sweep(toy_run, grid(**SETTINGS), [0, 1, 2], executor=client, progress=False)
    check(ds)
    xr.testing.assert_identical(ds, run_sweep(toy_run, SETTINGS, [0, 1, 2], executor="serial", progress=False))
    xr.testing.assert_identical(ds, ds2)


def test_ragged_settings_fill_nan():
    ds = run_sweep(toy_run, [{"algo": "SAC", "beta": 1.0}, {"algo": "MaxDiff", "beta": 0.1}], [0],
                   executor="serial", progress=False)
    assert np.isnan(ds.ret.sel(algo="SAC", beta=0.1)).all()
    assert not np.isnan(ds.ret.sel(algo="MaxDiff", beta=0.1)).any()


def test_bad_input():
    with pytest.raises(ValueError, match="seeds is empty"):
        run_sweep(toy_run, SETTINGS, [], executor="serial")
    with pytest.raises(ValueError, match="duplicates"):
        run_sweep(toy_run, SETTINGS, [1, 1], executor="serial")
    with pytest.raises(ValueError, match="same keys"):
        run_sweep(toy_run, [{"algo": "SAC", "beta": 1.0}, {"algo": "SAC"}], [0], executor="serial")
    with pytest.raises(ValueError, match="unknown executor 'threads'; valid: 'process', 'serial'"):
        run_sweep(toy_run, SETTINGS, [0], executor="threads", progress=False)
    with pytest.raises(ValueError, match="grid axis 'algo' must be a list"):
        grid(algo="SAC")


def test_runs_with_different_curve_lengths_keep_their_own_dimensions():
    """A short and a long run (e.g. two environments' budgets): the curve goes on the union of steps, NaN past the
    short run's end, and a per-run scalar or per-episode variable does not gain the curve's dimension."""
    from mdrl_lib.sweep import combine

    def run(steps, final):
        return xr.Dataset({"curve": ("step", np.arange(1.0, len(steps) + 1)), "final": final,
                           "episodes": ("episode", [final, final + 1])},
                          coords={"step": steps, "episode": [0, 1]})

    ds = combine([run([10, 20], 2.0), run([10, 20, 30, 40], 4.0)], [{"env": "short"}, {"env": "long"}], [0, 0])
    assert ds.curve.dims == ("env", "seed", "step") and ds.step.values.tolist() == [10, 20, 30, 40]
    assert ds.final.dims == ("env", "seed") and ds.episodes.dims == ("env", "seed", "episode")
    np.testing.assert_array_equal(ds.curve.sel(env="short", seed=0), [1.0, 2.0, np.nan, np.nan])
    np.testing.assert_array_equal(ds.curve.sel(env="long", seed=0), [1.0, 2.0, 3.0, 4.0])
    assert ds.final.sel(env="short").item() == 2.0 and ds.env.values.tolist() == ["short", "long"]
