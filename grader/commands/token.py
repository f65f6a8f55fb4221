"""``grader token create|list|revoke``: manage access tokens."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime


def register(subparsers) -> None:
    from grader.service.cli_common import add_store_options

    p = subparsers.add_parser("token", help="create, list or revoke access tokens")
    sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    c = sub.add_parser("create", help="create a token (printed once)")
    who = c.add_mutually_exclusive_group(required=True)
    who.add_argument("--instructor", action="store_true", help="an instructor token")
    who.add_argument("--student", metavar="ID", help="a token for this student id")
    c.add_argument("--name", default="", help="student's name (new students)")
    c.add_argument("--email", default="", help="student's email (new students)")
    add_store_options(c)
    c.set_defaults(func=run_create)

    ls = sub.add_parser("list", help="list tokens (prefixes only)")
    ls.add_argument("--all", action="store_true", help="include revoked tokens")
    add_store_options(ls)
    ls.set_defaults(func=run_list)

    r = sub.add_parser("revoke", help="revoke a token by prefix, or all tokens of a user")
    r.add_argument("target", help="token prefix (as listed) or user id")
    add_store_options(r)
    r.set_defaults(func=run_revoke)


def _store(args):
    from grader.service.cli_common import config_from, open_store

    return open_store(config_from(args))[1]


def run_create(args: argparse.Namespace) -> int:
    from grader.service import auth

    sessions = _store(args)
    with sessions.begin() as s:
        if args.instructor:
            token = auth.create_instructor_token(s)
        else:
            if not auth.STUDENT_ID_RE.match(args.student) or args.student == auth.INSTRUCTOR_ID:
                print(f"grader token create: bad student id {args.student!r}", file=sys.stderr)
                return 2
            auth.ensure_user(s, args.student, args.name, args.email)
            token = auth.create_token(s, args.student)
    print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from grader.service.models import Token, User

    sessions = _store(args)
    with sessions() as s:
        q = select(Token, User).join(User, User.id == Token.user_id).order_by(Token.id)
        if not args.all:
            q = q.where(Token.revoked_at.is_(None))
        rows = s.execute(q).all()
    print(f"{'prefix':<12} {'user':<20} {'role':<10} {'created':<20} revoked")
    for tok, user in rows:
        created = datetime.fromtimestamp(tok.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        revoked = "yes" if tok.revoked_at else ""
        print(f"{tok.prefix:<12} {user.id:<20} {user.role:<10} {created:<20} {revoked}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from grader.service import auth

    sessions = _store(args)
    with sessions.begin() as s:
        n = auth.revoke(s, args.target)
    if n == 0:
        print(f"grader token revoke: no live token matches {args.target!r}", file=sys.stderr)
        return 1
    print(f"revoked {n} token(s)")
    return 0
