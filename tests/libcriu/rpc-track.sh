#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Memory tracking through libcriu's RPC (criu swrk), the path the runtime
# uses: feature check, restore with criu_set_track_mem(), then a diff dump
# with criu_set_parent_images() — memory content checked after restore.
. "$(dirname "$0")/../criu/lib.sh"
RPC=$ZS_TOP/build/bin/zs-criu-rpc
MIB=64 K=256
zs_setup libcriu-rpc
[ -x "$RPC" ] || zs_die "$RPC missing: run make"

W=$ZS_T/wl
t_check "libcriu feature check reports mem_track" "$RPC" "$CRIU" check-track

wl_start "$W" $MIB 1 1 || zs_die "workload did not start"
pid=$(wl_pid "$W")
mkdir -p "$ZS_T/base" "$ZS_T/diff"
if "$RPC" "$CRIU" dump "$pid" "$ZS_T/base" >"$ZS_T/out" 2>&1; then
	t_ok "rpc: full dump"
else
	t_fail "rpc: full dump" "$(cat "$ZS_T/out")" "$(tail -5 "$ZS_T/base/rpc.log")"
fi
for p in $(pgrep -s "$pid"); do wl_wait_gone "$p"; done
wl_wait_gone "$pid"

before=" $(pgrep -x criu-keeper | tr '\n' ' ') "
if (cd "$W" && "$RPC" "$CRIU" restore "$ZS_T/base" --track-mem) >"$ZS_T/out" 2>&1; then
	t_ok "rpc: restore with criu_set_track_mem()"
else
	t_fail "rpc: restore with criu_set_track_mem()" "$(cat "$ZS_T/out")" "$(grep -m5 Error "$ZS_T/base/rpc.log")"
fi
for p in $(pgrep -x criu-keeper); do [[ $before == *" $p "* ]] || new_keepers="$new_keepers$p "; done
if [ -n "${new_keepers:-}" ]; then t_ok "rpc restore left a keeper"; else t_fail "rpc restore left a keeper" "none found"; fi

t_verify "rpc: restored tree verifies" "$W"
wl_write "$W" $K
wl_verify "$W" >/dev/null
digest=$WL_DIGEST

if "$RPC" "$CRIU" dump "$pid" "$ZS_T/diff" --parent ../base --track-mem >"$ZS_T/out" 2>&1; then
	t_ok "rpc: diff dump against the restored image"
else
	t_fail "rpc: diff dump against the restored image" "$(cat "$ZS_T/out")" "$(grep -m5 Error "$ZS_T/diff/rpc.log")"
fi
for p in $(pgrep -s "$pid"); do wl_wait_gone "$p"; done
wl_wait_gone "$pid"
# Two processes, each wrote K pages; allow the same slack as the CLI tests.
t_range "rpc: the diff holds the written pages only" "$(img_pages "$ZS_T/diff")" $((2 * K)) $((2 * (K + 256)))

if (cd "$W" && "$RPC" "$CRIU" restore "$ZS_T/diff") >"$ZS_T/out" 2>&1; then
	t_ok "rpc: restore diff + parent"
else
	t_fail "rpc: restore diff + parent" "$(cat "$ZS_T/out")" "$(grep -m5 Error "$ZS_T/diff/rpc.log")"
fi
t_verify "rpc: diff + parent restored: verify every page" "$W" "$digest"
wl_stop "$W"
t_done
