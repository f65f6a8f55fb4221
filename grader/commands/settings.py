"""``grader settings example|import|export``: the course settings as ``policy.toml``.

The settings live in the service's database (edited on the instructor page or through the API,
effective at once); this command writes an example file and moves the settings in and out of
the database in bulk.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    from grader.service.cli_common import add_store_options

    p = subparsers.add_parser(
        "settings",
        help="course settings (deadlines, late rule, release dates) as policy.toml",
        description="Write an example policy.toml, import one into the service's database "
        "(replaces the settings of every assignment, all or nothing) or export the current "
        "settings. The running service sees an import at once.",
    )
    sub = p.add_subparsers(dest="settings_command", metavar="ACTION", required=True)
    ex = sub.add_parser("example", help="write an example policy.toml")
    ex.add_argument("file", nargs="?", default="-", help="where to write it (default: stdout)")
    ex.set_defaults(func=run_example)
    im = sub.add_parser("import", help="read a policy.toml into the database")
    im.add_argument("file", help="the policy.toml to import")
    add_store_options(im)
    im.set_defaults(func=run_import)
    out = sub.add_parser("export", help="write the database's settings as policy.toml")
    out.add_argument("file", nargs="?", default="-", help="where to write it (default: stdout)")
    add_store_options(out)
    out.set_defaults(func=run_export)


def _write(text: str, file: str) -> None:
    if file == "-":
        sys.stdout.write(text)
    else:
        Path(file).write_text(text, encoding="utf-8")
        print(f"wrote {file}", file=sys.stderr)


def run_example(args: argparse.Namespace) -> int:
    from grader.service.catalog import EXAMPLE_POLICY

    _write(EXAMPLE_POLICY, args.file)
    return 0


def _store(args):
    from grader.service.cli_common import config_from, open_store

    return open_store(config_from(args))[1]


def run_import(args: argparse.Namespace) -> int:
    from grader.service import course_settings
    from grader.service.catalog import Catalog
    from grader.service.errors import ApiError

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"grader settings import: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    catalog = Catalog()
    try:
        with _store(args).begin() as s:
            n = course_settings.import_policy(
                s, text, list(catalog.assignments), "instructor", args.file, catalog.reveals
            )
    except ApiError as exc:
        print(f"grader settings import: {exc.message['en']}", file=sys.stderr)
        return 1
    print(f"imported the settings of {n} assignments from {args.file}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from grader.service import course_settings
    from grader.service.catalog import Catalog

    with _store(args)() as s:
        text = course_settings.export_policy(s, list(Catalog().assignments))
    _write(text, args.file)
    return 0
