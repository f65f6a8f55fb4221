"""The two cells every assignment carries besides its exercises.

* the **install cell** (first code cell): makes ``grader.student`` importable. Where it imports
  already (a checkout, the grading sandbox, nbgrader) it does nothing; otherwise it pip-installs
  the helper wheel from ``../dl-course-student/`` (a ``grader release`` folder) or from the service
  URL stamped into the cell, and when neither works it stops with one bilingual message that
  says what to run (no traceback, so no cascade of NameErrors below it).
* the **submit cell** (last cell, ungraded): ``submit("<assignment id>")``.

Both are ordinary cells (no nbgrader metadata: the engine does not restore them, so a stamped
URL never reads as an edited locked cell); ``metadata.dl_course.role`` marks them. Their source
lives here only: ``grader build`` writes it, the service and ``grader release`` stamp the URL.
"""

from __future__ import annotations

import json
import re
from typing import Any

import nbformat

from grader import __version__

ROLE_KEY = "dl_course"
INSTALL, SUBMIT = "install", "submit"
WHEEL_NAME = f"dl_course_student-{__version__}-py3-none-any.whl"
WHEEL_ROUTE = "/downloads"  # the service serves the wheel at <url>/downloads/<WHEEL_NAME>
_URL_LINE = re.compile(r'^SERVICE_URL = ".*"$', re.M)

INSTALL_SOURCE = """\
# 補助パッケージ grader.student の準備 (このセルは変更しないでください)
# Sets up the helper package grader.student (do not edit this cell)
SERVICE_URL = ""
HELPER_WHEEL = "{wheel}"


def _setup_helpers(service_url, wheel):
    import glob, importlib, os, subprocess, sys

    if service_url:
        os.environ.setdefault("DL_COURSE_SERVICE", service_url)
    try:
        import grader.student  # noqa: F401  (already installed: nothing to do)
        return
    except ImportError:
        pass
    local = sorted(glob.glob(os.path.join("..", "dl-course-student", wheel)) + glob.glob(wheel))
    url = service_url.rstrip("/") + "{route}/" + wheel if service_url else ""
    source = local[0] if local else url
    why_ja, why_en = "配布元の URL がわかりません", "the notebook does not know where to get it"
    if source:
        print("grader.student をインストールしています / installing grader.student ...")
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--retries", "1", "--timeout", "20"]
        run = subprocess.run(cmd + [source], capture_output=True, text=True)
        importlib.invalidate_caches()
        try:
            import grader.student  # noqa: F401,F811
            print("インストールしました / installed")
            return
        except ImportError:
            said = (run.stderr or run.stdout).strip().splitlines()
            said = [x for x in said if x.lower().startswith("error")][:1] or said[-1:] or ["?"]
            why_ja = why_en = f"pip: {{said[0][:200]}}"
    what = "%pip install " + (url or "<採点サーバの URL / service URL>{route}/" + wheel)

    class HelperSetupError(RuntimeError):
        def _render_traceback_(self):  # IPython shows these lines instead of a traceback
            return str(self).splitlines()

    raise HelperSetupError(
        f"補助パッケージ grader.student をインストールできませんでした ({{why_ja}})。"
        f"次のコマンドを実行してから、このセルをもう一度実行してください: {{what}}\\n"
        f"Could not install the helper package grader.student ({{why_en}}). "
        f"Run this, then run this cell again: {{what}}"
    )


_setup_helpers(SERVICE_URL, HELPER_WHEEL)
"""

SUBMIT_MARKDOWN = """\
### 提出 / Submit

ノートブックを**保存してから**次のセルを実行すると、採点サーバに提出して結果を表示します
(初回だけアクセストークンを聞かれます)。このセルは採点されません。

*Save the notebook first*, then run the next cell: it submits this notebook to the grading
service and prints the result (it asks for your access token once). This cell is not graded."""

SUBMIT_SOURCE = """\
from grader.student import submit

submit("{assignment_id}")"""


def install_source() -> str:
    return INSTALL_SOURCE.format(wheel=WHEEL_NAME, route=WHEEL_ROUTE)


def submit_source(assignment_id: str) -> str:
    return SUBMIT_SOURCE.format(assignment_id=assignment_id)


def role(cell: Any) -> str | None:
    meta = cell.get("metadata", {}).get(ROLE_KEY)
    return meta.get("role") if isinstance(meta, dict) else None


def _cell(kind: str, source: str, cell_role: str) -> Any:
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source, id=f"dl-course-{cell_role}-{kind}")  # fixed ids: builds stay byte-equal
    cell.metadata[ROLE_KEY] = {"role": cell_role}
    return cell


def ensure_course_cells(nb: Any, assignment_id: str) -> None:
    """Give ``nb`` (in place) its install cell before the first code cell and a submit cell
    at the end, or refresh their source from this module."""
    install = [c for c in nb.cells if role(c) == INSTALL]
    if install:
        install[0].source = install_source()
    else:
        first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), 0)
        nb.cells.insert(first_code, _cell("code", install_source(), INSTALL))
    submit = [c for c in nb.cells if role(c) == SUBMIT and c.cell_type == "code"]
    if submit:
        submit[0].source = submit_source(assignment_id)
    else:
        nb.cells.append(_cell("markdown", SUBMIT_MARKDOWN, SUBMIT))
        nb.cells.append(_cell("code", submit_source(assignment_id), SUBMIT))


def stamp_service_url(notebook_json: str, service_url: str) -> str:
    """The notebook text with the service URL written into its install cell (and into
    ``metadata.dl_course.service_url``), so it knows where to install from and submit to."""
    nb = json.loads(notebook_json)
    line = f"SERVICE_URL = {json.dumps(service_url.rstrip('/'))}"
    for cell in nb.get("cells", []):
        if role(cell) == INSTALL:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = _URL_LINE.sub(lambda _m: line, source, count=1)
    nb.setdefault("metadata", {})[ROLE_KEY] = {"service_url": service_url.rstrip("/")}
    return json.dumps(nb, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
