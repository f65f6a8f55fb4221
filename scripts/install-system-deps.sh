#!/bin/sh
# System packages the full test suite needs: bubblewrap (the sandbox) and Chromium with its
# driver (the web UI tests). Installs only what is missing; needs root for apt-get.
set -e
missing=""
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing system packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "installing system packages:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
