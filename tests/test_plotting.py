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
