"""Authoring an exercise (docs/AUTHORING.md): declared items, ``grader new``, ``grader author
check``, and the worked example built in a temp copy of the repository from the recipe's own
files (``docs/examples/label_smoothing/``)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from mutations.declared import variants
from mutations.harness import run_item

from grader.specs import all_assignments
from grader.specs._authorcheck import FINE, NOT_SEPARABLE, TOO_TIGHT, check_item, render
from grader.specs._declare import DeclarationError, DeclaredItem, declare, function, mistake

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "label_smoothing"
AID = "3-1-4_label_smoothing"
SEEDS = (11, 12, 13)


def load_spec(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_example_spec():
    path = EXAMPLE / "grader" / "specs" / "label_smoothing.py"
    return load_spec(path, "example_label_smoothing").ASSIGNMENT


# --- derived mutation variants: the solution keeps full marks, each mistake loses with its hint --


DECLARED = [it for a in [load_example_spec(), *all_assignments()] for it in a.items]
DECLARED = [it for it in DECLARED if isinstance(it, DeclaredItem)]


@pytest.mark.parametrize("item", DECLARED, ids=lambda it: it.id)
def test_derived_variants_of_every_declared_item(item):
    """The course's declared items and the worked example's: the declared solution keeps
    full marks, each declared mistake loses them with its hint."""
    found = variants(item)
    assert [hint for *_, hint in found] == [None] + [k.hint for k in item.declaration.mistakes]
    for name, namespace, hint in found:
        for seed in SEEDS:
            v = run_item(item, namespace, seed)
            if hint is None:
                assert v.fraction == 1.0 and v.hint is None, (seed, v.message["en"])
            else:
                assert v.fraction == 0.0, (name, seed, v.message["en"])
                assert v.hint is not None and v.hint.id == hint, (name, seed, v.hint)


def test_declared_hints_are_registered_with_their_item():
    items = {it.id: it for it in load_example_spec().items}
    assert "label_smoothing_forgotten" in items["label_smoothing_forward"].hints
    assert "batch_size_division" in items["label_smoothing_forward"].hints


def test_a_misspelt_hint_or_output_stops_the_declaration():
    call = function("f", "x", save="y")
    common = dict(points=1, call=call, solution=np.tanh, inputs=lambda rng: {}, tol=1e-9)
    with pytest.raises(DeclarationError, match="sign_fip"):
        declare("f", ("f", "f"), expect={"y": np.tanh}, mistakes=[mistake("sign_fip")], **common)
    with pytest.raises(ValueError, match="saves"):
        declare("f", ("f", "f"), expect={"z": np.tanh}, **common)
    with pytest.raises(ValueError, match="other text"):
        declare(
            "f",
            ("f", "f"),
            expect={"y": np.tanh},
            mistakes=[mistake("sign_flip", ja="別の文", en="another text", y=np.sin)],
            **common,
        )


# --- grader author check on a deliberately bad spec ---------------------------------------------

BAD_SPEC = ROOT / "tests" / "fixtures" / "bad_author_spec.py"


BAD = load_spec(BAD_SPEC, "bad_author_spec")
BAD_TIGHT, BAD_MISTAKE = BAD.ASSIGNMENT.items


def test_author_check_reports_a_tolerance_below_correct_code():
    report = check_item(BAD_TIGHT, 50)
    assert report.verdict == TOO_TIGHT
    assert report.worst > 1e-15 and report.p9999 <= report.worst
    assert "too tight" in render(report, 50)


def test_author_check_reports_a_mistake_equal_to_correct_on_some_seeds():
    report = check_item(BAD_MISTAKE, 40)
    assert report.verdict == NOT_SEPARABLE
    (found,) = report.mistakes
    positive = [s for s in range(40) if np.all(BAD.relu_inputs(np.random.default_rng(s))["x"] > 0)]
    assert found.undetectable_seeds == positive and positive
    assert found.smallest_distance == 0.0
    assert f"not detectable on seeds {len(positive)}: {positive[0]}" in render(report, 40)


def test_author_check_passes_the_worked_example():
    for item in load_example_spec().items:
        report = check_item(item, 100)
        assert report.verdict == FINE, render(report, 100)
        assert report.mistakes and all(
            m.smallest_distance > item.declaration.tol for m in report.mistakes
        )


# --- the worked example in a temp copy of the repository -----------------------------------------


def repo_copy(dst: Path) -> Path:
    """The repository's files (tracked and new, not ignored) under ``dst``."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


def grader(repo: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(repo)}  # the copy's grader, not the checkout's
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def mutant(notebook: Path, old: str, new: str, dst: Path) -> Path:
    nb = nbformat.read(notebook, as_version=4)
    hits = [c for c in nb.cells if old in c.source]
    assert len(hits) == 1, old
    hits[0].source = hits[0].source.replace(old, new)
    nbformat.write(nb, dst)
    return dst


FORWARD_MISTAKE = (  # forward without smoothing (backward still right)
    "return -np.sum(self.q * np.log(self.y)) / x.shape[0]",
    "return -np.sum(np.eye(c)[t] * np.log(self.y)) / x.shape[0]",
    "label_smoothing_forward",
    "label_smoothing_forgotten",
)
BACKWARD_MISTAKE = (  # backward with the unsmoothed one-hot target
    "return dout * (self.y - self.q) / self.y.shape[0]",
    "return dout * (self.y - (self.q - self.eps / self.q.shape[1]) / (1 - self.eps))"
    " / self.y.shape[0]",
    "label_smoothing_backward",
    "label_smoothing_backward_unsmoothed",
)


@pytest.fixture(scope="module")
def example_repo(tmp_path_factory):
    """A copy of the repository plus the recipe's two files, built with ``grader build``,
    and a second exercise scaffolded by ``grader new``."""
    repo = repo_copy(tmp_path_factory.mktemp("repo"))
    shutil.copytree(EXAMPLE, repo, dirs_exist_ok=True)
    made = grader(repo, "new", "3-1-9_tanh_demo", "--title-ja", "Tanh の例", "--title-en", "Tanh")
    assert made.returncode == 0, made.stderr
    built = grader(repo, "build")
    assert built.returncode == 0, built.stderr + built.stdout
    return repo


def test_the_recipe_touches_two_files():
    files = sorted(p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*") if p.is_file())
    assert files == ["grader/specs/label_smoothing.py", f"solutions/{AID}.ipynb"]


def test_grader_new_refuses_an_existing_or_malformed_id(example_repo):
    again = grader(example_repo, "new", "3-1-9_tanh_demo")
    assert again.returncode == 2 and "already exists" in again.stderr and "既に" in again.stderr
    taken = grader(example_repo, "new", "3-1-1_affine_layer")
    assert taken.returncode == 2 and "already exists" in taken.stderr
    bad = grader(example_repo, "new", "Tanh Demo")
    assert bad.returncode == 2 and "malformed assignment id" in bad.stderr and "形" in bad.stderr


def test_grader_new_scaffold_has_the_course_cells(example_repo):
    nb = nbformat.read(example_repo / "solutions" / "3-1-9_tanh_demo.ipynb", as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [(c.source, c.metadata.nbgrader["points"]) for c in graded] == [
        ('check("tanh_demo")', 1.0)
    ]
    assert (
        graded[0].metadata.nbgrader["locked"]
        and graded[0].metadata.nbgrader["grade_id"] == "tanh_demo"
    )
    assert nb.cells[-1].source == 'from grader.student import submit\n\nsubmit("3-1-9_tanh_demo")'
    assert grader(example_repo, "build", "--check").returncode == 0


def test_author_check_command_on_the_worked_example(example_repo):
    done = grader(example_repo, "author", "check", AID, "--seeds", "200")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": fine") == 2 and "99.99th percentile" in done.stdout
    assert "200/200 seeds" in done.stderr  # progress goes to stderr


def test_author_check_command_fails_on_a_bad_spec(example_repo):
    bad = example_repo / "grader" / "specs" / "bad_author_spec.py"
    shutil.copy(BAD_SPEC, bad)
    try:
        done = grader(example_repo, "author", "check", "9-9_bad_author_spec", "--seeds", "40")
    finally:
        bad.unlink()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bad_tight: too tight" in done.stdout
    assert "bad_mistake: mistake not separable" in done.stdout


@pytest.mark.sandbox
def test_worked_example_grades_and_self_checks(example_repo, tmp_path):
    repo = example_repo
    solution = repo / "solutions" / f"{AID}.ipynb"
    assert (repo / "grader/student/checks/declared/label_smoothing_backward.json").is_file()
    notebooks = {
        "solution": solution,
        "blank": repo / "assignments" / f"{AID}.ipynb",
        "forward": mutant(solution, *FORWARD_MISTAKE[:2], tmp_path / "forward.ipynb"),
        "backward": mutant(solution, *BACKWARD_MISTAKE[:2], tmp_path / "backward.ipynb"),
        "scaffold": repo / "solutions" / "3-1-9_tanh_demo.ipynb",
        "scaffold_blank": repo / "assignments" / "3-1-9_tanh_demo.ipynb",
    }
    out = tmp_path / "out"
    done = grader(repo, "grade", *map(str, notebooks.values()), "--out", str(out), "--no-html")
    assert done.returncode == 0, done.stdout + done.stderr
    results = {}
    for name, path in notebooks.items():  # a second notebook of the same name gets "-2"
        stem = path.stem + ("-2" if name in ("blank", "scaffold_blank") else "")
        results[name] = json.loads((out / f"{stem}.result.json").read_text())
    items = {k: {it["id"]: it for it in r["items"]} for k, r in results.items()}
    assert results["solution"]["score"] == 3 == results["solution"]["max_score"]
    assert results["blank"]["score"] == 0
    assert results["scaffold"]["score"] == 1 and results["scaffold_blank"]["score"] == 0
    for *_, item, hint in (FORWARD_MISTAKE, BACKWARD_MISTAKE):
        which = "forward" if item.endswith("forward") else "backward"
        got = items[which]
        assert got[item]["points"] == 0 and got[item]["hint"]["id"] == hint, got[item]
        assert all(it["passed"] for k, it in got.items() if k != item), got

    checked = grader(repo, "validate", AID, "3-1-9_tanh_demo", "-j", "1")
    assert checked.returncode == 0 and "4/4 notebooks as expected" in checked.stdout, checked.stdout

    # the derived self-check, in the student's kernel: the solution passes, each mistake fails
    # with its declared hint
    for name, (item, hint) in {
        "solution": (None, None),
        "forward": FORWARD_MISTAKE[2:],
        "backward": BACKWARD_MISTAKE[2:],
    }.items():
        nb = nbformat.read(notebooks[name], as_version=4)
        code = next(c.source for c in nb.cells if "class SmoothedSoftmaxWithLoss" in c.source)
        script = (
            "import numpy as np\nfrom grader.student import check, CheckFailed\n" + code + "\n"
            "for item in ('label_smoothing_forward', 'label_smoothing_backward'):\n"
            "    try:\n        check(item, lang='en')\n"
            "    except CheckFailed:\n        print('FAILED', item)\n"
        )
        run = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONPATH": str(repo)},
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        failed = [line.split()[1] for line in run.stdout.splitlines() if line.startswith("FAILED")]
        if item is None:
            assert failed == [], run.stdout
        else:
            text = json.loads((repo / f"grader/student/checks/declared/{item}.json").read_text())[
                "mistakes"
            ][0]
            assert text["hint"] == hint
            assert failed == [item] and text["en"] in run.stdout, run.stdout


def test_grader_serve_lists_the_new_exercise(example_repo, tmp_path):
    """The recipe's exercise reaches the service: `grader serve` on the copy lists it with its
    items and the spec's points (no table edited anywhere)."""
    import httpx
    from live_service import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(example_repo)}
    cmd = [sys.executable, "-m", "grader.cli", "serve", "--home", str(tmp_path / "home")]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--workers", "0"],
        cwd=example_repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:  # the token is printed once, on the line after its heading
            lines.append(line)
            if len(lines) >= 2 and "instructor token" in lines[-2]:
                break
        token = lines[-1].strip()
        assert token and proc.poll() is None, "".join(lines)
        url = f"http://127.0.0.1:{port}/api/v1/assignments"
        for _ in range(100):  # until uvicorn listens
            try:
                r = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "".join(lines)
                time.sleep(0.2)
        else:
            pytest.fail(f"grader serve did not listen on {port}")
        assert r.status_code == 200, r.text
        listed = {a["id"]: a for a in r.json()}
        assert AID in listed and "3-1-9_tanh_demo" in listed, sorted(listed)
        spec = load_example_spec()
        assert {it["id"]: it["points"] for it in listed[AID]["items"]} == {
            it.id: it.points for it in spec.items
        }
    finally:
        proc.terminate()
        proc.wait(30)
