import hashlib

import matplotlib.pyplot as plt
import numpy as np
import pytest

from mdrl_lib.plotting import save_figure


def draw():
    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.linspace(0, 1, 50)
    ax.plot(x, np.sin(6 * x), label="sin")
    ax.fill_between(x, np.sin(6 * x) - 0.1, np.sin(6 * x) + 0.1, alpha=0.3)
    ax.set_title("test figure (smoke scale)")
    ax.legend()
    return fig


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_resave_is_byte_identical(tmp_path):
    first = save_figure(draw(), "fig_a", folder=tmp_path / "one")
    second = save_figure(draw(), "fig_a", folder=tmp_path / "two")
    for ext in ("png", "pdf"):
        assert first[ext].stat().st_size > 1000
        assert digest(first[ext]) == digest(second[ext]), ext
    plt.close("all")
    changed = draw()
    changed.axes[0].set_title("another title")
    third = save_figure(changed, "fig_a", folder=tmp_path / "three")
    assert digest(third["png"]) != digest(first["png"])


def test_scale_decides_folder(isolated):
    paths = save_figure(draw(), "fig_b", scale="smoke")
    assert paths["png"].parent == isolated / "figures"  # MDRL_FIGURES overrides every scale
    with pytest.raises(ValueError, match="unknown scale 'full'"):
        save_figure(draw(), "fig_b", scale="full")
    with pytest.raises(ValueError, match="figure_id 'a/b'"):
        save_figure(draw(), "a/b")
    plt.close("all")


def test_published_band_labels_seed_count_and_quantile():
    import matplotlib.pyplot as plt
    import numpy as np
    import xarray as xr

    from mdrl_lib.plotting import budget_marker, published_band, published_quantile

    curve = xr.DataArray(np.arange(12.0).reshape(3, 4), dims=("seed", "step"),
                         coords={"seed": [13, 113, 213], "step": [0, 10, 20, 30]})
    fig, ax = plt.subplots()
    published_band(ax, curve)
    budget_marker(ax, 15)
    labels = [line.get_label() for line in ax.lines]
    assert labels[0] == "published, 3 seeds (median; band min–max)" and labels[1] == "our budget"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), curve.median("seed").values)
    plt.close(fig)
    np.testing.assert_allclose(published_quantile([0.0, 5.0, 100.0], curve.sel(step=10).values), [0.0, 0.5, 1.0])
