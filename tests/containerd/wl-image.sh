# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# The busybox OCI image of tests/lib/oci-image.sh plus our memory workload,
# for the containerd and Podman checkpoint tests:
#
#   . tests/containerd/wl-image.sh
#   wl_image_tar SCRATCH     builds SCRATCH/wl-image.oci.tar, prints its path
#   WL_IMAGE_REF             its name, localhost/zanshin-wl:latest
#
# The rootfs is the busybox one with /bin/zs-workload (built static from
# tests/workload/ with the same flags as mk/workload.mk, so it needs no
# library inside the container) and an empty /wl, the workload's command
# directory. Built in the caller's scratch directory on each run (a static
# build takes about a second); nothing goes to build/.
#
# In the container the workload is driven through exec (wl_ctr_cmd in the
# tests): the command file protocol of tests/workload/main.c, with SIGUSR1
# sent from inside the container's pid namespace.

_wl_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/oci-image.sh
. "$_wl_top/tests/lib/oci-image.sh"
WL_IMAGE_REF=${WL_IMAGE_REF:-localhost/zanshin-wl:latest}

# The container's init: the workload fills its memory and daemonizes (a new
# session, reparented to init); init then sleeps. No stdio of the container
# stays open in any process (CRIU would have to restore the shim's FIFOs).
# shellcheck disable=SC2016,SC2034 # expanded in the container; used by the sourcing tests
WL_INIT='zs-workload -d /wl -m "$0" </dev/null >/wl/.start 2>&1; exec sleep 100000000 </dev/null >/dev/null 2>&1'

wl_image_tar() {
	local s=$1 rtar out
	rtar=$(rootfs_tar busybox) || return 1
	mkdir -p "$s/wl-image/add/bin" "$s/wl-image/add/wl" || return 1
	${CC:-cc} -static -O2 -g -Wall -Wextra -Werror -pthread -o "$s/wl-image/add/bin/zs-workload" \
		"$_wl_top"/tests/workload/*.c >"$s/wl-image/cc.log" 2>&1 ||
		{ cat "$s/wl-image/cc.log" >&2; echo "wl-image.sh: static build of zs-workload failed" >&2; return 1; }
	cp "$rtar" "$s/wl-image/rootfs.tar" &&
		tar -C "$s/wl-image/add" --numeric-owner --owner=0 --group=0 --mtime=@0 \
			-rf "$s/wl-image/rootfs.tar" ./bin/zs-workload ./wl || return 1
	out=$s/wl-image/layout
	rm -rf "$out"
	OCI_IMAGE_REF=$WL_IMAGE_REF _oci_build "$s/wl-image/rootfs.tar" "$out" || return 1
	tar -C "$out" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 \
		-cf "$s/wl-image.oci.tar" oci-layout index.json blobs || return 1
	echo "$s/wl-image.oci.tar"
}
