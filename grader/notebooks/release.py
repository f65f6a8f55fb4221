"""The folder students receive (``grader release DIR``).

Layout::

    DIR/README.md                      how to install and use (Japanese, then English)
    DIR/assignments/*.ipynb            the student notebooks
    DIR/dl-course-student/             an installable distribution of the student helpers:
        dl_course_student-*.whl        as a wheel (the notebooks' first cell installs it from
                                       here when they are opened in DIR/assignments/)
        pyproject.toml                 (generated; deps numpy, matplotlib, tqdm, pandas)
        grader/__init__.py
        grader/student/**

With a service URL the notebooks carry it (their install cell and ``submit()`` use it).

Nothing else is copied: never ``solutions/``, ``reference/`` or the rest of ``grader/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.notebooks.course_cells import WHEEL_NAME, stamp_service_url
from grader.notebooks.wheel import STUDENT_DIST, WheelError, build_student_wheel, write_student_dist


class ReleaseError(RuntimeError):
    """The release cannot be written (missing inputs, non-empty target, ...)."""


README = """\
# 深層学習 Part 2 演習ノートブック

## 日本語

このフォルダには演習用のノートブック (`assignments/`) と、ノートブックが使う補助パッケージ
(`{dist}/`、wheel は `{dist}/{wheel}`) が入っています。

1. ノートブックを Jupyter (JupyterLab, Notebook 7, VS Code, Google Colab など) で開き、上の
   セルから順に実行します。**最初のコードセル**が補助パッケージ `grader.student` を準備します:
   入っていればそのまま、無ければこのフォルダの wheel か採点サーバからインストールします。
   どちらもできないときは、実行すべきコマンドを示して止まります。
   自分で入れる場合: `pip install ./{dist}/{wheel} jupyterlab` (Python 3.10 以上。
   NumPy, Matplotlib, tqdm, pandas も一緒に入ります)。
   採点サーバのホーム画面からも、各課題のノートブックと補助パッケージをダウンロードできます。
2. `# YOUR CODE HERE` と `raise NotImplementedError()` の部分を自分のコードで置き換えます。
3. `check("...")` のセルは自分の実装を数値微分などで確かめるセルフチェックです。合格しても
   採点が確定するわけではありません。提出されたノートブックは採点サーバが別の入力で
   あらためて確かめます。
4. 2-1 の PyTorch のセルを動かすには `pip install torch==2.13.0` が必要です (無くても他の
   セルは動きます)。MNIST のデータは初回に自動でダウンロードされます。

メッセージを英語にするには環境変数 `GRADER_LANG=en` を設定してください。

### 提出

- **ノートブックから**: ノートブックを保存してから、最後の `submit("...")` セルを実行します。
  初回だけアクセストークンを聞かれます (トークンはこのコンピュータの
  `~/.config/dl-course/tokens.json` に本人だけが読める形で保存され、ノートブックには
  書き込まれません)。項目ごとの得点とヒントがその場に表示されます。Colab では保存は不要です。
- **ウェブ画面から**: 採点サーバの URL を開き、トークンでログインし、課題を選んで `.ipynb`
  ファイルを提出します。
- **API から**: `curl -H "Authorization: Bearer <トークン>" -F assignment_id=<課題 ID>
  -F notebook=@<ファイル>.ipynb <URL>/api/v1/submissions` (仕様は `<URL>/docs`)。

大きすぎると言われたら「出力をすべて消去」してから保存し直してください。何度でも提出し直せます
(教員が回数を制限している場合を除く)。成績には最高得点の提出が使われます。

## English

This folder holds the exercise notebooks (`assignments/`) and the helper package they import
(`{dist}/`, as a wheel `{dist}/{wheel}`).

1. Open a notebook in Jupyter (JupyterLab, Notebook 7, VS Code, Google Colab, ...) and run it
   from the top. Its **first code cell** sets up the helper package `grader.student`: nothing
   to do when it is installed, otherwise it installs it from this folder's wheel or from the
   grading service; when neither works it stops and says what to run. To install it yourself:
   `pip install ./{dist}/{wheel} jupyterlab` (Python 3.10+; it brings NumPy, Matplotlib,
   tqdm and pandas). The service's home page also
   offers each assignment's notebook and the helper wheel for download.
2. Replace each `# YOUR CODE HERE` / `raise NotImplementedError()` with your code.
3. The `check("...")` cells are self-checks of your own code (numeric gradients, shapes,
   worked examples). Passing them is advice, not a grade: the grading server re-checks your
   submitted notebook with its own inputs.
4. The PyTorch cells of 2-1 need `pip install torch==2.13.0` (the rest runs without it).
   MNIST is downloaded on first use.

Set `GRADER_LANG=en` for English messages.

### Submitting

- **From the notebook**: save it, then run the last cell, `submit("...")`. It asks for your
  access token once (kept readable only by you in `~/.config/dl-course/tokens.json`, never in
  the notebook) and prints the score and hints per item. In Colab there is no need to save.
- **On the web page**: open the service's URL, log in with your token, choose the assignment
  and the `.ipynb` file, and submit.
- **Through the API**: `curl -H "Authorization: Bearer <token>" -F assignment_id=<id>
  -F notebook=@<file>.ipynb <URL>/api/v1/submissions` (reference at `<URL>/docs`).

If it is too large, clear all outputs, save, and submit again. You may submit again (unless
your instructor set a limit); your best graded submission counts.
"""


def make_release(
    repo: Path, out: Path, *, force: bool = False, service_url: str | None = None
) -> list[Path]:
    """Write the student release of the checkout ``repo`` into ``out``; return the files.

    ``out`` must not exist or be empty, unless ``force`` (then it is replaced).
    ``service_url`` is stamped into every notebook.
    """
    repo, out = Path(repo).resolve(), Path(out).resolve()
    assignments = repo / "assignments"
    student = repo / "grader" / "student"
    notebooks = sorted(assignments.glob("*.ipynb"))
    if not notebooks:
        raise ReleaseError(f"no notebooks in {assignments}; run `grader build` first")
    if not (student / "__init__.py").is_file():
        raise ReleaseError(f"no student package at {student}")
    protected = {"assignments", "solutions", "reference", "grader", "tests", "docs"}
    if out == repo or out in repo.parents or (out.parent == repo and out.name in protected):
        raise ReleaseError(f"refusing to write the release over {out}")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ReleaseError(f"{out} is not empty (use --force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)

    written: list[Path] = []
    for nb in notebooks:
        target = out / "assignments" / nb.name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = nb.read_text(encoding="utf-8")
        target.write_text(stamp_service_url(text, service_url) if service_url else text, "utf-8")
        written.append(target)

    try:
        written += write_student_dist(out / STUDENT_DIST, repo)
        written.append(build_student_wheel(out / STUDENT_DIST, repo))
    except WheelError as exc:
        raise ReleaseError(str(exc)) from exc
    readme = out / "README.md"
    readme.write_text(README.format(dist=STUDENT_DIST, wheel=WHEEL_NAME), encoding="utf-8")
    written.append(readme)
    return sorted(written)
