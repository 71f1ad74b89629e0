#!/bin/sh
# Install every Debian package zanshin's build, tests and demo need.
# Source entries (deb-src) are derived from the machine's own apt sources:
# same URIs and keyring, Types: deb-src, suites sid and trixie. No host name
# is written into the repository.
set -eu

SRC_LIST=/etc/apt/sources.list.d/zanshin-src.sources
MAIN_LIST=/etc/apt/sources.list.d/debian.sources

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "deps: must run as root (apt-get install)" >&2
		exit 1
	fi
}

write_src_list() {
	[ -f "$MAIN_LIST" ] || { echo "deps: $MAIN_LIST missing; cannot derive deb-src entries" >&2; exit 1; }
	uri=$(awk '/^URIs:/ {print $2; exit}' "$MAIN_LIST")
	key=$(awk '/^Signed-By:/ {print $2; exit}' "$MAIN_LIST")
	[ -n "$uri" ] || { echo "deps: no URIs: line in $MAIN_LIST" >&2; exit 1; }
	tmp="$SRC_LIST.tmp"
	{
		echo "# written by zanshin scripts/deps.sh from $MAIN_LIST"
		echo "Types: deb-src"
		echo "URIs: $uri"
		echo "Suites: sid trixie bookworm"
		echo "Components: main"
		[ -n "$key" ] && echo "Signed-By: $key"
	} > "$tmp"
	mv "$tmp" "$SRC_LIST"
}

PKGS="build-essential pkg-config git ca-certificates dpkg-dev
 libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf
 libnl-3-dev libnl-route-3-dev libnet1-dev libcap-dev libbsd-dev libgnutls28-dev libnftables-dev
 uuid-dev libaio-dev libdrm-dev
 libyajl-dev libseccomp-dev libsystemd-dev
 iptables iproute2 busybox-static bats jq gawk python3-yaml python3-pip
 runc crun containerd podman skopeo
 psmisc procps util-linux strace kmod file e2fsprogs hyperfine go-md2man man-db bash-completion
 stress socat gnuplot-nox conntrack clang libclang-rt-14-dev
 gnutls-bin linux-perf libzstd-dev libmicrohttpd-dev libcurl4-gnutls-dev libsqlite3-dev libpq-dev postgresql
 libical-dev chromium"

need_root
write_src_list
stamp=/var/lib/apt/zanshin-deps.stamp
if [ "${ZANSHIN_DEPS_FORCE:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(echo $PKGS | md5sum)" ] &&
	dpkg -s $PKGS >/dev/null 2>&1; then
	echo "deps: all packages present"
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $PKGS
echo $PKGS | md5sum > "$stamp"
echo "deps: installed"
