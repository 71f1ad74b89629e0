#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Baseline, no tracking: dump -> restore -> verify every page, then dump the
# restored tree again -> restore -> verify. Runs with our CRIU and, when it
# is built (make criu-stock), with stock CRIU 4.2.1 from the same tarball.
. "$(dirname "$0")/lib.sh"
zs_setup baseline

# run LABEL CRIU-BINARY
run() {
	local label=$1 W=$ZS_T/$1/wl I=$ZS_T/$1 pid d d1 full
	export ZS_CRIU=$2
	if ! wl_start "$W" 64 1 2; then
		t_fail "$label: start workload" "$(cat "$W/.start")"
		return
	fi
	pid=$(wl_pid "$W")
	wl_write "$W" 100
	t_verify "$label: before dump" "$W" || return
	d=$WL_DIGEST d1=$WL_DIGEST
	t_dump "$label full" "$I/img1" "$pid" || return
	full=$(img_pages "$I/img1")
	# two processes of 64 MiB each: every page must be in the image
	t_range "$label: full image holds every page" "$full" $((2 * 16384)) $((2 * 16384 + 1024))
	t_restore "$label full" "$I/img1" || return
	t_verify "$label: after restore" "$W" "$d" || return
	wl_write "$W" 300
	t_verify "$label: restored tree writes" "$W" || return
	d=$WL_DIGEST
	t_dump "$label second" "$I/img2" "$pid" || return
	t_range "$label: second dump of a restored tree is full" "$(img_pages "$I/img2")" $((2 * 16384)) $((2 * 16384 + 1024))
	t_restore "$label second" "$I/img2" || return
	t_verify "$label: after second restore" "$W" "$d" || return
	wl_stop "$W"
	# the first image is still good
	t_restore "$label first again" "$I/img1" || return
	t_verify "$label: first image again" "$W" "$d1"
	wl_stop "$W"
}

run patched "$CRIU"
if [ -x "$STOCK_CRIU" ]; then
	run stock "$STOCK_CRIU"
else
	t_skip "stock CRIU baseline" "stock CRIU not built ($STOCK_CRIU; make criu-stock)"
fi
t_done
