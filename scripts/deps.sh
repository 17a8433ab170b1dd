#!/bin/sh
# Installs the Debian packages lobo builds and tests with. Idempotent and quiet
# when everything is present, because `make` runs it every time.
set -eu
PKGS="meson ninja-build pkg-config gcc libcmocka-dev libpcap-dev libmnl-dev tcpdump tshark libxdp-dev
      libbpf-dev xdp-tools python3-scapy iproute2 iputils-ping ethtool gnuplot-nox cloc dpdk-dev clang xxd
      libdpdk-dev luajit python3-venv"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "lobo: missing packages:$missing: run 'sudo $0' to install them" >&2
	exit 1
fi
echo "lobo: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing </dev/null >/dev/null
