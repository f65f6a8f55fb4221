"""Bad command-line input ends with one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

GRADER = [sys.executable, "-m", "grader.cli"]


def _grader(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRADER_STATE_DIR": str(cwd / "state")}
    return subprocess.run(
        [*GRADER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "url, expected",
    [
        ("foo://bar", "is not a database URL"),
        ("not a url", "is not a database URL"),
        ("postgresql+nodriver://u@h/db", "is not a database URL"),
        ("sqlite:////proc/no/such/grader.db", "cannot create the state directory"),
        ("sqlite:////proc/grader.db", "cannot open the database"),
        ("postgresql+psycopg://u:hunter2pw@127.0.0.1:9/db", "cannot open the database"),
    ],
)
@pytest.mark.parametrize("command", [["token", "list"], ["roster", "import", "roster.csv"]])
def test_bad_database_url_is_one_clear_line(tmp_path, command, url, expected):
    (tmp_path / "roster.csv").write_text("student_id,name,email\ns1,A,a@example.org\n")
    proc = _grader(*command, "--db", url, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert f"grader {command[0]}: " in proc.stderr and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "hunter2pw" not in proc.stderr + proc.stdout  # passwords are never echoed
    assert "s1" not in proc.stdout  # nothing imported, no token printed


def test_roster_with_duplicate_students_imports_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'g.db'}"
    (tmp_path / "dup.csv").write_text("student_id,name,email\ns1,A,a@x\ns1,B,b@x\n")
    proc = _grader("roster", "import", "dup.csv", "--db", db, cwd=tmp_path)
    assert proc.returncode == 2 and "appears twice" in proc.stderr, proc.stderr
    listed = _grader("token", "list", "--db", db, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "s1" not in listed.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["serve", "--port", "70000"], "is not a TCP port"),
        (["serve", "--workers", "-1"], "is not a whole number >= 0"),
        (["serve", "--max-upload-mb", "nan"], "is not a size in MB"),
        (["serve", "--lease-seconds", "0"], "is not a positive number of seconds"),
        (["worker", "--slot", "1000"], "is not a slot number"),
        (["grade", "--jobs", "-3", "x.ipynb"], "is not a whole number >= 0"),
        (["validate", "--jobs", "two"], "is not a whole number >= 0"),
    ],
)
def test_out_of_range_options_are_refused_by_name(tmp_path, args, expected):
    proc = _grader(*args, cwd=tmp_path)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_release_outside_a_checkout_says_so(tmp_path):
    proc = _grader("release", "out", cwd=tmp_path)
    assert proc.returncode == 2 and "is not a course checkout" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_serve_on_a_busy_port_stops_before_starting_anything(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _grader(
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--home",
            "home",
            "--allow-unsandboxed",
            cwd=tmp_path,
        )
    assert proc.returncode == 2, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr, proc.stderr
    assert "instructor token" not in proc.stdout  # no token issued, no database created
    assert not (tmp_path / "home").exists()


def test_roster_reimport_says_which_students_already_had_tokens(tmp_path):
    db = f"sqlite:///{tmp_path / 'g.db'}"
    (tmp_path / "a.csv").write_text("student_id,name,email\ns1,A,a@x\ns2,B,b@x\n")
    (tmp_path / "b.csv").write_text("student_id,name,email\ns1,A,a@x\ns3,C,c@x\n")
    first = _grader("roster", "import", "a.csv", "--db", db, cwd=tmp_path)
    assert first.returncode == 0 and "(2 new)" in first.stderr, first.stderr
    assert "already on the roster" not in first.stderr
    again = _grader("roster", "import", "b.csv", "--db", db, cwd=tmp_path)
    assert again.returncode == 0 and "(1 new)" in again.stderr, again.stderr
    assert "1 were already on the roster" in again.stderr
    listed = _grader("token", "list", "--db", db, cwd=tmp_path).stdout
    assert sum(1 for line in listed.splitlines() if " s1 " in f" {line} ") == 2, listed
