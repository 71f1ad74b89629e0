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
# In the container the workload is driven through exec (wl_in, wl_verify_in
# below; the test defines wl_exec C ARGS... and WL_SEQ_DIR): the command file
# protocol of tests/workload/main.c, with SIGUSR1 sent from inside the
# container's pid namespace.

_wl_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/oci-image.sh
. "$_wl_top/tests/lib/oci-image.sh"
WL_IMAGE_REF=${WL_IMAGE_REF:-localhost/zanshin-wl:latest}

# The container's init: the workload fills its memory and daemonizes (a new
# session, reparented to init); init then sleeps. No stdio of the container
# stays open in any process (CRIU would have to restore the shim's FIFOs).
# shellcheck disable=SC2016,SC2034 # expanded in the container; used by the sourcing tests
# Arguments (sh -c "$WL_INIT" MIB CHILDREN THREADS): MiB per process, child
# processes, worker threads per process.
WL_INIT='zs-workload -d /wl -m "$0" -p "$1" -t "$2" </dev/null >/wl/.start 2>&1; exec sleep 100000000 </dev/null >/dev/null 2>&1'

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

# wl_in C OP [ARG]: one workload command run inside container C; prints the
# result; 0 on OK/PASS. The sequence number lives in $WL_SEQ_DIR/seq.C.
wl_in() {
	local c=$1 seq out rc
	shift
	seq=$(($(cat "$WL_SEQ_DIR/seq.$c" 2>/dev/null || echo 0) + 1))
	echo "$seq" >"$WL_SEQ_DIR/seq.$c"
	# shellcheck disable=SC2016 # expanded by the container's shell
	out=$(wl_exec "$c" sh -c '
		echo "$1 $2" >/wl/cmd.new && mv -f /wl/cmd.new /wl/cmd || exit 2
		kill -USR1 "$(cat /wl/pid)" || { echo "workload $(cat /wl/pid) is not running"; exit 2; }
		i=0
		while [ "$(cat /wl/ack 2>/dev/null)" != "$1" ]; do
			i=$((i + 1))
			[ $i -gt 3000 ] && { echo "no answer to $2"; exit 3; }
			kill -0 "$(cat /wl/pid)" 2>/dev/null || { echo "workload died during $2"; exit 3; }
			sleep 0.1
		done
		cat /wl/result' sh "$seq" "$*" 2>&1)
	rc=$?
	echo "$out"
	[ $rc = 0 ] && head -n1 <<<"$out" | grep -qE "^$seq (OK|PASS) "
}

# wl_verify_in C [DIGEST]: sets VOUT ("PASS procs=N digest=D" or the
# failure) and WL_DIGEST; 0 if every page checks (and the digest is DIGEST,
# if given). Not for $(...): it sets variables.
wl_verify_in() {
	local out
	WL_DIGEST=
	out=$(wl_in "$1" verify) || { VOUT=$(echo "$out" | head -n 30); return 1; }
	WL_DIGEST=$(head -n1 <<<"$out" | sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p')
	if [ -n "${2:-}" ] && [ "$WL_DIGEST" != "$2" ]; then
		VOUT="pages are self-consistent, but digest $WL_DIGEST is not the checkpointed state's $2"
		return 1
	fi
	VOUT=$(head -n1 <<<"$out" | cut -d' ' -f2-)
}

# wl_wait_started C: waits for the workload of C to fill its memory; sets
# VOUT to what it printed (its pid in the container); 0 once it has.
wl_wait_started() {
	local _
	for _ in $(seq 600); do
		VOUT=$(wl_exec "$1" cat /wl/.start 2>/dev/null)
		[ -n "$VOUT" ] && break
		sleep 0.2
	done
	[[ $VOUT =~ ^[0-9]+$ ]]
}

# wl_store_gens ZANSHIN STORE ID: the store's generations of container ID
# (a JSON array, oldest first).
# What the runtime printed goes to WL_SEQ_DIR/store.json and store.err (its
# exit status appended), for diagnostics.
wl_store_gens() {
	"$1" --remnant-root "$2" remnant list --format json >"$WL_SEQ_DIR/store.json" 2>"$WL_SEQ_DIR/store.err"
	echo "(exit status $?)" >>"$WL_SEQ_DIR/store.err"
	jq -c --arg c "$3" '[.. | objects | select(.container? == $c and .name? != null)]
		| sort_by(.name)' "$WL_SEQ_DIR/store.json" 2>>"$WL_SEQ_DIR/store.err"
}
