#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# zanshind --lazy-restore (issue 15 with issue 13; docs/agent.md "Lazy
# restore on the target"): the target of a move restores from its store
# with `zanshin restore --lazy`, so the container runs before its memory
# is resident; tracking is kept, so the next move is a diff. Two nodes
# (tests/agent/lib.sh): A eager, B --lazy-restore.
#   1. A→B, a full image: B restores lazily (a fault server serves B's
#      store generation), every page verifies during the prefetch;
#   2. B→A after writes on B: a diff (B's lazily restored container is
#      tracked), memory verified on A;
#   3. A→B again, a repeat move: a diff, restored lazily from B's chain;
#      every page verifies right after the restore and after the prefetch;
#   4. B→A once more: a diff of about the pages written.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/lib.sh"
MIB=64
CR_MIB=$MIB
K=256 # pages written between moves
cr_setup agent-lazy-target
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
ag_node A 1
ag_node B 2
ag_start A B || ag_die "agent A"
ag_start B A -- --lazy-restore || ag_die "agent B"
t_ok "two agents run, B with --lazy-restore"

t_run A
t_wl_verify "start on A" A || { t_done; exit; }

move() {
	local from=$1 to=$2 src
	shift 2
	src=$(wl_dir "$from")
	STATS=$(zm "$from" migrate "$CR_CID" --to "$to" --print-stats "$@" 2>"$CR_T/migrate.err")
	local rc=$?
	[ $rc -eq 0 ] && wl_follow "$src" "$to"
	return $rc
}
stat_of() { jq -r ".$1" <<<"$STATS"; }

# lazy_servers NODE: the criu lazy-pages processes serving NODE's store.
lazy_servers() { criu_with "lazy-pages --images-dir $CR_T/$1/store/"; }

# step NAME FROM TO: the move; the container runs on TO only, same memory
step() {
	local h=$1 from=$2 to=$3 d
	t_wl_verify "$h: before" "$from" || return 1
	d=$WL_DIGEST
	if ! move "$from" "$to"; then
		t_fail "$h: migrate" "$(cat "$CR_T/migrate.err")" "$STATS"
		return 1
	fi
	t_ok "$h: migrate ($(stat_of downtime_s) s downtime, diff $(stat_of diff), $(stat_of bytes_pages) bytes of pages)"
	t_diag "$STATS"
	[ "$(cr_status "$to")" = running ] && [ -z "$(cr_status "$from")" ] && t_ok "$h: runs on $to only" ||
		t_fail "$h: runs on $to only" "$to: $(cr_status "$to"), $from: $(cr_status "$from")"
	if [ "$to" = B ]; then
		srv=$(lazy_servers B | head -n1)
		[ -n "$srv" ] && t_ok "$h: restored lazily on B (fault server $srv)" ||
			t_fail "$h: restored lazily on B" "no criu lazy-pages serves B's store"
	fi
	t_wl_verify "$h: after" "$to" "$d"
}

# wait_filled: B's container has every page in (CRIU's .lazy-filled mark).
wait_filled() {
	local p ns st i
	ns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
	for ((i = 0; i < 600; i++)); do
		p=$(wl_host_pid B) && st=$(awk '{print $22}' "/proc/$p/stat") &&
			[ -e "/run/criu/track/$ns-$p-$st.lazy-filled" ] && return 0
		sleep 0.1
	done
	return 1
}

step "1 A→B" A B || { t_done; exit; }
[ "$(stat_of diff)" = false ] && t_ok "1: a full image (B held nothing)" || t_fail "1: a full image" "$STATS"
wait_filled && t_ok "1: B's prefetch ends" || t_fail "1: B's prefetch ends" "no .lazy-filled mark"

t_wl_write "2" B $K
step "2 B→A" B A || { t_done; exit; }
[ "$(stat_of diff)" = true ] && t_ok "2: a diff (the lazily restored container was tracked)" ||
	t_fail "2: a diff" "$STATS"
t_range "2: pages sent: about the $K written" "$(stat_of bytes_pages)" $((K * PAGE)) $((K * PAGE * 3 + 1048576))
[ -z "$(lazy_servers B)" ] && t_ok "2: B's fault server exited with the container" ||
	t_fail "2: B's fault server exited with the container" "$(lazy_servers B)"

t_wl_write "3" A $K
step "3 A→B (repeat move)" A B || { t_done; exit; }
[ "$(stat_of diff)" = true ] && t_ok "3: a diff, restored lazily from B's chain" || t_fail "3: a diff" "$STATS"
t_diag "3: downtime of the repeat move with lazy restore on the target: $(stat_of downtime_s) s"
wait_filled && t_ok "3: B's prefetch ends" || t_fail "3: B's prefetch ends" "no .lazy-filled mark"
t_wl_verify "3: after the prefetch" B

t_wl_write "4" B $K
step "4 B→A" B A || { t_done; exit; }
[ "$(stat_of diff)" = true ] && t_ok "4: a diff" || t_fail "4: a diff" "$STATS"
t_range "4: pages sent: about the $K written" "$(stat_of bytes_pages)" $((K * PAGE)) $((K * PAGE * 3 + 1048576))
z A remnant verify "$CR_CID" >/dev/null 2>&1 && t_ok "A's store verifies" ||
	t_fail "A's store verifies" "$(z A remnant verify "$CR_CID" 2>&1 | tail -n 3)"
z B remnant verify "$CR_CID" >/dev/null 2>&1 && t_ok "B's store verifies" ||
	t_fail "B's store verifies" "$(z B remnant verify "$CR_CID" 2>&1 | tail -n 3)"
t_done
