#!/bin/sh
# Build build/zanshin_<version>_<arch>.deb from the built tree with Debian's
# own tools (dpkg-shlibdeps for the dependencies, dpkg-deb for the archive):
#   make deb          (builds first: zanshin, our CRIU, man pages)
# Layout and the reasons for it: docs/packaging.md.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
ver=$("$B/bin/zanshin" --version | awk 'NR == 1 {print $3}')
arch=$(dpkg --print-architecture)
[ -n "$ver" ] || { echo "mkdeb: cannot read the version of $B/bin/zanshin" >&2; exit 1; }
S=$B/deb/zanshin_${ver}_$arch
out=$B/zanshin_${ver}_$arch.deb
rm -rf "$S"
mkdir -p "$S/DEBIAN"

inst() { # MODE SRC DEST (DEST relative to the staged root)
	install -D -m "$1" "$2" "$S/$3"
}
inst 0755 "$B/bin/zanshin" usr/sbin/zanshin
inst 0755 "$B/bin/criu" usr/libexec/zanshin/criu
# the cluster: the node agent and the coordinator (scripts/mkdeb-cluster.sh)
. "$top/scripts/mkdeb-cluster.sh"
strip --strip-unneeded "$S/usr/sbin/zanshin" "$S/usr/libexec/zanshin/criu" "$S/usr/sbin/zanshind" \
	"$S/usr/sbin/zanshin-api"
# libcriu: private to zanshin (zanshin links it statically; kept for tools
# built against our CRIU), never on the linker's path
mkdir -p "$S/usr/lib/zanshin"
cp -a "$B"/lib/libcriu.so* "$S/usr/lib/zanshin/"
for m in "$B"/man/*.[0-9]; do
	sec=${m##*.}
	inst 0644 "$m" "usr/share/man/man$sec/$(basename "$m")"
	gzip -9n "$S/usr/share/man/man$sec/$(basename "$m")"
done
"$top/scripts/gen-completion.sh" "$B/bin/zanshin" >"$B/deb/zanshin.bash"
inst 0644 "$B/deb/zanshin.bash" usr/share/bash-completion/completions/zanshin
inst 0644 "$top/packaging/etc/zanshin.json" etc/zanshin/zanshin.json
inst 0644 "$top/packaging/tmpfiles/zanshin.conf" usr/lib/tmpfiles.d/zanshin.conf
inst 0644 "$top/packaging/podman/zanshin.conf" etc/containers/containers.conf.d/zanshin.conf
inst 0644 "$top/packaging/containerd/zanshin.toml" etc/containerd/conf.d/zanshin.toml
doc=usr/share/doc/zanshin
inst 0644 "$top/packaging/containerd/handler.toml" "$doc/examples/containerd-zanshin.toml"
inst 0644 "$top/packaging/podman/zanshin.conf" "$doc/examples/podman-zanshin.conf"
for f in README.md docs/kubernetes.md docs/packaging.md docs/checkpoint-restore.md; do
	[ -f "$top/$f" ] && inst 0644 "$top/$f" "$doc/$(basename "$f")"
done
{
	echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
	echo "Upstream-Name: zanshin"
	echo
	echo "Files: *"
	echo "License: see below (LICENSE of the source tree); CRIU is GPL-2.0 (/usr/share/common-licenses/GPL-2)"
	echo
	cat "$top/LICENSE"
} >"$B/deb/copyright"
inst 0644 "$B/deb/copyright" "$doc/copyright"

# dependencies of the two binaries, as Debian computes them
mkdir -p "$B/deb/shlibs/debian"
printf 'Source: zanshin\n\nPackage: zanshin\nArchitecture: any\n' >"$B/deb/shlibs/debian/control"
deps=$(cd "$B/deb/shlibs" && dpkg-shlibdeps -O "$S/usr/sbin/zanshin" "$S/usr/libexec/zanshin/criu" \
	"$S/usr/sbin/zanshind" "$S/usr/sbin/zanshin-api" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$deps" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$S" | cut -f1)
sed -e "s/@VERSION@/$ver/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$deps/" \
	"$top/packaging/deb/control.in" >"$S/DEBIAN/control"
for f in postinst prerm postrm; do install -m 0755 "$top/packaging/deb/$f" "$S/DEBIAN/$f"; done
(cd "$S" && find etc -type f | sed 's#^#/#' | sort) >"$S/DEBIAN/conffiles"
(cd "$S" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$S/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$S" "$out" >/dev/null
echo "$out"
