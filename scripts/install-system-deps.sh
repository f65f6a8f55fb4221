#!/bin/sh
# System packages: bubblewrap (the sandbox) for `grader serve`; for the full test suite also
# Chromium with its driver (the web UI tests) and PostgreSQL (the service's tests on a
# throw-away cluster). Installs only what is missing; needs root for apt-get.
#   install-system-deps.sh           everything the tests need
#   install-system-deps.sh sandbox   bubblewrap only
set -e
missing=""
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
if [ "$1" != "sandbox" ]; then
    command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
    command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
    # Debian keeps initdb/pg_ctl off PATH, under /usr/lib/postgresql/<version>/bin.
    pg_bin="$(pg_config --bindir 2>/dev/null || true)"
    if [ ! -x "$pg_bin/initdb" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        missing="$missing postgresql"
    fi
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing system packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "installing system packages:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
