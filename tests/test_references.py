"""references.py: download, integrity checks, cache and offline behaviour, on small files made here."""

import functools
import http.server
import io
import json
import threading

import numpy as np
import pytest

from mdrl_lib import references as refs
from mdrl_lib.references import (
    DIME_FILES,
    ReferenceFile,
    ReferenceIntegrityError,
    ReferenceUnavailableError,
    git_blob_sha1,
    load_dime_curves,
    try_load_dime_curves,
)


def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _serve_folder(tmp_path, tasks=(("toy_a", 3), ("toy_b", 5))):
    """Write toy paper_results/<task>/*.npy and return (folder, files table, curves)."""
    root = tmp_path / "server"
    files, curves = {}, {}
    for i, (task, T) in enumerate(tasks):
        grid = np.tile(np.concatenate([[1.0], 24_000.0 * np.arange(1, T)]), (10, 1))
        values = np.arange(10 * T, dtype=np.float64).reshape(10, T) + 1000 * i
        files[task], curves[task] = {}, values
        for name, arr in (("env_interacts", grid), ("mean_return", values)):
            data = _npy(arr)
            (root / task).mkdir(parents=True, exist_ok=True)
            (root / task / f"{name}.npy").write_bytes(data)
            files[task][name] = ReferenceFile(f"{task}/{name}.npy", len(data), git_blob_sha1(data)[:8])
    return root, files, curves


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.delenv("MDRL_OFFLINE", raising=False)
    return tmp_path / "cache"


def test_git_blob_hash_matches_git():
    assert git_blob_sha1(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object`


def test_published_table_matches_the_spec():
    assert len(DIME_FILES) == 21
    assert DIME_FILES["gym_ant_v3"]["mean_return"] == ReferenceFile("gym_ant_v3/mean_return.npy", 3488, "e2dd10bc")
    assert DIME_FILES["dmc_dog_run"]["env_interacts"].size == 10208
    assert DIME_FILES["dmc_dog_run"]["env_interacts"].git_blob_prefix == "c5922386"
    assert sum(f.size for t in DIME_FILES.values() for f in t.values()) == 173_376  # spec §4 total


def test_download_verify_cache_and_dataset(tmp_path, cache):
    root, files, curves = _serve_folder(tmp_path)
    ds = load_dime_curves(None, base_url=root.as_uri(), cache=cache, files=files)
    assert ds["mean_return"].dims == ("task", "seed", "step")
    assert list(ds.task.values) == ["toy_a", "toy_b"] and ds.sizes["seed"] == 10
    assert list(ds.step.values) == [1, 24_000, 48_000, 72_000, 96_000]
    np.testing.assert_array_equal(ds.mean_return.sel(task="toy_b").values, curves["toy_b"])
    np.testing.assert_array_equal(ds.mean_return.sel(task="toy_a").values[:, :3], curves["toy_a"])
    assert np.isnan(ds.mean_return.sel(task="toy_a").values[:, 3:]).all()  # past toy_a's grid end
    assert "7082bb7e8ab0e7f8a036a985333541d08d9d3e7d" in ds.attrs["source"]
    cached = cache / "references" / "dime" / "7082bb7e8ab0"
    manifest = json.loads((cached / "manifest.json").read_text())
    assert set(manifest) == {f"{t}/{n}.npy" for t in files for n in ("env_interacts", "mean_return")}
    # second call: served from the cache, no network needed
    again = load_dime_curves("toy_a", base_url="http://127.0.0.1:9/nowhere", cache=cache, files=files)
    np.testing.assert_array_equal(again.mean_return.values[0], curves["toy_a"])


def test_wrong_content_is_rejected_and_not_cached(tmp_path, cache):
    root, files, _ = _serve_folder(tmp_path)
    data = bytearray((root / "toy_a" / "mean_return.npy").read_bytes())
    data[-1] ^= 1  # one flipped bit, same size
    (root / "toy_a" / "mean_return.npy").write_bytes(bytes(data))
    with pytest.raises(ReferenceIntegrityError, match="toy_a/mean_return.npy from file:.*git blob SHA-1 [0-9a-f]{40} "
                                                      "does not start with the published"):
        load_dime_curves("toy_a", base_url=root.as_uri(), cache=cache, files=files)
    assert not (cache / "references" / "dime" / "7082bb7e8ab0" / "toy_a" / "mean_return.npy").exists()
    pinned = {**files, "toy_b": {**files["toy_b"], "mean_return": ReferenceFile(
        "toy_b/mean_return.npy", files["toy_b"]["mean_return"].size, files["toy_b"]["mean_return"].git_blob_prefix,
        "0" * 64)}}
    with pytest.raises(ReferenceIntegrityError, match="sha256 [0-9a-f]{64}, pinned 0000"):
        load_dime_curves("toy_b", base_url=root.as_uri(), cache=cache, files=pinned)


def test_damaged_cache_is_fetched_again(tmp_path, cache):
    root, files, curves = _serve_folder(tmp_path)
    load_dime_curves("toy_a", base_url=root.as_uri(), cache=cache, files=files)
    local = cache / "references" / "dime" / "7082bb7e8ab0" / "toy_a" / "mean_return.npy"
    local.write_bytes(local.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ReferenceUnavailableError):  # damaged and no server: not silently used
        load_dime_curves("toy_a", base_url="http://127.0.0.1:9/x", cache=cache, files=files)
    ds = load_dime_curves("toy_a", base_url=root.as_uri(), cache=cache, files=files)
    np.testing.assert_array_equal(ds.mean_return.values[0], curves["toy_a"])


def test_offline_says_so(tmp_path, cache, monkeypatch):
    _, files, _ = _serve_folder(tmp_path)
    with pytest.raises(ReferenceUnavailableError, match="could not download http://127.0.0.1:9/x/toy_a/"
                                                        "env_interacts.npy.*offline"):
        load_dime_curves("toy_a", base_url="http://127.0.0.1:9/x", cache=cache, files=files, timeout=5)
    ds, msg = try_load_dime_curves("toy_a", base_url="http://127.0.0.1:9/x", cache=cache, files=files, timeout=5)
    assert ds is None and msg.startswith("published DIME curves unavailable: could not download")
    monkeypatch.setenv("MDRL_OFFLINE", "1")
    with pytest.raises(ReferenceUnavailableError, match="not cached .* MDRL_OFFLINE is set"):
        load_dime_curves("toy_a", base_url="http://127.0.0.1:9/x", cache=cache, files=files)


def test_http_server_on_localhost(tmp_path, cache):
    root, files, curves = _serve_folder(tmp_path, tasks=(("toy_a", 3),))
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        ds = load_dime_curves("toy_a", base_url=url, cache=cache, files=files)
        np.testing.assert_array_equal(ds.mean_return.values[0], curves["toy_a"])
        with pytest.raises(ReferenceUnavailableError, match="HTTP 404"):  # a file the server does not have
            bad = {"toy_a": {**files["toy_a"], "env_interacts": ReferenceFile("toy_a/missing.npy", 1, "00")}}
            load_dime_curves("toy_a", base_url=url, cache=tmp_path / "other", files=bad)
    finally:
        server.shutdown()
        server.server_close()


def test_bad_grid_and_unknown_task(tmp_path, cache):
    root, files, _ = _serve_folder(tmp_path, tasks=(("toy_a", 3),))
    grid = np.tile([1.0, 20_000.0, 40_000.0], (10, 1))
    data = _npy(grid)
    (root / "toy_a" / "env_interacts.npy").write_bytes(data)
    files["toy_a"]["env_interacts"] = ReferenceFile("toy_a/env_interacts.npy", len(data), git_blob_sha1(data)[:8])
    with pytest.raises(ReferenceIntegrityError, match="not the grid 1, 24000, 48000"):
        load_dime_curves("toy_a", base_url=root.as_uri(), cache=cache, files=files)
    with pytest.raises(ValueError, match="unknown DIME task\\(s\\) \\['gym_ant_v5'\\]; valid tasks are dmc_acrobot"):
        load_dime_curves("gym_ant_v5")


def test_headline_table():
    assert refs.DIME_HEADLINE["gym_ant_v3"]["final_mean"] == 6239
    assert set(refs.DIME_HEADLINE) == set(DIME_FILES)
