#!/usr/bin/env bash
# Build a minimal Debian trixie chroot with PostgreSQL 17 and TimescaleDB (Apache edition).
#   deploy/local/build-timescaledb-chroot.sh ROOT [MIRROR]
# Used by `ioc dev up`, which builds into a temporary directory and renames it when this
# script succeeds, so an interrupted build is never reused. Needs root (debootstrap, chroot).
set -euo pipefail

root=${1:?usage: build-timescaledb-chroot.sh ROOT [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}

step() { printf '[chroot] %s\n' "$*"; }
in_root() {
    chroot "$root" env -i LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

if [ "$(id -u)" -ne 0 ]; then
    echo "build-timescaledb-chroot.sh: debootstrap and chroot need root (run as root or with sudo)" >&2
    exit 2
fi

step "debootstrap --variant=minbase trixie $root $mirror (about 30 s)"
debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.debootstrap.log" 2>&1 || {
    tail -n 20 "$root.debootstrap.log" >&2
    exit 1
}
rm -f "$root.debootstrap.log"

step "policy-rc.d: never start services inside the chroot"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

step "apt-get install postgresql-common (no main cluster)"
in_root apt-get -o Dpkg::Use-Pty=0 update -qq
in_root apt-get -o Dpkg::Use-Pty=0 install -y -qq --no-install-recommends postgresql-common >/dev/null
conf="$root/etc/postgresql-common/createcluster.conf"
if grep -qE '^\s*#?\s*create_main_cluster' "$conf"; then
    sed -i -E 's/^\s*#?\s*create_main_cluster.*/create_main_cluster = false/' "$conf"
else
    echo 'create_main_cluster = false' >>"$conf"
fi

step "apt-get install postgresql-17 postgresql-17-timescaledb"
in_root apt-get -o Dpkg::Use-Pty=0 install -y -qq --no-install-recommends postgresql-17 postgresql-17-timescaledb >/dev/null

step "cleaning apt caches and documentation"
in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/locale/*
step "done: $(du -sh "$root" | cut -f1) in $root"
