#!/bin/sh
# Install what is missing on a fresh Debian 12 (as root): lego, pebble, nginx, apache2, python3-venv,
# ca-certificates (pip's TLS), then a .venv with the project and its test extra. Safe to run again: it
# skips what is there and prints nothing then. Checked on a debootstrap chroot: scripts/check-fresh-debian.sh
set -eu
cd "$(dirname "$0")/.."

need=""
command -v lego >/dev/null 2>&1 || need="$need lego"
command -v pebble >/dev/null 2>&1 || need="$need pebble"
[ -x /usr/sbin/nginx ] || need="$need nginx"
[ -x /usr/sbin/apache2 ] || need="$need apache2"
# Debian's python3 has no ensurepip until python3-venv is installed, so `python3 -m venv` would fail.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need="$need python3-venv"
# lego depends on it, but pip needs the bundle even where lego came from elsewhere.
[ -s /etc/ssl/certs/ca-certificates.crt ] || need="$need ca-certificates"
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "Missing packages:$need. Run as root (or: sudo apt-get install$need)." >&2
        exit 1
    fi
    echo "setup: apt-get install$need"
    # Keep the freshly installed nginx/apache2 from starting on port 80 (they would fight over it and
    # the tests never use them as services); our policy file goes away even if apt fails.
    created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        created_policy=1
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        trap 'exit 130' INT TERM HUP
    fi
    # A broken third-party list must not stop us: Debian's own lists are what the install needs.
    apt-get update -q || echo "setup: apt-get update reported errors; trying the install anyway" >&2
    # A fresh VM's unattended-upgrades may hold the dpkg lock for a while after boot: wait for it.
    # shellcheck disable=SC2086  # $need is a list of package names
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=600 $need
    if [ -n "$created_policy" ]; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT INT TERM HUP
    fi
fi

# A .venv made without pip (by hand, or by a python3 that lacked ensurepip) is made again.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pip' >/dev/null 2>&1; then
    echo "setup: python3 -m venv .venv"
    rm -rf .venv
    python3 -m venv .venv
fi
stamp=.venv/.bncert-tui-installed
if [ ! -f "$stamp" ] || [ -n "$(find pyproject.toml -newer "$stamp")" ]; then
    echo "setup: pip install -e '.[test]' into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    touch "$stamp"
fi
