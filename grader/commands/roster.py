"""``grader roster import FILE.csv``: create students and hand out their tokens."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers) -> None:
    from grader.service.cli_common import add_store_options

    p = subparsers.add_parser(
        "roster",
        help="import the class roster (creates per-student tokens)",
        description="Roster CSV columns: student_id (required), name, email. Each student "
        "gets a new token; tokens are printed (or written with --out) once and only their "
        "hashes are stored.",
    )
    sub = p.add_subparsers(dest="roster_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="import students from a CSV file")
    imp.add_argument("file", type=Path, help="CSV with a header: student_id,name,email")
    imp.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write student_id,name,email,token here (mode 0600) instead of printing",
    )
    add_store_options(imp)
    imp.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from grader.service import auth
    from grader.service.cli_common import config_from, open_store

    try:
        text = args.file.read_text(encoding="utf-8")
        entries = auth.parse_roster(text)
    except (OSError, UnicodeDecodeError, auth.RosterError) as exc:
        print(f"grader roster import: {args.file}: {exc}", file=sys.stderr)
        return 2
    _engine, sessions = open_store(config_from(args))
    with sessions.begin() as s:
        known = auth.existing_user_ids(s, [e.student_id for e in entries])
        issued = auth.import_roster(s, entries)
    body = auth.tokens_csv(issued)
    if args.out:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        where = f"tokens written to {args.out}"
    else:
        sys.stdout.write(body)
        where = "the tokens above are shown only once"
    summary = f"{len(issued)} students imported ({len(issued) - len(known)} new); {where}"
    print(summary, file=sys.stderr)
    if known:
        print(
            f"{len(known)} were already on the roster and got an additional token; their "
            "earlier tokens stay valid (see `grader token list`, revoke one with "
            "`grader token revoke PREFIX`)",
            file=sys.stderr,
        )
    return 0
