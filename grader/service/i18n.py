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
    "choose_assignment": ("課題を選んでください", "Choose the assignment"),
    "points": ("配点", "Points"),
    "deadline": ("締切", "Deadline"),
    "no_deadline": ("なし", "none"),
    "best_score": ("最高得点 (成績に使用)", "Best score (counts for the grade)"),
    "latest": ("最新", "latest"),
    "not_submitted": ("未提出", "not submitted"),
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
    "rejected": ("受け付けられませんでした", "not accepted"),
    "item": ("項目", "Item"),
    "result": ("結果", "Result"),
    "passed": ("合格", "passed"),
    "not_passed": ("不合格", "not passed"),
    "measured_error": ("誤差", "Measured error"),
    "tolerance": ("許容値", "Tolerance"),
    "message": ("メッセージ", "Message"),
    "hint": ("ヒント", "Hint"),
    "late_penalty": ("遅延減点", "Late penalty"),
    "feedback": ("フィードバック (実行結果つき)", "Feedback (with the executed notebook)"),
    "download_executed": ("実行済みノートブックをダウンロード", "Download the executed notebook"),
    "download_original": (
        "提出されたままのノートブックをダウンロード",
        "Download the notebook as uploaded",
    ),
    "live_status": (
        "このページは採点の進行に合わせて自動で更新されます。",
        "This page updates by itself as grading proceeds.",
    ),
    "instructor_dashboard": ("教員ダッシュボード", "Instructor dashboard"),
    "all_submissions": ("すべての提出", "All submissions"),
    "pass_rates": ("項目ごとの合格率", "Pass rate per item"),
    "histogram": ("得点分布", "Score distribution"),
    "students_n": ("採点済みの学生", "Students graded"),
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
    "back_home": ("課題一覧へ戻る", "Back to the assignments"),
    "back_dashboard": ("ダッシュボードへ戻る", "Back to the dashboard"),
    "closed": ("受付終了", "closed"),
    "score_overridden": ("教員が点数を調整しました", "score adjusted by the instructor"),
    "instructor_comment": ("教員からのコメント", "Instructor's comment"),
    "results_after_deadline": (
        "受付済み・採点済み (点数は締切後に表示されます)",
        "Received and graded (the score is shown after the deadline)",
    ),
    "navigation": ("メニュー", "Menu"),
    "logged_in_as": ("ログイン中のユーザ", "Logged in as"),
    "gradebook_short": ("成績一覧", "Gradebook"),
    "times_in_jst": ("時刻はすべて日本時間 (JST)", "All times are Japan time (JST, UTC+9)"),
    "bad_token_help": (
        "コピーしたトークン全体 (gt_ から最後まで、前後の空白なし) を貼り付けてください。"
        "それでも入れない場合は教員に新しいトークンを依頼してください。",
        "Paste the whole token (from gt_ to its end, no spaces). If it still fails, ask your "
        "instructor for a new token.",
    ),
    "student_home": ("課題と提出", "Assignments and submissions"),
    "file_help": (
        "拡張子 .ipynb のノートブック、%s MB まで。大きすぎる場合は"
        "「出力をすべて消去」してから保存してください。",
        "A notebook ending in .ipynb, at most %s MB. If it is larger, clear all outputs and "
        "save it again.",
    ),
    "client_too_large": (
        "このファイルは %s MB あり、上限を超えています。Jupyter で「出力をすべて消去」して"
        "保存してから、もう一度選んでください。",
        "This file is %s MB, over the limit. In Jupyter, clear all outputs, save, and choose "
        "it again.",
    ),
    "client_not_ipynb": (
        "「%s」はノートブックではありません。課題の .ipynb ファイルを選んでください。",
        "'%s' is not a notebook: choose the assignment's .ipynb file.",
    ),
    "no_open_assignments": (
        "いま提出を受け付けている課題はありません。",
        "No assignment is open for submission right now.",
    ),
    "late_open": (
        "締切後: 遅れた日数 1 日ごとに配点の %s%% を減点",
        "Past the deadline: %s%% of the points off per day late",
    ),
    "no_submissions_yet": (
        "まだ提出がありません。上のフォームからノートブックを提出すると、ここに採点結果が"
        "表示されます。",
        "No submissions yet. Submit a notebook with the form above; its result will be "
        "listed here.",
    ),
    "file_name": ("ファイル", "File"),
    "late": ("遅延", "Late"),
    "late_days": (
        "締切から %s 日遅れ (遅延減点の対象)",
        "%s day(s) after the deadline (late penalty)",
    ),
    "feedback_help": (
        "各セルの実行結果とエラーを確認できます。",
        "Every cell's output and errors, as the grader ran them.",
    ),
    "open_full_page": ("別のタブで全体を開く", "Open it in a new tab"),
    "overview": ("課題ごとの概要", "Assignments at a glance"),
    "export": ("エクスポート", "Export"),
    "stats_help": (
        "人数・平均・合格率・得点分布は各学生の最新の採点済み提出 (遅延減点後) で集計します。"
        "成績 (成績表・CSV・Gradescope) は各学生の最高点の提出です。",
        "Students, mean, pass rates and the distribution use each student's latest graded "
        "submission, late penalty applied. Grades (gradebook, CSV, Gradescope) use each "
        "student's best graded submission.",
    ),
    "show_submissions": ("この課題の提出", "Its submissions"),
    "histogram_axes": ("横軸: 得点、縦軸: 人数", "x: score, y: students"),
    "show_all": ("すべての課題の提出を表示", "Show the submissions of every assignment"),
    "no_submissions_all": ("まだ提出はありません。", "No submissions yet."),
    "no_students": (
        "学生が登録されていません。grader roster import で名簿を読み込んでください。",
        "No students yet: import the roster with grader roster import.",
    ),
    # course settings, extensions, mistakes at a glance (issue 9)
    "course_settings": (
        "課題の設定 (締切・公開日・遅延)",
        "Course settings (deadlines, release, late rule)",
    ),
    "settings_help": (
        "変更は保存するとすぐに有効になります (再起動は不要)。時刻は日本時間 (JST) です。",
        "Changes apply as soon as they are saved (no restart). Times are Japan time (JST).",
    ),
    "deadline_field": ("締切", "Deadline"),
    "release_at_field": ("公開日時 (空欄: すぐ公開)", "Release (empty: released)"),
    "late_policy_field": ("遅延提出", "Late submissions"),
    "late_none": ("受け付ける (減点なし)", "accepted, no penalty"),
    "late_penalty_opt": ("受け付ける (1 日ごとに減点)", "accepted with a penalty per day"),
    "late_refuse": ("受け付けない", "refused"),
    "penalty_percent_field": ("1 日あたりの減点 (満点の %)", "Penalty per day (% of max)"),
    "max_late_days_field": ("遅延の上限日数 (空欄: なし)", "Max late days (empty: none)"),
    "results_visible_field": ("結果の公開", "Results shown"),
    "results_immediately": ("採点後すぐ", "at once"),
    "results_after_deadline_opt": ("締切後", "after the deadline"),
    "save": ("保存", "Save"),
    "saved": ("保存しました", "Saved"),
    "carries_answers": ("固定セルに次の課題の解答を含みます", "Its locked cells carry answers of"),
    "extensions": ("個別の締切延長", "Per-student extensions"),
    "student_id": ("学生 ID", "Student ID"),
    "new_deadline": ("新しい締切", "New deadline"),
    "reason": ("理由", "Reason"),
    "grant_extension": ("延長する", "Grant extension"),
    "remove": ("取り消す", "Remove"),
    "no_extensions": ("延長はありません。", "No extensions."),
    "granted_by": ("登録者", "Granted by"),
    "mistakes": ("よくある間違い (最新の採点結果)", "Mistakes (latest graded submissions)"),
    "mistake_count": ("%s 人中 %s 人", "%s of %s"),
    "no_mistakes": ("診断された間違いはありません。", "No diagnosed mistakes."),
    "non_submitters": ("未提出の学生", "Students who have not submitted"),
    "everyone_submitted": ("全員が提出しました。", "Everyone has submitted."),
    "regrade_all": ("すべて再採点", "Regrade all"),
    "regrade_failed": ("満点でないものを再採点", "Regrade those short of full marks"),
    "regraded_n": ("%s 件を再採点の列に入れました", "%s submissions queued for regrading"),
    "live_counts": ("採点の状況", "Grading now"),
    "export_moodle": ("Moodle 用 CSV", "Moodle CSV"),
    "adjust": ("教員による調整", "Instructor adjustments"),
    "override_score": ("点数を上書き (空欄: 上書きを解除)", "Override score (empty: clear)"),
    "add_comment": ("コメントを追加", "Add comment"),
    "audit_trail": ("調整の記録", "Audit trail"),
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
