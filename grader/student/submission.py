"""``submit(assignment_id)``: send the running notebook to the grading service from inside it.

Where the notebook comes from: Colab's own front-end call (``get_ipynb``, as other
autograders use), else the saved ``.ipynb`` file (JupyterLab/Notebook 7 put its path in
``JPY_SESSION_NAME``; VS Code in ``__vsc_ipynb_file__``; otherwise ``<assignment id>.ipynb``
in the working folder), or the ``path=`` given. The service URL: ``url=``, else
``$DL_COURSE_SERVICE`` (the notebook's install cell sets it from the URL stamped by the
service). The token: ``$DL_COURSE_TOKEN``, else the token file (asked for once, mode 0600).

Every failure prints one sentence and returns ``None``: never a traceback. Only the standard
library is used (the package ships with numpy, matplotlib and tqdm only).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from grader.student.progress import GRADED_RUN_ENV  # never submit from the graded run
from grader.student.tokens import forget_token, load_token, save_token

WAIT_SECONDS = 600.0
HTTP_TIMEOUT = 30.0


class SubmitError(Exception):
    """One sentence in Japanese and English; printed, never raised to the student."""

    def __init__(self, ja: str, en: str, code: str = "") -> None:
        super().__init__(en)
        self.ja, self.en, self.code = ja, en, code


def _say(lang: str, ja: str, en: str) -> None:
    print(en if lang == "en" else ja)


# --- where the notebook is -------------------------------------------------------------


def _colab_notebook() -> bytes | None:
    if "google.colab" not in sys.modules:
        return None
    from google.colab import _message  # type: ignore[import-not-found]

    reply = _message.blocking_request("get_ipynb", request="", timeout_sec=30)
    if not isinstance(reply, dict) or not isinstance(reply.get("ipynb"), dict):
        raise SubmitError(
            "Colab からノートブックの内容を受け取れませんでした。もう一度実行してください。",
            "Colab did not hand over the notebook's contents. Run the cell again.",
        )
    return json.dumps(reply["ipynb"], ensure_ascii=False).encode("utf-8")


def _notebook_path(assignment_id: str, path: str | os.PathLike | None) -> Path:
    candidates = [path] if path else []
    main = sys.modules.get("__main__")
    session = os.environ.get("JPY_SESSION_NAME")  # a path from the server's root folder
    candidates += [session, session and Path(session).name]  # (the kernel runs in its folder)
    candidates.append(getattr(main, "__vsc_ipynb_file__", None))
    candidates.append(f"{assignment_id}.ipynb")
    for candidate in candidates:
        if candidate and str(candidate).endswith(".ipynb") and Path(candidate).is_file():
            return Path(candidate)
    raise SubmitError(
        f'ノートブックのファイルが見つかりません。保存してから submit("{assignment_id}", '
        'path="ファイル名.ipynb") のようにファイルを指定してください。',
        f'Cannot find the notebook file. Save it, then name it: submit("{assignment_id}", '
        'path="name.ipynb").',
    )


def _read_notebook(assignment_id: str, path: Any, lang: str) -> tuple[str, bytes]:
    data = _colab_notebook()
    if data is not None:
        return f"{assignment_id}.ipynb", data
    found = _notebook_path(assignment_id, path)
    age = time.time() - found.stat().st_mtime
    _say(
        lang,
        f"保存されたファイル {found.name} を提出します (最後の保存は {age:.0f} 秒前)。"
        "最新の内容を提出するには、先にノートブックを保存してください。",
        f"Submitting the saved file {found.name} (last saved {age:.0f} s ago). "
        "Save the notebook first to submit what you see.",
    )
    return found.name, found.read_bytes()


# --- HTTP ------------------------------------------------------------------------------


def _request(url: str, token: str) -> dict:
    """GET a JSON document of the API."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise _http_error(exc) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _unreachable(url.split("/api/")[0], getattr(exc, "reason", exc)) from None
    except ValueError:
        raise _unreadable() from None


def _upload(url: str, token: str, body: bytes, content_type: str) -> dict:
    """POST the form with http.client: a service refusing a too large body answers 413 and
    closes while the body is still going out; the answer is read after the broken pipe."""
    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
    }
    base = f"{parts.scheme}://{parts.netloc}"
    try:
        conn = kind(parts.hostname, parts.port, timeout=HTTP_TIMEOUT)
        conn.putrequest("POST", parts.path)
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        try:
            for start in range(0, len(body), 64 * 1024):
                conn.send(body[start : start + 64 * 1024])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the service stopped reading: its answer says why
        resp = conn.getresponse()
        data = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise _unreachable(base, exc) from None
    if resp.status >= 400:
        raise _http_error(
            urllib.error.HTTPError(url, resp.status, resp.reason, resp.headers, io.BytesIO(data))
        )
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:
        raise _unreadable() from None


def _unreadable() -> SubmitError:
    return SubmitError(
        "採点サーバの応答を読めません。URL が採点サーバのものか確かめてください。",
        "The service's reply is not readable. Check that the URL is the grading service.",
    )


def _unreachable(base: str, reason: object) -> SubmitError:
    if isinstance(reason, ConnectionRefusedError):  # the host answers, the service does not
        return SubmitError(
            f"採点サーバ {base} が動いていません (接続が拒否されました)。"
            "しばらくしてからもう一度実行し、続くようなら教員に知らせてください。",
            f"The grading service at {base} is down (connection refused). "
            "Try again in a moment, and tell your instructor if it goes on.",
        )
    return SubmitError(
        f"採点サーバ {base} に接続できません ({reason})。"
        "ネットワークにつながっているか、URL が正しいかを確かめてください。",
        f"Cannot reach the grading service at {base} ({reason}). "
        "Check that you are online and that the URL is right.",
    )


def _http_error(exc: urllib.error.HTTPError) -> SubmitError:
    try:
        body = json.loads(exc.read().decode("utf-8"))
        message = body["error"]["message"]
        code = body["error"]["code"]
    except Exception:  # not the service's JSON error body (a proxy, a crash page)
        message, code = None, None
    if exc.code == 401:
        return SubmitError(
            "アクセストークンが正しくないか失効しています。保存したトークンを消しました。"
            "もう一度実行して、配られたトークンを入力してください。",
            "The access token is wrong or revoked; the saved token was removed. "
            "Run this again and enter the token you were given.",
            "bad_token",
        )
    if exc.code >= 500 or message is None:
        return SubmitError(
            f"採点サーバが応答しません (HTTP {exc.code})。"
            "しばらくしてからもう一度実行してください。",
            f"The grading service is not answering (HTTP {exc.code}). Try again in a moment.",
        )
    return SubmitError(message["ja"], message["en"], code)


def _multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="notebook"; '
        f'filename="{filename}"\r\nContent-Type: application/x-ipynb+json\r\n\r\n'
    )
    body = "".join(parts).encode() + head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# --- the result ------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:g}"


def print_result(view: dict, lang: str) -> None:
    """Per-item points and hints of a finished submission, as the student reads them."""
    result = view.get("result") or {}
    if view.get("status") in ("rejected", "failed") or result.get("outcome") in (
        "rejected",
        "error",
    ):
        message = result.get("error") or view.get("error") or {}
        if isinstance(message, dict) and "ja" in message:
            _say(lang, f"採点できませんでした: {message['ja']}", f"Not graded: {message['en']}")
        else:
            _say(lang, f"採点できませんでした: {message}", f"Not graded: {message}")
        return
    score, top = result.get("final_score", 0.0), result.get("max_score", 0.0)
    penalty = result.get("penalty") or 0.0
    late = (
        (f" (遅延減点 −{_fmt(penalty)})", f" (late penalty −{_fmt(penalty)})")
        if penalty
        else ("", "")
    )
    total = f"{_fmt(score)} / {_fmt(top)}"
    _say(lang, f"得点: {total}{late[0]}", f"Score: {total}{late[1]}")
    for item in result.get("items", []):
        title = item.get("title") if isinstance(item.get("title"), dict) else {}
        name = title.get(lang) or title.get("ja") or item["id"]
        mark = "✓" if item.get("passed") else "✗"
        print(f"  {mark} {name}: {_fmt(item['points'])} / {_fmt(item['max_points'])}")
        message = item.get("message") or {}
        if not item.get("passed") and message.get(lang):
            print(f"      {message[lang]}")
        hint = item.get("hint")
        if hint and hint.get(lang):
            print(f"      {'ヒント' if lang != 'en' else 'hint'}: {hint[lang]}")


def _status_events(base: str, token: str, submission_id: str):
    """The submission's statuses as the service announces them (Server-Sent Events; the
    service ends the stream after ``graded`` or ``failed`` and keeps it alive meanwhile)."""
    url = f"{base}/api/v1/submissions/{submission_id}/events"
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=HTTP_TIMEOUT
        ) as resp:
            for raw in resp:
                line = raw.decode("utf-8", errors="replace").strip()
                if line.startswith("data:"):
                    yield json.loads(line[5:]).get("status")
                else:
                    yield None  # a keep-alive or an event's other fields: time passes
    except urllib.error.HTTPError as exc:
        raise _http_error(exc) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _unreachable(base, getattr(exc, "reason", exc)) from None
    except ValueError:
        raise _unreadable() from None


def _wait(base: str, token: str, submission_id: str, lang: str, wait: float) -> dict:
    started = time.monotonic()
    label = {"queued": ("順番待ち", "queued"), "running": ("採点中", "grading")}
    for status in _status_events(base, token, submission_id):
        if status in ("graded", "rejected", "failed"):  # finished (the service's FINISHED)
            break
        elapsed = time.monotonic() - started
        if status:
            ja, en = label.get(status, (status, status))
            print(f"\r{en if lang == 'en' else ja} ... ({elapsed:.0f} s)", end="", flush=True)
        if elapsed > wait:
            raise SubmitError(
                f"提出は受け付けられましたが、{wait:.0f} 秒たっても採点が終わりません。"
                "結果は採点サーバの画面で確かめてください。",
                f"The submission was accepted but is not graded after {wait:.0f} s; "
                "see its result on the service's web page.",
            )
    print("\r" + " " * 40 + "\r", end="")
    return _request(f"{base}/api/v1/submissions/{submission_id}", token)


def _ask_token(base: str, lang: str) -> str:
    import getpass

    prompt = "Access token: " if lang == "en" else "アクセストークン: "
    try:
        token = getpass.getpass(prompt).strip()
    except Exception:  # no input possible (a batch run, nbconvert): StdinNotImplementedError
        raise SubmitError(
            "トークンを入力できない実行環境です。"
            "環境変数 DL_COURSE_TOKEN にトークンを設定してください。",
            "This run cannot ask for input. Set the environment variable DL_COURSE_TOKEN.",
        ) from None
    if not token:
        raise SubmitError("トークンが入力されませんでした。", "No token was entered.")
    return token


def submit(
    assignment_id: str,
    *,
    path: str | os.PathLike | None = None,
    url: str | None = None,
    lang: str | None = None,
    wait: float = WAIT_SECONDS,
) -> dict | None:
    """Submit this notebook for ``assignment_id``, wait for grading and print the result.

    Returns the submission as the API shows it, or ``None`` when it could not be submitted
    (the reason is printed as one sentence)."""
    lang = lang or os.environ.get("GRADER_LANG", "ja")
    if os.environ.get(GRADED_RUN_ENV):
        return None  # the grader's own run of this notebook
    base = (url or os.environ.get("DL_COURSE_SERVICE") or "").rstrip("/")
    if not base:
        _say(
            lang,
            "採点サーバの URL がわかりません。採点サーバからダウンロードしたノートブックを使うか、"
            'submit(..., url="https://...") のように URL を指定してください。',
            "The grading service's URL is unknown. Use the notebook downloaded from the service "
            'or give it: submit(..., url="https://...").',
        )
        return None
    from_env = os.environ.get("DL_COURSE_TOKEN")
    try:
        token = from_env or load_token(base)
        asked = not token
        if asked:
            token = _ask_token(base, lang)
        filename, content = _read_notebook(assignment_id, path, lang)
        body, ctype = _multipart({"assignment_id": assignment_id}, filename, content)
        try:
            view = _upload(f"{base}/api/v1/submissions", token, body, ctype)
        except SubmitError as exc:
            if exc.code == "bad_token" and not from_env:
                forget_token(base)
            raise
        if asked:
            save_token(base, token)
        _say(lang, "提出しました。採点を待っています ...", "Submitted; waiting for grading ...")
        view = _wait(base, token, view["id"], lang, wait)
    except SubmitError as exc:
        _say(lang, exc.ja, exc.en)
        return None
    print_result(view, lang)
    return view
