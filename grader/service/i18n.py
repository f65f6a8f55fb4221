"""Interface strings of the web UI, Japanese first, English with ``?lang=en``."""

from __future__ import annotations

from fastapi import Request

LANGS = ("ja", "en")
LANG_COOKIE = "grader_lang"

STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("深層学習 Part 2 採点サーバ", "Deep Learning Part 2 grader"),
    "login": ("ログイン", "Log in"),
    "logout": ("ログアウト", "Log out"),
    "token": ("アクセストークン", "Access token"),
    "token_help": (
        "教員から配布されたトークン (gt_ で始まる文字列) を入力してください。",
        "Enter the token your instructor gave you (it starts with gt_).",
    ),
    "assignments": ("課題", "Assignments"),
    "gradebook": ("成績一覧 (学生 × 課題)", "Gradebook (student × assignment)"),
    "gradebook_help": (
        "各課題の最高得点 (遅延減点後)。空欄は採点済みの提出なし。",
        "Best score per assignment, late penalty applied; blank: nothing graded yet.",
    ),
    "export_gradebook_csv": ("この表を CSV で", "This table as CSV"),
    "total": ("合計", "Total"),
    "name": ("氏名", "Name"),
    "dashboard": ("ダッシュボードへ", "Back to the dashboard"),
    "assignment": ("課題", "Assignment"),
    "points": ("配点", "Points"),
    "deadline": ("締切", "Deadline"),
    "no_deadline": ("なし", "none"),
    "best_score": ("最新の得点", "Latest score"),
    "submit": ("提出", "Submit"),
    "upload": ("ノートブックを提出", "Submit a notebook"),
    "file": ("ファイル (.ipynb)", "File (.ipynb)"),
    "my_submissions": ("自分の提出", "My submissions"),
    "submitted_at": ("提出日時", "Submitted"),
    "status": ("状態", "Status"),
    "score": ("得点", "Score"),
    "student": ("学生", "Student"),
    "worker": ("ワーカー", "Worker"),
    "queued": ("採点待ち", "queued"),
    "running": ("採点中", "running"),
    "graded": ("採点済み", "graded"),
    "failed": ("失敗", "failed"),
    "item": ("項目", "Item"),
    "result": ("結果", "Result"),
    "passed": ("合格", "passed"),
    "not_passed": ("不合格", "failed"),
    "measured_error": ("誤差", "Error"),
    "tolerance": ("許容値", "Tolerance"),
    "message": ("メッセージ", "Message"),
    "hint": ("ヒント", "Hint"),
    "late_penalty": ("遅延減点", "Late penalty"),
    "feedback": ("フィードバック (実行結果つき)", "Feedback (with the executed notebook)"),
    "download_executed": ("実行済みノートブックをダウンロード", "Download the executed notebook"),
    "live_status": (
        "このページは採点の進行に合わせて自動で更新されます。",
        "This page updates by itself as grading proceeds.",
    ),
    "instructor_dashboard": ("教員ダッシュボード", "Instructor dashboard"),
    "all_submissions": ("すべての提出", "All submissions"),
    "pass_rates": ("項目ごとの合格率", "Pass rate per item"),
    "histogram": ("得点分布", "Score distribution"),
    "students_n": ("人数", "Students"),
    "mean": ("平均", "Mean"),
    "regrade": ("再採点", "Regrade"),
    "export_csv": ("成績 CSV (nbgrader 形式)", "Gradebook CSV (nbgrader layout)"),
    "export_gradescope": ("Gradescope JSON", "Gradescope JSON"),
    "sandbox_warning": (
        "警告: サンドボックス (bubblewrap) が使えないため、プロセス制限のみで採点しています。"
        "学生のコードは隔離されていません。",
        "Warning: bubblewrap is unavailable; notebooks are graded with process limits only. "
        "Student code is NOT isolated.",
    ),
    "sandbox_ok": ("サンドボックス: bwrap", "Sandbox: bwrap"),
    "error": ("エラー", "Error"),
    "back": ("戻る", "Back"),
    "none_yet": ("まだありません。", "None yet."),
    "closed": ("受付終了", "closed"),
}


def lang_of(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGS else "ja"


def translator(lang: str):
    idx = LANGS.index(lang)

    def t(key: str) -> str:
        return STRINGS[key][idx]

    return t
