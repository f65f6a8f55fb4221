"""``submit()`` from inside a notebook executed by nbclient, against a live ``grader serve``
(real sandboxed grading): the saved notebook file named by JupyterLab's session environment,
Colab's front-end call simulated in the kernel (``google.colab._message.blocking_request``
cannot run here), the token asked once and kept in a 0600 file, and every failure one
sentence without a traceback."""

from __future__ import annotations

import json
import stat

import nbformat
import pytest
from live_service import (
    FAST_ASSIGNMENT,
    LiveService,
    cli,
    fast_spec,
    free_port,
    released_env,
    solution_notebook,
)
from student_env import outputs, run_cells

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
A = FAST_ASSIGNMENT
FULL = fast_spec().max_score  # what the solution notebook earns
CLOSED = "3-1-1_affine_layer"  # its deadline passed and late work is refused


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("svc")
    assert not released_env(tmp / "released"), "the checkout's assignments/ is built"
    home = tmp / "home"
    home.mkdir()
    (home / "policy.toml").write_text(
        f'[assignments."{CLOSED}"]\ndeadline = 2020-01-01T00:00:00+09:00\nlate_policy = "refuse"\n'
    )
    token = cli(home, "token", "create", "--student", "k001", "--name", "Kernel").strip()
    with LiveService(home, workers=1, extra=["--max-upload-mb", "0.5"]) as svc:
        yield svc, token


def _notebook(*sources: str):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


# The student types the token at the prompt: getpass stands in for the keyboard (nbclient
# cannot answer input requests); after the first time no prompt may come. ipykernel resets
# getpass.getpass at each execution, so the stand-in goes into the cell that calls submit().
TYPES_TOKEN = """
import getpass
prompts = []
def typed(prompt=""):
    prompts.append(prompt)
    return {token!r}
getpass.getpass = typed
"""
NO_PROMPT = """
def no_prompt(prompt=""):
    raise AssertionError("asked for the token again")
getpass.getpass = no_prompt
"""
COLAB = """
import json, sys, types
calls = []
def blocking_request(request_type, request="", timeout_sec=5, parent=None):
    calls.append((request_type, request, timeout_sec))
    return {{"ipynb": json.loads({notebook!r})}}
google = types.ModuleType("google"); colab = types.ModuleType("google.colab")
_message = types.ModuleType("google.colab._message"); _message.blocking_request = blocking_request
colab._message = _message; google.colab = colab
sys.modules.update({{"google": google, "google.colab": colab, "google.colab._message": _message}})
"""


def _graded_lines(text: str) -> list[str]:
    """The lines as a notebook shows them: a carriage return rewrites its line (the progress
    line while waiting)."""
    shown = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return [line for line in shown if line.strip()]


def test_submit_from_jupyterlab_and_from_colab(live, tmp_path):
    svc, token = live
    work, config = tmp_path / "work", tmp_path / "config"
    work.mkdir()
    saved = work / f"{A}.ipynb"
    saved.write_bytes(solution_notebook())
    nb = run_cells(
        _notebook(
            TYPES_TOKEN.format(token=token)
            + f'from grader.student import submit\nview = submit("{A}")',
            "print(len(prompts), view['status'], view['result']['final_score'])",
            COLAB.format(notebook=solution_notebook().decode()),
            NO_PROMPT + 'import os; del os.environ["JPY_SESSION_NAME"]\n'
            f'colab_view = submit("{A}", lang="en")',
            "print(calls, colab_view['result']['final_score'], colab_view['id'] != view['id'])",
        ),
        work,
        env={
            "DL_COURSE_SERVICE": svc.url,
            "DL_COURSE_CONFIG": str(config),
            "JPY_SESSION_NAME": str(saved),  # what JupyterLab sets for the notebook's kernel
        },
    )
    assert "stopped_by" not in nb.metadata, [outputs(c) for c in nb.cells]
    lab = outputs(nb.cells[0])
    print(lab)
    assert f"保存されたファイル {saved.name} を提出します" in lab
    assert "先にノートブックを保存してください" in lab
    assert f"得点: {FULL:g} / {FULL:g}" in lab, lab
    assert "✓" in lab and "✗" not in lab
    assert outputs(nb.cells[1]).split() == ["1", "graded", str(FULL)]  # asked once
    colab = outputs(nb.cells[3])
    print(colab)
    assert f"Score: {FULL:g} / {FULL:g}" in colab and "保存" not in colab, colab
    assert outputs(nb.cells[4]).strip() == f"[('get_ipynb', '', 30)] {FULL} True"
    # the token: in a 0600 file of the user's config folder, in no output
    tokens = config / "tokens.json"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert json.loads(tokens.read_text()) == {svc.url: token}
    everything = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert token not in everything
    assert token not in saved.read_text()


FAILURES = {
    "no_url": (
        f'submit("{A}")',
        {},
        "採点サーバの URL がわかりません",
    ),
    "not_interactive": (
        f'submit("{A}", url=URL)',
        {},
        "トークンを入力できない実行環境です",
    ),
    "no_network": (
        f'submit("{A}", url="http://grader.invalid", path=SAVED)',
        {"DL_COURSE_TOKEN": "x"},
        "採点サーバ http://grader.invalid に接続できません",
    ),
    "service_down": (
        f'submit("{A}", url=DOWN, path=SAVED)',
        {"DL_COURSE_TOKEN": "x"},
        "が動いていません (接続が拒否されました)",
    ),
    "bad_token": (
        f'submit("{A}", url=URL, path=SAVED)',
        {"DL_COURSE_TOKEN": "not-a-token"},
        "アクセストークンが正しくないか失効しています",
    ),
    "deadline_passed": (
        f'submit("{CLOSED}", url=URL, path=SAVED)',
        {"TOKEN": True},
        "締切",
    ),
    "too_big": (
        f'submit("{A}", url=URL, path=BIG)',
        {"TOKEN": True},
        "大きすぎます",
    ),
    "wrong_assignment": (
        'submit("3-1-3_other_layers", url=URL, path=SAVED)',
        {"TOKEN": True},
        "採点できませんでした: この課題 (3-1-3_other_layers) のノートブックではありません",
    ),
    "no_file": (
        f'submit("{A}", url=URL)',
        {"TOKEN": True},
        "ノートブックのファイルが見つかりません",
    ),
}


def test_every_failure_is_one_sentence(live, tmp_path):
    svc, token = live
    work = tmp_path / "work"
    work.mkdir()
    saved = tmp_path / "saved.ipynb"
    saved.write_bytes(solution_notebook())
    big = json.loads(solution_notebook())
    big["cells"][0]["source"] = "x" * 600_000
    (tmp_path / "big.ipynb").write_text(json.dumps(big))
    names = list(FAILURES)
    head = (
        "import os\nfrom grader.student import submit\n"
        f"URL, DOWN = {svc.url!r}, 'http://127.0.0.1:{free_port()}'\n"
        f"SAVED, BIG = {str(saved)!r}, {str(tmp_path / 'big.ipynb')!r}\n"
    )
    cells = [head]
    for name in names:
        code, env, _ = FAILURES[name]
        token_env = token if env.get("TOKEN") else env.get("DL_COURSE_TOKEN")
        setup = f"os.environ['DL_COURSE_TOKEN'] = {token_env!r}\n" if token_env else ""
        setup += "os.environ.pop('DL_COURSE_TOKEN', None)\n" if not token_env else ""
        cells.append(f"{setup}r = {code}\nprint('RESULT', r and r['status'])")
    nb = run_cells(
        _notebook(*cells),
        work,
        env={"DL_COURSE_CONFIG": str(tmp_path / "config"), "DL_COURSE_SERVICE": ""},
    )
    assert "stopped_by" not in nb.metadata, [outputs(c) for c in nb.cells]
    for name, cell in zip(names, nb.cells[1:], strict=True):
        text = outputs(cell)
        lines = _graded_lines(text)
        assert not [o for o in cell.outputs if o.output_type == "error"], (name, text)
        assert "Traceback" not in text and 'File "' not in text, (name, text)
        # nothing was submitted (submit() returned None), except to the wrong assignment
        # (stored, then refused by the grader: the submission failed)
        expected = "rejected" if name == "wrong_assignment" else "None"  # refused, not failed
        assert lines[-1] == f"RESULT {expected}", (name, text)
        info = ("保存されたファイル", "提出しました。採点を待っています")
        sentence = [x for x in lines[:-1] if not x.startswith(info)]
        assert len(sentence) == 1, (name, text)  # one sentence
        assert FAILURES[name][2] in sentence[0], (name, text)
        assert token not in text, name


def test_graded_run_does_not_submit(tmp_path):
    nb = run_cells(
        _notebook(f'from grader.student import submit\nprint(repr(submit("{A}")))'),
        tmp_path,
        env={"DL_COURSE_GRADED_RUN": "1", "DL_COURSE_SERVICE": "http://127.0.0.1:9"},
    )
    assert outputs(nb.cells[0]).strip() == "None"
