#!/usr/bin/env bash
# Installs what tests/independent_rescore.rs needs: a CPython 3 to run tools/rescore.py
# (standard library only, no pip packages). Idempotent and non-interactive.
set -euo pipefail

if ! command -v python3 >/dev/null 2>&1; then
    echo "install-rescore: installing python3 (Debian package python3)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3 >/dev/null
fi
python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
    || { echo "install-rescore: tools/rescore.py needs Python >= 3.11" >&2; exit 1; }
