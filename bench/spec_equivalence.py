"""Old specs against the current ones on every mutation variant: verdict, hint and message.

Usage (from the repository root):
    .venv/bin/python bench/spec_equivalence.py REF MODULE [MODULE ...]

e.g. ``bench/spec_equivalence.py c168ca6 batch_norm optimizers softmax_with_loss``. Each
``grader/specs/<MODULE>.py`` is loaded as it was at git revision REF, with the shared spec
modules of that revision; the engine and the student package are today's, so REF's specs must
run against today's engine (revisions of this round do; d6e5d64's do not). Each old item runs,
with the current spec's item of the same id, on every CORRECT / BUGGY / WARNED variant of
``tests/mutations/variants.py`` for 10 seeds. Prints how many runs differ in (points, hint
id) and how many in the message text (which carries the measured error, so it differs when
the inputs are drawn differently). Trained items (fits, MNIST accuracy) are skipped: the
mutation suite does not cover them.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402
from mutations.harness import run_item  # noqa: E402
from mutations.variants import BUGGY, CORRECT, WARNED  # noqa: E402

from grader.specs import all_assignments  # noqa: E402


def old_items(ref: str, module: str, folder: Path) -> dict:
    """The items of ``grader/specs/<module>.py`` at ``ref``, with the shared spec modules
    (``_checks``, ``_declare``, ...) of that revision too: the whole ``grader/specs/`` folder
    of ``ref`` becomes the package ``old_specs_<ref>`` (the engine and the student package are
    today's)."""
    package = f"old_specs_{ref}"
    root = folder / package
    if not root.exists():
        root.mkdir()
        names = subprocess.run(
            ["git", "-C", str(ROOT), "ls-tree", "--name-only", ref, "grader/specs/"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        for name in (n for n in names if n.endswith(".py")):
            source = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{ref}:{name}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            source = source.replace("from grader.specs.", f"from {package}.")
            (root / Path(name).name).write_text(source)
        sys.path.insert(0, str(folder))
    loaded = importlib.import_module(f"{package}.{module}")
    return {it.id: it for it in loaded.ASSIGNMENT.items}


def main() -> None:
    ref, modules = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        old = {k: v for m in modules for k, v in old_items(ref, m, Path(tmp)).items()}
    new = {it.id: it for a in all_assignments() for it in a.items}
    runs = verdicts = messages = 0
    for table in (CORRECT, BUGGY, WARNED):
        for item_id, variants in table.items():
            if item_id not in old:
                continue
            for variant in variants:
                for seed in range(10):
                    np.random.seed(seed)
                    a = run_item(old[item_id], variant[1], seed)
                    np.random.seed(seed)
                    b = run_item(new[item_id], variant[1], seed)
                    runs += 1
                    same = (a.fraction, a.hint and a.hint.id) == (b.fraction, b.hint and b.hint.id)
                    if not same:
                        print("differs:", item_id, variant[0], seed, a.fraction, b.fraction)
                    verdicts += not same
                    messages += a.message != b.message
    print(
        f"{len(old)} items, {runs} runs: points or hint differ in {verdicts}, "
        f"message text in {messages}"
    )


if __name__ == "__main__":
    main()
