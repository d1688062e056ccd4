#!/bin/sh
# Checks the README's promise on a bare Debian 12: with only make, python3 and git, `make test` installs
# what is missing and passes, and `make setup` run again does nothing. Not part of CI (it needs mounts
# and several minutes); run it as root on a Debian host after changing scripts/setup.sh or the Makefile.
#
#   sh scripts/check-fresh-debian.sh [CHROOT_DIR]      # default /work/chroot-debian12
#   FRESH=1 sh scripts/check-fresh-debian.sh           # debootstrap again instead of reusing the chroot
#   OVERLAY="scripts/setup.sh Makefile" sh ...         # these working-tree files replace the committed ones
#
# What it does: debootstrap a minbase bookworm (from the mirror in this host's apt sources) once into
# CHROOT_DIR.base, then on every run: a fresh copy of it as CHROOT_DIR, `apt-get install
# --no-install-recommends make python3 git`, the host's pip setup copied in (see below), a `git clone`
# of this repo's committed HEAD (uncommitted files are left out, as in CI), and inside the chroot as
# root: `make test`, `make setup` again (must print nothing), `bncert_tui demo --unattended`, and
# `make setup` on a .venv that has no pip (must rebuild it). Logs stay in CHROOT_DIR/root/*.log.
# Mounts (/proc, /sys, /dev, /dev/pts, /dev/shm, the read-only pip directories) are undone on exit.
#
# pip reaches the package index here the way it does on this host and on CI: the same pip config files
# (/etc/pip.conf, /etc/xdg/pip/, ~/.config/pip/), the same PIP_* and CA bundle variables, the local
# directories those name (bind-mounted read-only) and the host's extra CA certificates from
# /usr/local/share/ca-certificates (trusted once setup.sh installs ca-certificates).
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/work/chroot-debian12}
base="$root.base"
suite=bookworm
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }

now() { date +%s; }
step() { printf '\n== %s\n' "$*"; }

# The host's Debian mirror: first deb822 URIs line or one-line `deb` entry that is not the security one.
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}')
if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
security=$(printf '%s' "$mirror" | sed 's#/debian/*$#/debian-security#')

command -v debootstrap >/dev/null 2>&1 || {
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
}

# Never rm -rf through a mount left behind by an interrupted run (it could reach the host's /dev).
if grep -q " ${root}[/ ]" /proc/mounts; then
    echo "something is still mounted under $root; unmount it first:" >&2; grep " ${root}[/ ]" /proc/mounts >&2
    exit 2
fi

mounted=""
cleanup() {
    rc=$?
    # Processes still running inside the chroot would keep the mounts busy: name them, do not hunt them.
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null || true)
        case "$r" in "$root"|"$root"/*) echo "left running in chroot: ${p#/proc/} $(tr '\0' ' ' < "$p/cmdline")" >&2 ;; esac
    done
    for m in $mounted; do   # newest first
        umount "$m" 2>/dev/null || { echo "busy, lazy unmount: $m" >&2; umount -l "$m"; }
    done
    if grep -q " $root/" /proc/mounts; then echo "still mounted under $root:" >&2; grep " $root/" /proc/mounts >&2; rc=1; fi
    exit "$rc"
}
trap cleanup EXIT INT TERM HUP
do_mount() {  # do_mount TARGET MOUNT-ARGS...
    target=$1; shift
    mkdir -p "$target"
    mount "$@" "$target"
    mounted="$target $mounted"
}

if [ -n "${FRESH:-}" ] || [ ! -f "$base/etc/debian_version" ]; then
    step "debootstrap --variant=minbase $suite from $mirror"
    rm -rf --one-file-system "$base"
    t=$(now)
    debootstrap --variant=minbase "$suite" "$base" "$mirror" > "$base.debootstrap.log" 2>&1 \
        || { tail -20 "$base.debootstrap.log"; exit 1; }
    echo "debootstrap: $(( $(now) - t )) s"
fi

step "fresh rootfs $root (copy of $base)"
rm -rf --one-file-system "$root"
cp -a "$base" "$root"
# A normal Debian 12 install has the updates and security suites too.
cat > "$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"

do_mount "$root/proc" -t proc proc
do_mount "$root/sys" -t sysfs sysfs
do_mount "$root/dev" --bind /dev
do_mount "$root/dev/pts" --bind /dev/pts
do_mount "$root/dev/shm" -t tmpfs -o mode=1777 shm

# Only what the README assumes: make, python3, git (no recommends, so no ca-certificates either).
step "bare Debian 12: apt-get install make python3 git"
t=$(now)
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends make python3 git' \
    > "$root/root/apt-base.log" 2>&1 || { tail -20 "$root/root/apt-base.log"; exit 1; }
echo "apt (make python3 git): $(( $(now) - t )) s"

step "pip setup as on this host"
for f in /etc/pip.conf /etc/xdg/pip "$HOME/.config/pip" /usr/local/share/ca-certificates; do
    [ -e "$f" ] || continue
    case "$f" in "$HOME"/*) dest="$root/root${f#"$HOME"}" ;; *) dest="$root$f" ;; esac
    mkdir -p "$(dirname "$dest")"
    cp -a "$f" "$(dirname "$dest")/"
    echo "copied $f"
done
# Directories that pip's config names (find-links, file:// indexes): bind-mount them read-only. A file://
# index's files sit beside its simple/ directory, so its parent goes in.
pipdirs=$( { cat /etc/pip.conf /etc/xdg/pip/pip.conf "$HOME/.config/pip/pip.conf" 2>/dev/null || true
             env | grep '^PIP_' || true; } \
    | grep -oE '(file://)?/[A-Za-z0-9._/+-]+' | sed 's#^file://##; s#/simple/*$##' | sort -u)
for d in $pipdirs; do
    [ -d "$d" ] || continue
    case "$d" in /etc/*|/usr/*|/root/*) continue ;; esac
    do_mount "$root$d" --bind "$d"
    mount -o remount,bind,ro "$root$d"
    echo "read-only bind: $d"
done
# The variables pip and Python's ssl read, as set on this host and on CI.
set -- PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    TERM=dumb CI=true PYTEST_ADDOPTS=-rs
for v in $(env | grep -oE '^(PIP_[A-Z_]+|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE)='); do
    name=${v%=}
    eval "set -- \"\$@\" \"$name=\${$name}\""
    echo "env: $name"
done

step "git clone of committed HEAD $(git -C "$repo" rev-parse --short HEAD)"
git clone -q "$repo" "$root/root/bncert-tui"
for f in ${OVERLAY:-}; do
    cp "$repo/$f" "$root/root/bncert-tui/$f"
    echo "overlay from the working tree: $f"
done

# Runs inside the chroot: prints each line with the seconds since the start of its command.
cat > "$root/root/check-inner.sh" <<'EOF'
set -u
cd /root/bncert-tui
stamp() { s=$(date +%s); while IFS= read -r line; do echo "[+$(( $(date +%s) - s ))s] $line"; done; }
run() {  # run LOG CMD...: output to LOG (timestamped) and the terminal, status kept
    log=$1; shift; t0=$(date +%s%N)
    { "$@" 2>&1; echo "exit=$?" > "/root/$log.rc"; } | stamp | tee "/root/$log.log"
    echo "[$log] $(( ($(date +%s%N) - t0) / 1000000 )) ms, $(cat "/root/$log.rc")"
}
run make-test make test
run make-setup-again make setup
run demo .venv/bin/python -m bncert_tui demo --unattended
# A .venv without pip (made by hand, or by a python3 lacking ensurepip) must be rebuilt, not trusted.
rm -rf .venv && python3 -m venv --without-pip .venv
run setup-repair make setup
.venv/bin/python -c 'import bncert_tui, pytest' >> /root/setup-repair.log 2>&1 || echo "exit=1" > /root/setup-repair.rc
# setup.sh's policy-rc.d (keeps nginx/apache2 from starting as services) must be gone again.
if [ -e /usr/sbin/policy-rc.d ]; then echo "policy-rc.d left behind" > /root/leftovers.log; fi
EOF
step "inside the chroot, as root"
chroot "$root" /usr/bin/env -i "$@" sh /root/check-inner.sh

step "verdict"
ok=1
echo "timeline of make test (seconds since its start):"
grep -E '^\[\+[0-9]+s\] (setup:|\.venv/bin/python -m pytest)' "$root/root/make-test.log" || true
if [ -s "$root/root/leftovers.log" ]; then cat "$root/root/leftovers.log"; ok=""; fi
if grep -q '^exit=0$' "$root/root/make-test.rc"; then echo "make test: passed"; else echo "make test: FAILED"; ok=""; fi
tail -3 "$root/root/make-test.log" | grep -E 'passed|failed' || true
if grep -q '^exit=0$' "$root/root/make-setup-again.rc" && [ ! -s "$root/root/make-setup-again.log" ]; then
    echo "make setup again: no-op (no output)"
else
    echo "make setup again: NOT a no-op:"; cat "$root/root/make-setup-again.log"; ok=""
fi
if grep -q '^exit=0$' "$root/root/setup-repair.rc"; then echo "make setup with a pip-less .venv: rebuilt it"
else echo "make setup with a pip-less .venv: FAILED"; tail -5 "$root/root/setup-repair.log"; ok=""; fi
if grep -q '^exit=0$' "$root/root/demo.rc"; then echo "demo --unattended: passed"; else echo "demo --unattended: FAILED"; ok=""; fi
[ -n "$ok" ]
