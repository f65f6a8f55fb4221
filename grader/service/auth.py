"""Tokens, roster import and browser sessions.

A token is ``gt_`` + 32 random URL-safe characters; the database keeps only its SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from grader.service.csv_cells import csv_text
from grader.service.models import Token, User, WebSession

INSTRUCTOR_ID = "instructor"
STUDENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "gt_" + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    name: str
    token_id: int

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"


def ensure_user(s: Session, user_id: str, name: str = "", email: str = "", role: str = "student"):
    user = s.get(User, user_id)
    if user is None:
        user = User(id=user_id, name=name, email=email, role=role, created_at=time.time())
        s.add(user)
        s.flush()  # tokens reference the user; no ORM relationship orders the inserts
    else:
        if name:
            user.name = name
        if email:
            user.email = email
    return user


def create_token(s: Session, user_id: str) -> str:
    """Create a token for an existing user and return its clear text (shown once)."""
    token = new_token()
    s.add(
        Token(
            user_id=user_id,
            token_hash=hash_secret(token),
            prefix=token[:10],
            created_at=time.time(),
        )
    )
    return token


def create_instructor_token(s: Session) -> str:
    ensure_user(s, INSTRUCTOR_ID, name="Instructor", role="instructor")
    return create_token(s, INSTRUCTOR_ID)


def has_instructor_token(s: Session) -> bool:
    q = (
        select(Token.id)
        .join(User, User.id == Token.user_id)
        .where(User.role == "instructor", Token.revoked_at.is_(None))
    )
    return s.execute(q.limit(1)).first() is not None


def authenticate(s: Session, token: str) -> Principal | None:
    """The principal of a live token, or None (unknown or revoked)."""
    if not token or len(token) > 200:
        return None
    row = s.execute(
        select(Token.id, User.id, User.role, User.name)
        .join(User, User.id == Token.user_id)
        .where(Token.token_hash == hash_secret(token), Token.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return Principal(user_id=row[1], role=row[2], name=row[3], token_id=row[0])


def revoke(s: Session, prefix_or_user: str) -> int:
    """Revoke tokens whose prefix or user id matches; returns how many."""
    now = time.time()
    res = s.execute(
        update(Token)
        .where(Token.revoked_at.is_(None))
        .where((Token.prefix == prefix_or_user) | (Token.user_id == prefix_or_user))
        .values(revoked_at=now)
    )
    s.execute(
        WebSession.__table__.delete().where(
            WebSession.token_id.in_(
                select(Token.id).where(
                    (Token.prefix == prefix_or_user) | (Token.user_id == prefix_or_user)
                )
            )
        )
    )
    return res.rowcount


class RosterError(ValueError):
    pass


@dataclass(frozen=True)
class RosterEntry:
    student_id: str
    name: str
    email: str
    family_name: str = ""
    given_name: str = ""


def parse_roster(text: str) -> list[RosterEntry]:
    """Parse a roster CSV with a header: ``student_id`` (required), ``name``, ``email``,
    ``family_name``, ``given_name`` (exports split names only as these columns give them;
    ``name`` defaults to family and given name joined by a space).

    Raises RosterError naming the line of the first problem.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "student_id" not in fields:
        raise RosterError(f"roster needs a 'student_id' column; found columns {fields}")
    reader.fieldnames = fields
    entries: list[RosterEntry] = []
    seen: set[str] = set()
    for lineno, row in enumerate(reader, start=2):
        sid = (row.get("student_id") or "").strip()
        if not sid:
            continue
        if not STUDENT_ID_RE.match(sid) or sid == INSTRUCTOR_ID:
            raise RosterError(
                f"line {lineno}: student_id {sid!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        if sid in seen:
            raise RosterError(f"line {lineno}: student_id {sid!r} appears twice")
        seen.add(sid)
        cell = lambda key: (row.get(key) or "").strip()  # noqa: B023
        family, given = cell("family_name"), cell("given_name")
        name = cell("name") or " ".join(x for x in (family, given) if x)
        entries.append(RosterEntry(sid, name, cell("email"), family, given))
    if not entries:
        raise RosterError("roster has no students")
    return entries


def existing_user_ids(s: Session, ids: list[str]) -> set[str]:
    """Which of ``ids`` already have an account."""
    return set(s.scalars(select(User.id).where(User.id.in_(ids)))) if ids else set()


def import_roster(s: Session, entries: list[RosterEntry]) -> list[tuple[RosterEntry, str]]:
    """Create or update students and give each a new token. Returns (entry, token) pairs;
    the caller shows or writes the tokens, which are not stored in clear."""
    issued = []
    for e in entries:
        user = ensure_user(s, e.student_id, e.name, e.email, role="student")
        if e.family_name or e.given_name:
            user.family_name, user.given_name = e.family_name, e.given_name
        s.flush()
        issued.append((e, create_token(s, e.student_id)))
    return issued


def tokens_csv(issued: list[tuple[RosterEntry, str]]) -> str:
    """The issued tokens as CSV (names from the roster neutralised like every export)."""
    rows = [[e.student_id, e.name, e.email, tok] for e, tok in issued]
    return csv_text(["student_id", "name", "email", "token"], rows)


# -- browser sessions --------------------------------------------------------------------------
def open_session(s: Session, principal: Principal, days: float) -> str:
    sid = secrets.token_urlsafe(32)
    s.add(
        WebSession(
            id_hash=hash_secret(sid),
            user_id=principal.user_id,
            token_id=principal.token_id,
            expires_at=time.time() + days * 86400,
        )
    )
    return sid


def session_principal(s: Session, sid: str) -> Principal | None:
    if not sid or len(sid) > 200:
        return None
    row = s.execute(
        select(User.id, User.role, User.name, Token.id)
        .join(WebSession, WebSession.user_id == User.id)
        .join(Token, Token.id == WebSession.token_id)
        .where(
            WebSession.id_hash == hash_secret(sid),
            WebSession.expires_at > time.time(),
            Token.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    return Principal(user_id=row[0], role=row[1], name=row[2], token_id=row[3])


def close_session(s: Session, sid: str) -> None:
    s.execute(WebSession.__table__.delete().where(WebSession.id_hash == hash_secret(sid)))
