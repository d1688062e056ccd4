#!/bin/sh
# Install what is missing on a fresh Debian 12 (as root): lego, pebble, nginx, apache2, python3-venv,
# then a .venv with the project and its test extra. Safe to run again: it skips what is there.
set -eu
cd "$(dirname "$0")/.."

need=""
command -v lego >/dev/null 2>&1 || need="$need lego"
command -v pebble >/dev/null 2>&1 || need="$need pebble"
[ -x /usr/sbin/nginx ] || need="$need nginx"
[ -x /usr/sbin/apache2 ] || need="$need apache2"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need="$need python3-venv"
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "Missing packages:$need. Run as root (or: sudo apt-get install$need)." >&2
        exit 1
    fi
    echo "Installing:$need"
    # Keep the freshly installed nginx/apache2 from starting on port 80 (they would fight over it and
    # the tests never use them as services); our policy file is removed right after.
    created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
    [ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.bncert-tui-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    touch "$stamp"
fi
