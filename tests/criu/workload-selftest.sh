#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# zs-workload checks itself, without CRIU: every command works, layout
# changes keep verify exact, and verify does catch a damaged page and a
# lost write (so a PASS after restore means something).
. "$(dirname "$0")/lib.sh"
zs_setup wl-selftest
W=$ZS_T/wl

if ! wl_start "$W" 32 2 2; then
	t_fail "start a 3-process, 2-thread workload" "$(cat "$W/.start")"
	t_done
	exit 1
fi
t_ok "start a 3-process, 2-thread workload (pid $(wl_pid "$W"))"
procs=$(pgrep -s "$(wl_pid "$W")" | wc -l)
threads=$(ps -o nlwp= -s "$(wl_pid "$W")" | awk '{s += $1} END {print s}')
t_range "tree has 3 processes" "$procs" 3 3
t_range "tree has 9 threads (3 each)" "$threads" 9 9
t_verify "fresh" "$W"
d0=$WL_DIGEST
out=$(wl_cmd "$W" write 100) && grep -c "wrote 100 pages" <<<"$out" | grep -qx 3 &&
	t_ok "write 100 pages in each process" || t_fail "write 100 pages in each process" "$out"
t_verify "after write" "$W"
[ "$WL_DIGEST" != "$d0" ] && t_ok "digest follows the writes" || t_fail "digest follows the writes" "unchanged $d0"
for op in fork mremap munmap dontneed "mmap-new 4" "brk 2" "write 500"; do
	out=$(wl_cmd "$W" $op) && t_ok "$op" || t_fail "$op" "$out"
	t_verify "after $op" "$W"
done
t_range "fork added a process" "$(pgrep -s "$(wl_pid "$W")" | wc -l)" 4 4
out=$(wl_cmd "$W" write 999999)
[ $? != 0 ] && grep -q "ERR" <<<"$out" && t_ok "write of more pages than exist is an error" ||
	t_fail "write of more pages than exist is an error" "$out"

out=$(wl_cmd "$W" corrupt)
out=$(wl_cmd "$W" verify)
[ $? != 0 ] && grep -q "FAIL" <<<"$out" && grep -q "body corrupt" <<<"$out" &&
	t_ok "verify catches a corrupted byte" || t_fail "verify catches a corrupted byte" "$out"

wl_stop "$W"
wl_start "$W" 32 1 1 >/dev/null
out=$(wl_cmd "$W" stale)
out=$(wl_cmd "$W" verify)
[ $? != 0 ] && grep -q "stale content" <<<"$out" &&
	t_ok "verify catches a lost write (stale page)" || t_fail "verify catches a lost write (stale page)" "$out"
pid=$(wl_pid "$W")
out=$(wl_cmd "$W" exit) && wl_wait_gone "$pid" && [ -z "$(pgrep -s "$pid")" ] &&
	t_ok "exit ends the whole tree" || t_fail "exit ends the whole tree" "$out; left: $(pgrep -s "$pid")"
t_done
