#!/bin/bash
# Builds test root filesystems locally, without any network, and caches them
# under build/rootfs/.
#
#   tests/lib/rootfs.sh [VARIANT] [dir|tar]   prints the path of the rootfs
#                                             directory or of its tarball
# or, sourced:  rootfs_dir VARIANT / rootfs_tar VARIANT  (print the path)
#
# Variants:
#   busybox  Debian's busybox-static as /bin/busybox plus a symlink for every
#            applet, /etc/passwd and /etc/group (root, daemon, nobody, ...),
#            /tmp (1777), empty /dev. No /proc or /sys: the runtime creates
#            their mount points, as with the upstream busybox image (runc's
#            mask tests replace them with symlinks, which must be refused).
#   debian   busybox plus Debian's static /sbin/ldconfig: enough for the runc
#            suite's hooks test ("ldconfig -p"), which otherwise wants a
#            downloaded Debian image.
#
# The cache key is the busybox package version plus this script's checksum, so
# a new busybox or an edit here rebuilds. Tarballs are reproducible (sorted,
# numeric root owner, fixed mtime) and their members start with "./", the
# shape runc's integration helpers extract with --exclude './dev/*'.

_rootfs_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_rootfs_cache=${ZANSHIN_ROOTFS_CACHE:-$_rootfs_top/build/rootfs}

_rootfs_key() {
	local v
	v=$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null) || v=none
	v=$(printf '%s' "$v" | tr -c 'A-Za-z0-9.\n' _)
	printf '%s-%s' "$v" "$(md5sum <"${BASH_SOURCE[0]}" | cut -c1-12)"
}

_rootfs_populate() { # DIR VARIANT
	local dir=$1 variant=$2 link target
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,dev,root,home,var/run,run,mnt,lib}
	install -d -m 1777 "$dir/tmp"
	chmod 0700 "$dir/root"
	install -m 0755 /bin/busybox "$dir/bin/busybox"
	# One symlink per applet, at the path busybox itself reports.
	while IFS= read -r link; do
		[ "$link" = bin/busybox ] && continue
		[ -e "$dir/$link" ] || [ -L "$dir/$link" ] && continue
		mkdir -p "$dir/$(dirname "$link")"
		ln -s /bin/busybox "$dir/$link"
	done < <(/bin/busybox --list-full)
	cat >"$dir/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		daemon:x:1:1:daemon:/usr/sbin:/bin/false
		bin:x:2:2:bin:/bin:/bin/false
		sys:x:3:3:sys:/dev:/bin/false
		operator:x:37:37:Operator:/var:/bin/false
		nobody:x:65534:65534:nobody:/home:/bin/false
	EOF
	cat >"$dir/etc/group" <<-'EOF'
		root:x:0:
		daemon:x:1:
		bin:x:2:
		sys:x:3:
		adm:x:4:
		tty:x:5:
		wheel:x:10:root
		users:x:100:
		nogroup:x:65534:
	EOF
	echo "127.0.0.1 localhost" >"$dir/etc/hosts"
	: >"$dir/etc/resolv.conf"
	echo zanshin-test >"$dir/etc/hostname"
	if [ "$variant" = debian ]; then
		target=$(readlink -f /sbin/ldconfig)
		rm -f "$dir/sbin/ldconfig"
		install -m 0755 "$target" "$dir/sbin/ldconfig"
		mkdir -p "$dir/etc/ld.so.conf.d"
		: >"$dir/etc/ld.so.conf"
	fi
}

# rootfs_dir VARIANT: prints the cached rootfs directory (builds it once).
rootfs_dir() {
	local variant=${1:-busybox} key final tmp
	case $variant in busybox | debian) ;; *)
		echo "rootfs.sh: unknown variant '$variant' (busybox|debian)" >&2
		return 1
		;;
	esac
	[ -x /bin/busybox ] || {
		echo "rootfs.sh: /bin/busybox missing (install busybox-static: make deps)" >&2
		return 1
	}
	key=$(_rootfs_key)
	final=$_rootfs_cache/$variant-$key
	if [ ! -d "$final" ]; then
		mkdir -p "$_rootfs_cache"
		tmp=$(mktemp -d "$_rootfs_cache/.tmp.XXXXXX") || return 1
		chmod 0755 "$tmp"
		if ! _rootfs_populate "$tmp" "$variant"; then
			rm -rf "$tmp"
			echo "rootfs.sh: building $variant rootfs failed" >&2
			return 1
		fi
		# Another builder may have won the race; either copy is identical.
		mv -T "$tmp" "$final" 2>/dev/null || rm -rf "$tmp"
	fi
	echo "$final"
}

# rootfs_tar VARIANT: prints the cached tarball of that rootfs.
rootfs_tar() {
	local variant=${1:-busybox} dir tarball tmp
	dir=$(rootfs_dir "$variant") || return 1
	tarball=$dir.tar
	if [ ! -f "$tarball" ]; then
		tmp=$(mktemp "$tarball.XXXXXX") || return 1
		if ! tar -C "$dir" --sort=name --numeric-owner --owner=0 --group=0 \
			--mtime=@0 -cf "$tmp" .; then
			rm -f "$tmp"
			echo "rootfs.sh: writing $tarball failed" >&2
			return 1
		fi
		chmod 0644 "$tmp"
		mv -f "$tmp" "$tarball"
	fi
	echo "$tarball"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	case ${2:-dir} in
	dir) rootfs_dir "${1:-busybox}" ;;
	tar) rootfs_tar "${1:-busybox}" ;;
	*)
		echo "usage: $0 [busybox|debian] [dir|tar]" >&2
		exit 2
		;;
	esac
fi
