"""Every refusal is an :class:`ApiError`: an HTTP status, a stable code and a message in
Japanese and English. The JSON body is
``{"error": {"code": ..., "message": {"ja": ..., "en": ...}}, "detail": <English message>}``.
"""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, tuple[int, str, str]] = {
    "auth_required": (401, "トークンが必要です。", "An access token is required."),
    "bad_token": (401, "トークンが無効か、失効しています。", "The token is invalid or revoked."),
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
    "too_large": (
        413,
        "ファイルが大きすぎます (上限 {limit} バイト)。出力を消去してから提出してください。",
        "The upload is too large (limit {limit} bytes). Clear the outputs and submit again.",
    ),
    "empty_file": (400, "ファイルが空です。", "The uploaded file is empty."),
    "bad_filename": (
        400,
        "ファイル名 {filename!r} は使えません。拡張子 .ipynb の単純なファイル名にしてください。",
        "File name {filename!r} is not allowed: use a plain name ending in .ipynb.",
    ),
    "not_utf8": (
        400,
        "ファイルが UTF-8 のテキストではありません (バイナリファイル?)。",
        "The file is not UTF-8 text (a binary file?).",
    ),
    "not_json": (
        400,
        "ファイルが JSON として読めません ({detail})。"
        "ノートブックが壊れているか途中で切れています。",
        "The file is not valid JSON ({detail}); the notebook is damaged or truncated.",
    ),
    "not_notebook": (
        400,
        "JSON ですがノートブックではありません: {detail}",
        "This is JSON but not a notebook: {detail}",
    ),
    "wrong_nbformat": (
        400,
        "ノートブックの形式 nbformat {version} には対応していません (4 が必要です)。",
        "Notebook format nbformat {version} is not supported (4 is required).",
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
    "not_ready": (409, "まだ採点が終わっていません。", "Grading has not finished yet."),
    "no_output": (
        404,
        "この提出物には {what} がありません。",
        "This submission has no {what}.",
    ),
    "bad_roster": (400, "名簿を読めません: {detail}", "Cannot read the roster: {detail}"),
}


class ApiError(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        status, ja, en = MESSAGES[code]
        self.code = code
        self.status = status
        self.message = {"ja": ja.format(**params), "en": en.format(**params)}
        super().__init__(self.message["en"])

    def body(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": self.message},
            "detail": self.message["en"],
        }
