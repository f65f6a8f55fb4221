"""The MNIST file one job's sandbox sees: training data only, in a secret per-job code.

MNIST is public, so weights fitted elsewhere (pasted, fitted offline, fitted on the public
test images) would score as well as weights trained in the graded run. Each MNIST job
therefore gets its own file, written by the trusted side, in which

* the 784 pixels are permuted by a secret per-job permutation (an MLP on flattened images
  learns a permuted problem exactly as well: the first Affine layer's rows just move);
* the 10 labels are renamed by a secret permutation;
* the example order is shuffled.

It holds ``x_train``/``y_train`` (50,000 training images) and ``x_test``/``y_test`` (the
other 10,000 training images: a validation split, marked by ``__split__``), and NO test
images at all. The trusted side evaluates the network rebuilt from ``network.layers`` on the
real test images put through the same permutations (``JobMnist.graded_test``); a network
that was not trained on this job's file answers at chance there.

Residual risk (by construction): code inside the sandbox that carries public MNIST
statistics (e.g. per-pixel means, class templates) could try to recover both permutations
from the training file and map pasted weights onto them; ``tests/adversarial`` covers pasted
and offline-fitted weights, not that reverse engineering.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_TRAIN = 50_000
N_PIXELS = 784
N_CLASSES = 10
_lock = threading.Lock()
_uint8_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}


@dataclass(frozen=True)
class JobMnist:
    """One job's secret code for MNIST and the file written with it.

    ``pixel_perm[j]``: the canonical pixel shown as pixel ``j``; ``label_perm[c]``: the label
    shown for canonical class ``c``; ``val_order[i]``: the canonical training index (>= 50000)
    of the sandbox's validation image ``i``."""

    path: Path
    pixel_perm: np.ndarray
    label_perm: np.ndarray
    val_order: np.ndarray

    def encode_images(self, x: np.ndarray) -> np.ndarray:
        """Canonical (N, 784) images as the job's network sees them."""
        return np.ascontiguousarray(x.reshape(len(x), N_PIXELS)[:, self.pixel_perm])

    def graded_test(self, data) -> tuple[np.ndarray, np.ndarray]:
        """float32 (10000, 784) test images and int64 labels, in this job's code (the sandbox
        never held either)."""
        (_, _), (x_test, t_test) = data.mnist()
        return self.encode_images(x_test), self.label_perm[np.asarray(t_test, dtype=np.int64)]

    def probe_images(self, data) -> np.ndarray:
        """float32 (10000, 784): the sandbox's validation images (``MNIST_PROBE_X``)."""
        (x_train, _), _ = data.mnist()
        return self.encode_images(x_train[self.val_order])


def _canonical_uint8(data) -> tuple[np.ndarray, np.ndarray]:
    """The canonical training split as uint8 (N, 784) and labels, cached per process (the
    float32 [0, 1] arrays of ``data`` are exactly uint8 / 255)."""
    key = id(data.mnist()[0][0])
    with _lock:
        if key not in _uint8_cache:
            (x_train, t_train), _ = data.mnist()
            x = np.rint(np.asarray(x_train, dtype=np.float32) * 255.0).astype(np.uint8)
            _uint8_cache.clear()
            _uint8_cache[key] = (x.reshape(len(x), N_PIXELS), np.asarray(t_train, np.uint8))
        return _uint8_cache[key]


KEY_NAME = "mnist-code.key"


def _installation_key() -> bytes:
    """This grader installation's secret (32 bytes, mode 0600 in the state directory), made
    on first use; two processes racing to make it agree on the first one written."""
    from grader.jail.limits import state_dir

    path = state_dir() / KEY_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) == 32:
            return key
        raise RuntimeError(f"{path} is not a 32-byte key; remove it to make a new one") from None
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    return path.read_bytes()


def job_rng(notebook: bytes) -> np.random.Generator:
    """The generator of a job's secret code, keyed by this installation's secret and the
    notebook that runs: grading the same notebook twice gives the same code, hence the same
    score (DESIGN: "grading the same notebook twice gives the same score"), while nobody
    without the key can compute it, and any edit to the notebook draws a new one."""
    digest = hmac.new(_installation_key(), notebook, hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def write_job_mnist(dest: Path, data, rng: np.random.Generator | None = None) -> JobMnist:
    """Write this job's sandbox file to ``dest`` (mode 0644) with permutations drawn from
    ``rng`` (default: a fresh secret generator) and return them."""
    from grader.student.mnist import write_sandbox_mnist

    if rng is None:
        rng = np.random.default_rng(secrets.randbits(128))
    x, t = _canonical_uint8(data)
    pixel_perm = rng.permutation(N_PIXELS)
    label_perm = rng.permutation(N_CLASSES)
    train_order = rng.permutation(N_TRAIN)
    val_order = N_TRAIN + rng.permutation(len(x) - N_TRAIN)
    job = JobMnist(Path(dest), pixel_perm, label_perm, val_order)

    def part(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return job.encode_images(x[order]).reshape(-1, 28, 28), label_perm[t[order]]

    write_sandbox_mnist(dest, *part(train_order), *part(val_order))
    return job
