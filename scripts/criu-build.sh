#!/bin/sh
# Fetch (Debian source package), verify, extract, patch and build CRIU.
#
#   scripts/criu-build.sh patched   -> build/criu-4.2.1 + build/{bin,lib,include/criu}
#   scripts/criu-build.sh stock     -> build/stock/criu-4.2.1 + build/stock/bin/criu
#
# The tree is re-extracted from the verified tarball whenever the patch
# series (or any patch in it) changes; nothing of CRIU's source is kept
# outside build/.
set -eu

CRIU_VERSION=4.2.1
CRIU_DEB_VERSION=4.2.1-1
CRIU_SHA256=29ec0ee09e296479fe7048c80980e8ef1d0684d0b0204c2b101dfea19f6725b9

top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-patched}
build=$top/build
src=$build/src
tarball=$src/criu_$CRIU_VERSION.orig.tar.xz
jobs=${JOBS:-$(nproc)}

die() { echo "criu-build: $*" >&2; exit 1; }

get_source() { (cd "$src" && apt-get source -q --download-only --tar-only "criu=$CRIU_DEB_VERSION"); }

fetch() {
	mkdir -p "$src"
	if [ ! -f "$tarball" ]; then
		echo "criu-build: fetching Debian source criu=$CRIU_DEB_VERSION (orig tarball only)"
		grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ ||
			die "no deb-src entries enabled; run 'make deps' (scripts/deps.sh) first"
		# once more after refreshing the lists: a stale or half-written
		# list (or a transient failure) should not fail the build
		if ! get_source; then
			echo "criu-build: apt-get source failed; apt-get update, then once more" >&2
			apt-get update -q >&2 || true
			get_source ||
				die "apt-get source criu=$CRIU_DEB_VERSION failed (deb-src entries: /etc/apt/sources.list.d/zanshin-src.sources; memory: $(free -m | awk '/^Mem:/ {print $7}') MiB available)"
		fi
	fi
	sum=$(sha256sum "$tarball" | cut -d' ' -f1)
	if [ "$sum" != "$CRIU_SHA256" ]; then
		mv -f "$tarball" "$tarball.bad"
		die "$tarball: SHA-256 $sum does not match pinned $CRIU_SHA256; moved aside as .bad"
	fi
}

# Fingerprint of everything that shapes the patched tree.
series_sum() {
	if [ "$flavour" = stock ]; then
		echo "stock $CRIU_SHA256"
		return
	fi
	{
		echo "$CRIU_SHA256"
		cat "$top/criu-patches/series"
		grep -v '^\s*#' "$top/criu-patches/series" | while read -r p; do
			[ -n "$p" ] && cat "$top/criu-patches/$p"
		done
	} | sha256sum | cut -d' ' -f1
}

extract_and_patch() {
	dir=$1
	sum=$(series_sum)
	if [ -f "$dir/.zanshin-series" ] && [ "$(cat "$dir/.zanshin-series")" = "$sum" ]; then
		return 0
	fi
	echo "criu-build: extracting verified tarball into $dir"
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	tar -xJf "$tarball" -C "$dir.tmp" --strip-components=1
	if [ "$flavour" = patched ]; then
		grep -v '^\s*#' "$top/criu-patches/series" | while read -r p; do
			[ -n "$p" ] || continue
			[ -f "$top/criu-patches/$p" ] || die "criu-patches/series names $p, which does not exist"
			if ! patch -d "$dir.tmp" -p1 --batch --forward --quiet <"$top/criu-patches/$p"; then
				die "patch criu-patches/$p does not apply to CRIU $CRIU_VERSION"
			fi
			echo "criu-build: applied $p"
		done
	fi
	echo "$sum" >"$dir.tmp/.zanshin-series"
	mv "$dir.tmp" "$dir"
}

build() {
	dir=$1
	# CRIU's Makefile cannot cope with a parallel make from our make's jobserver.
	env -u MAKEFLAGS -u MFLAGS make -C "$dir" -j"$jobs" criu lib >"$dir.build.log" 2>&1 ||
		{ tail -40 "$dir.build.log" >&2; die "building CRIU in $dir failed (log: $dir.build.log)"; }
}

install_outputs() {
	dir=$1 out=$2
	mkdir -p "$out/bin" "$out/lib" "$out/include/criu"
	install -m 0755 "$dir/criu/criu" "$out/bin/criu.tmp" && mv -f "$out/bin/criu.tmp" "$out/bin/criu"
	[ "$flavour" = patched ] || return 0
	# Replace, never overwrite in place: running programs map libcriu.so.
	cp -a "$dir/lib/c/libcriu.so" "$out/lib/libcriu.so.2.0.tmp"
	mv -f "$out/lib/libcriu.so.2.0.tmp" "$out/lib/libcriu.so.2.0"
	cp -a "$dir/lib/c/libcriu.a" "$out/lib/libcriu.a.tmp"
	mv -f "$out/lib/libcriu.a.tmp" "$out/lib/libcriu.a"
	ln -sf libcriu.so.2.0 "$out/lib/libcriu.so.2"
	ln -sf libcriu.so.2 "$out/lib/libcriu.so"
	cp "$dir/lib/c/criu.h" "$dir/images/rpc.pb-c.h" "$dir/images/rpc.proto" "$out/include/criu/"
	cp "$dir/criu/include/version.h" "$out/include/criu/version.h" 2>/dev/null || true
}

# One build at a time: concurrent runs would extract over each other.
mkdir -p "$build"
exec 9>"$build/.criu-build.lock"
flock 9

fetch
case "$flavour" in
patched)
	extract_and_patch "$build/criu-$CRIU_VERSION"
	build "$build/criu-$CRIU_VERSION"
	install_outputs "$build/criu-$CRIU_VERSION" "$build"
	;;
stock)
	mkdir -p "$build/stock"
	extract_and_patch "$build/stock/criu-$CRIU_VERSION"
	build "$build/stock/criu-$CRIU_VERSION"
	install_outputs "$build/stock/criu-$CRIU_VERSION" "$build/stock"
	;;
fetch) ;;
*) die "unknown flavour '$flavour' (patched|stock|fetch)" ;;
esac
echo "criu-build: $flavour CRIU ready"
