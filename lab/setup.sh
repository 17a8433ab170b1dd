#!/bin/bash
# Install what the device lab needs on Debian 12 (run as root). Idempotent:
# when everything is present it checks a few paths and exits silently, because
# `make test` calls it on every run.
set -euo pipefail

CACHE=${LOBO_LAB_CACHE:-/var/cache/lobo-lab}
# Host tools that guest tests reach through the 9p share, plus what run-guest
# itself needs to build the initramfs (busybox, cpio, xz).
HOST_PKGS="busybox-static cpio xz-utils tcpdump python3-scapy iputils-ping ethtool iproute2 pciutils gcc libc6-dev"
HOST_PATHS="/bin/busybox /usr/bin/cpio /usr/bin/xz /usr/bin/tcpdump /usr/lib/python3/dist-packages/scapy
            /usr/bin/ping /usr/sbin/ethtool /usr/sbin/ip /usr/bin/setpci /usr/bin/gcc /usr/share/doc/busybox-static"

qemu_ok() {   # QEMU 7.2 from bookworm main has no igb: we need 10.x from backports
    local v
    v=$(qemu-system-x86_64 --version 2>/dev/null | sed -n '1s/.*version \([0-9]*\)\..*/\1/p')
    [ -n "$v" ] && [ "$v" -ge 10 ]
}

ready() {
    local p
    for p in $HOST_PATHS "$CACHE/kernel/vmlinuz"; do [ -e "$p" ] || return 1; done
    qemu_ok
}

ready && exit 0

[ "$(id -u)" = 0 ] || { echo "lab/setup.sh: must run as root to install packages" >&2; exit 1; }
# Another apt-get may be running (e.g. the lead installing build tools): wait for it.
export DEBIAN_FRONTEND=noninteractive   # CI has no terminal to answer debconf
APT=(apt-get -q -y -o DPkg::Lock::Timeout=600 -o APT::Sandbox::User=root)

add_backports() {
    grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
    # Take the mirror the machine already uses (the stanza carrying plain "bookworm").
    local uris
    uris=$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |\n|$)/ { if (match($0, /URIs:[^\n]*/)) { print substr($0, RSTART, RLENGTH); exit } }' \
           /etc/apt/sources.list.d/debian.sources 2>/dev/null)
    [ -n "$uris" ] || { echo "lab/setup.sh: no URIs: line for bookworm in /etc/apt/sources.list.d/debian.sources" >&2; exit 1; }
    printf 'Types: deb\n%s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uris" > /etc/apt/sources.list.d/bookworm-backports.sources
}

update() {   # apt-get update has no lock timeout option of its own: retry
    local i
    for i in $(seq 60); do "${APT[@]}" update >/dev/null && return 0; sleep 5; done
    return 1
}

echo "lab/setup.sh: installing the device lab's packages" >&2
add_backports
update
"${APT[@]}" install --no-install-recommends $HOST_PKGS >/dev/null
qemu_ok || "${APT[@]}" install --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
qemu_ok || { echo "lab/setup.sh: QEMU >= 10 did not install" >&2; exit 1; }

if [ ! -e "$CACHE/kernel/vmlinuz" ]; then
    # The kernel that linux-image-amd64 in backports points at (6.12.x): unpacked, not installed.
    pkg=$(apt-cache show --no-all-versions linux-image-amd64/bookworm-backports |
          sed -n 's/^Depends: \([^ ,|]*\).*/\1/p')
    [ -n "$pkg" ] || { echo "lab/setup.sh: cannot resolve linux-image-amd64 in bookworm-backports" >&2; exit 1; }
    tmp=$(mktemp -d "$CACHE.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && "${APT[@]}" download "$pkg/bookworm-backports" >/dev/null && dpkg -x ./*.deb root)
    rel=$(cd "$tmp/root/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//')
    echo "$rel" > "$tmp/root/release"
    mkdir -p "$CACHE"
    rm -rf "$CACHE/kernel"
    mv "$tmp/root" "$CACHE/kernel"
    # Last, so that an interrupted run is retried: ready() looks for this link.
    ln -s "boot/vmlinuz-$rel" "$CACHE/kernel/vmlinuz"
fi
ready
echo "lab/setup.sh: ready ($(qemu-system-x86_64 --version | head -1); kernel $(cat "$CACHE/kernel/release"))" >&2
