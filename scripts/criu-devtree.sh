#!/bin/sh
# Working on the CRIU patches: a git tree with one commit per patch.
#
#   scripts/criu-devtree.sh            build/dev/criu-4.2.1: pristine tarball
#                                      committed as "base", then criu-patches/
#                                      series applied with `git am`
#   scripts/criu-devtree.sh export     write the commits after "base" back to
#                                      criu-patches/ (renumbered 0001.. in commit
#                                      order, series rewritten) and rebuild
#                                      build/bin/criu; EXPORT_DIR=dir writes
#                                      elsewhere
#
# Edit with ordinary git (commit --fixup + rebase --autosquash keeps one
# logical change per patch), then export. Never commit build/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dev=$top/build/dev/criu-4.2.1
tarball=$top/build/src/criu_4.2.1.orig.tar.xz

case "${1:-create}" in
create)
	[ -f "$tarball" ] || "$top/scripts/criu-build.sh" fetch
	[ ! -e "$dev" ] || { echo "criu-devtree: $dev exists; remove it first" >&2; exit 1; }
	mkdir -p "$dev"
	tar -xJf "$tarball" -C "$dev" --strip-components=1
	cd "$dev"
	git init -q
	git -c user.name=zanshin -c user.email=zanshin@localhost add -A
	git -c user.name=zanshin -c user.email=zanshin@localhost commit -qm base
	git tag base
	grep -v '^\s*#' "$top/criu-patches/series" | while read -r p; do
		[ -n "$p" ] || continue
		git -c user.name=zanshin -c user.email=zanshin@localhost am -q --keep-cr "$top/criu-patches/$p"
	done
	echo "criu-devtree: $dev ready ($(git rev-list --count base..HEAD) patches on top of base)"
	;;
export)
	out=${EXPORT_DIR:-$top/criu-patches}
	cd "$dev"
	mkdir -p "$out"
	rm -f "$out"/[0-9][0-9][0-9][0-9]-*.patch
	git format-patch -q base..HEAD --no-signature --zero-commit -o "$out"
	{
		echo "# zanshin patch series on CRIU 4.2.1, applied in order by scripts/criu-build.sh"
		(cd "$out" && ls [0-9][0-9][0-9][0-9]-*.patch)
	} >"$out/series"
	echo "criu-devtree: $(grep -vc '^#' "$out/series") patches exported to $out"
	if [ "$out" = "$top/criu-patches" ]; then "$top/scripts/criu-build.sh" patched | tail -n1; fi
	;;
*)
	echo "usage: scripts/criu-devtree.sh [create|export]" >&2
	exit 2
	;;
esac
