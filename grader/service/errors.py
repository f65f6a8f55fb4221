"""Every refusal is an :class:`ApiError`: an HTTP status, a stable code and a message in
Japanese and English. The JSON body is
``{"error": {"code": ..., "message": {"ja": ..., "en": ...}}, "detail": <English message>}``.
"""

from __future__ import annotations

from typing import Any


def human_size(n: int) -> str:
    """A byte count as people read it: ``5242880`` -> ``5 MB``, ``262144`` -> ``0.25 MB``
    (MB = 2**20 bytes, at most two decimals; under 0.01 MB in kB)."""
    mb = round(n / 2**20, 2)
    if mb > 0:
        return f"{mb:g} MB"
    return f"{round(n / 1024, 1):g} kB"


MESSAGES: dict[str, tuple[int, str, str]] = {
    "auth_required": (401, "トークンが必要です。", "An access token is required."),
    "bad_token": (401, "トークンが無効か、失効しています。", "The token is invalid or revoked."),
    "cross_site": (
        403,
        "別のサイトから (または送信元 Origin なしで) 送られたフォームは受け付けません。"
        "このサイトのページを開き直して、もう一度送信してください。",
        "A form sent from another site (or without an Origin header) is refused. Open this"
        " site's page again and send the form from there.",
    ),
    "cookie_write": (
        401,
        "API への書き込みには Authorization: Bearer <トークン> ヘッダーが必要です"
        " (ログインのクッキーでは書き込めません)。",
        "API writes need an Authorization: Bearer <token> header (the login cookie is"
        " accepted for reading only).",
    ),
    "too_many_logins": (
        429,
        "トークンの誤りが続いたため、{seconds} 秒待ってからもう一度試してください。",
        "Too many wrong tokens from your address: wait {seconds} s, then try again.",
    ),
    "too_many_streams": (
        429,
        "状況を表示しているページが多すぎます (上限 {limit})。ほかのタブを閉じてください。",
        "Too many pages are following a submission's status (limit {limit}); close other tabs.",
    ),
    "instructor_only": (403, "教員専用の操作です。", "This action is for instructors only."),
    "not_found": (404, "見つかりません。", "Not found."),
    "submission_not_found": (
        404,
        "提出物が見つかりません。",
        "No such submission (or it is not yours).",
    ),
    "unknown_assignment": (
        404,
        "課題 {assignment_id!r} はありません。",
        "There is no assignment {assignment_id!r}.",
    ),
    "missing_field": (
        422,
        "必須の項目 {field} がありません。",
        "The required field {field} is missing.",
    ),
    "invalid_request": (422, "リクエストが不正です: {detail}", "Invalid request: {detail}"),
    "bad_filename": (
        400,
        "ファイル名 {filename!r} は使えません。拡張子 .ipynb の単純なファイル名にしてください。",
        "File name {filename!r} is not allowed: use a plain name ending in .ipynb.",
    ),
    "too_many_queued": (
        429,
        "採点待ちの提出が {limit} 件あります。結果が出てから再提出してください。",
        "You already have {limit} submissions waiting; wait for their results first.",
    ),
    "too_many_attempts": (
        429,
        "課題 {assignment_id} の提出回数の上限 ({limit} 回) に達しました。",
        "You have reached the limit of {limit} submissions for {assignment_id}.",
    ),
    "deadline_passed": (
        403,
        "課題 {assignment_id} の締切 ({deadline}) を過ぎたため受け付けられません。",
        "The deadline of {assignment_id} ({deadline}) has passed; submissions are closed.",
    ),
    "not_released": (
        403,
        "課題 {assignment_id} はまだ公開されていません (公開 {release_at})。",
        "Assignment {assignment_id} is not released yet (release {release_at}).",
    ),
    "release_leak": (
        409,
        "課題 {released} の固定セルには課題 {blocker} の解答が含まれているため、{blocker} の締切"
        " ({deadline}) より前には公開できません。{released} の公開日を締切以降にしてください。",
        "The locked cells of {released} contain answers of {blocker}, so {released} cannot be"
        " released before the deadline of {blocker} ({deadline}). Set the release date of"
        " {released} to that deadline or later.",
    ),
    "bad_adjustment": (422, "調整が不正です: {detail}", "Invalid adjustment: {detail}"),
    "bad_setting": (422, "課題の設定が不正です: {detail}", "Invalid assignment setting: {detail}"),
    "bad_policy_file": (
        400,
        "policy.toml を読めません (何も変更していません): {detail}",
        "Cannot read the policy file (nothing was changed): {detail}",
    ),
    "unknown_student": (
        404,
        "学生 {student_id!r} は名簿にありません。",
        "There is no student {student_id!r} on the roster.",
    ),
    "results_hidden": (
        403,
        "課題 {assignment_id} の結果は締切後に公開されます。提出は受け付け、採点済みです。",
        "Results of {assignment_id} are shown after the deadline; your submission was received"
        " and graded.",
    ),
    "not_ready": (409, "まだ採点が終わっていません。", "Grading has not finished yet."),
    "no_output": (
        404,
        "この提出物には {what} がありません。",
        "This submission has no {what}.",
    ),
    "bad_roster": (400, "名簿を読めません: {detail}", "Cannot read the roster: {detail}"),
}


# Parameters shown in a friendlier form than the callers pass them (bytes -> "5 MB").
_PARAM_FORMAT: dict[str, dict[str, Any]] = {}


class ApiError(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        status, ja, en = MESSAGES[code]
        for name, fmt in _PARAM_FORMAT.get(code, {}).items():
            if isinstance(params.get(name), int):
                params[name] = fmt(params[name])
        self.code = code
        self.status = status
        self.headers: dict[str, str] = {}  # extra response headers (Retry-After)
        self.message = {"ja": ja.format(**params), "en": en.format(**params)}
        super().__init__(self.message["en"])

    @classmethod
    def rejected(cls, exc: Any) -> ApiError:
        """A refused upload (``grader.engine.upload.RejectedUpload``), with its own code and
        message: the validator's words are the only ones."""
        err = cls.__new__(cls)
        Exception.__init__(err, exc.message["en"])
        err.code, err.message, err.headers = exc.code, dict(exc.message), {}
        err.status = 413 if exc.code == "too_large" else 400
        return err

    def body(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": self.message},
            "detail": self.message["en"],
        }
