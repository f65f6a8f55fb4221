"""The MNIST file the sandbox sees: the training split only, plus the test images.

* ``x_train``/``y_train``: the first 50,000 training images and labels;
* ``x_test``/``y_test``: the last 10,000 training images (a validation split), marked by the
  array ``__split__`` so that ``load_mnist`` accepts the non-canonical sizes;
* ``x_probe``: the 10,000 test IMAGES (uint8) for accuracy probes. The test labels never enter
  the sandbox; the trusted side has them (``TrustedData.mnist_test_labels``).

Built once from the verified canonical file and cached in the grader's state directory.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

import numpy as np

from grader.engine.limits import state_dir

VERSION = 1
N_TRAIN = 50_000
_lock = threading.Lock()


def sandbox_mnist_path() -> Path:
    """Path of the sandbox MNIST file, building it on first use (needs the canonical data)."""
    dest = state_dir() / f"mnist-sandbox-v{VERSION}.npz"
    if dest.is_file():
        return dest
    with _lock:
        if dest.is_file():
            return dest
        from grader.student.mnist import locate_mnist, read_npz, verify_arrays

        src = locate_mnist()
        arrays = read_npz(src)
        verify_arrays(arrays, origin=str(src))
        x, y = arrays["x_train"], arrays["y_train"]
        out = {
            "x_train": x[:N_TRAIN],
            "y_train": y[:N_TRAIN],
            "x_test": x[N_TRAIN:],
            "y_test": y[N_TRAIN:],
            "__split__": np.array([N_TRAIN, len(x) - N_TRAIN], dtype=np.int64),
            "x_probe": arrays["x_test"],
        }
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    return dest
