#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Lazy restore's correctness windows (issue 15; docs/lazy-restore.md,
# "Who holds the userfaultfd"): a lazily restored container never reads a
# zero page in place of its memory, whatever dies when.
#
#   1. the fault server AND the keeper SIGKILLed together at a random point
#      of the prefetch, many times (multi-process workload verifying every
#      page meanwhile): no page is ever wrong; each process either got all
#      it touched, is blocked on its next unfilled page (handle_userfault,
#      until killed) or was killed; `zanshin delete -f` removes it.
#   2. fork-heavy during the prefetch: children forked while most pages are
#      unfilled; every page of the parent and of every child verifies,
#      during and after the prefetch.
#   3. children forked during the prefetch, then server and keeper killed
#      together: no child and no parent ever reads a wrong page.
#
# The server runs in a cpu cgroup at 0.4 % of a CPU (2 ms per 500 ms) so that its prefetch
# takes many seconds and most pages are still unfilled when something
# happens; unslow_server moves it out when a verify must finish.
# LAZY_KILLS=N sets the rounds of section 1 (default 8).
. "$(dirname "$0")/lib.sh"
CR_MIB=${LAZY_MIB:-64}
KILLS=${LAZY_KILLS:-8}
cr_setup lazy-faults

# keeper_of PID: the tracking keeper that holds a pidfd of PID.
keeper_of() {
	local k
	for k in $(pgrep -x criu-keeper); do
		grep -qsx "Pid:[[:space:]]*$1" /proc/"$k"/fdinfo/* 2>/dev/null && { echo "$k"; return 0; }
	done
	return 1
}

# wl_pids NODE: host pids of every zs-workload process of the node's container.
wl_pids() {
	local init ns p
	init=$(z "$1" state "$CR_CID" 2>/dev/null | jq -r .pid)
	[ -n "$init" ] && [ "$init" != null ] || return 1
	ns=$(readlink "/proc/$init/ns/pid") || return 1
	for p in $(pgrep -x zs-workload); do
		[ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] && echo "$p"
	done
}

# blocked PIDS...: one of them waits on a missing page (handle_userfault)
# now and a second later: nobody serves it, and nothing read zeroes.
blocked() {
	local p n=0
	for p in "$@"; do grep -qs handle_userfault "/proc/$p/wchan" && n=$((n + 1)); done
	((n > 0)) || return 1
	sleep 1
	for p in "$@"; do grep -qs handle_userfault "/proc/$p/wchan" && return 0; done
	return 1
}

# quiet PIDS...: each is gone, waits on a missing page or idles in
# sigtimedwait (done, or waiting for another's answer), now and a second later.
quiet() {
	local p w round
	for round in 1 2; do
		for p in "$@"; do
			w=$(cat "/proc/$p/wchan" 2>/dev/null) || continue
			case $w in handle_userfault | do_sigtimedwait*) ;; *) return 1 ;; esac
		done
		[ $round = 2 ] || sleep 1
	done
}

# no_wrong_page NAME: no result file of the workload reports a wrong page.
no_wrong_page() {
	local d bad
	d=$(wl_dir A)
	bad=$(grep -h "bad page\|^[0-9]* FAIL" "$d"/result* 2>/dev/null | head -n 5)
	if [ -n "$bad" ]; then
		t_fail "$1: no wrong page ever read" "$bad"
		return 1
	fi
	t_ok "$1: no wrong page ever read"
}

# lazy_restore_slow IMG: restore A lazily from IMG, the server in the slow cgroup.
slow=/sys/fs/cgroup/cpu$CR_CG/slow-server
lazy_restore_slow() {
	local rp p
	mkdir -p "$slow" && echo 500000 >"$slow/cpu.cfs_period_us" && echo 2000 >"$slow/cpu.cfs_quota_us" ||
		cr_die "cannot make the cpu cgroup $slow"
	cr_pipes
	z A restore -d --image-path "$1" --bundle "$CR_T/A/bundle" --lazy "$CR_CID" \
		<&"$CR_IN" >&"$CR_OUT" 2>&"$CR_OUT" &
	rp=$!
	while kill -0 $rp 2>/dev/null; do
		for p in $(lazy_server_all "$1"); do echo "$p" >"$slow/cgroup.procs" 2>/dev/null; done
		sleep 0.005
	done
	wait $rp
}

# unslow_server IMG: the server at full speed again.
unslow_server() {
	local p
	for p in $(lazy_server_all "$1"); do echo "$p" >"/sys/fs/cgroup/cpu/cgroup.procs"; done
}

# kill_both IMG WPID NAME: SIGKILL the server of IMG and the keeper of WPID
# in one kill(1), keeper first.
kill_both() {
	local srv keeper
	srv=$(lazy_server_all "$1" | head -n1)
	keeper=$(keeper_of "$2")
	if [ -z "$srv" ] || [ -z "$keeper" ]; then
		t_fail "$3: server and keeper found" "server '$srv' keeper '$keeper'"
		return 1
	fi
	# the keeper first: kill(1) signals in order, and a keeper that
	# outlives the server by a moment would kill the tasks itself
	kill -KILL "$keeper" "$srv" 2>/dev/null
	return 0
}

# after_kill NAME VERIFYPID: the verify in flight answered (every page it
# touched was in, or the keeper killed the tasks first) or a process waits
# on a missing page; no page was ever wrong; delete -f removes the container.
after_kill() {
	local name=$1 vp=$2 pids i
	pids=$(wl_pids A | tr '\n' ' ')
	outcome=running
	for ((i = 0; i < 60; i++)); do
		kill -0 "$vp" 2>/dev/null || { outcome=answered; break; }
		# shellcheck disable=SC2086
		blocked $pids && { outcome=blocked; break; }
		sleep 0.5
	done
	kill "$vp" 2>/dev/null
	wait "$vp" 2>/dev/null
	t_diag "$name: the verify in flight said: $(head -c 300 "$CR_T/verify.out")"
	if [ "$outcome" = running ]; then
		# shellcheck disable=SC2086
		t_fail "$name: the verify answered or a process waits on a missing page" \
			"$(for p in $pids; do echo "$p $(cat /proc/$p/wchan 2>/dev/null) $(awk '/^State:/' /proc/$p/status 2>/dev/null)"; done)"
	else
		t_ok "$name: the verify answered or a process waits on a missing page ($outcome)"
	fi
	no_wrong_page "$name"
	if z A delete -f "$CR_CID" >/dev/null 2>&1 && cr_gone A; then t_ok "$name: delete -f removes it"; else
		t_fail "$name: delete -f removes it" "$(cr_status A)"
	fi
}

cr_node A
jq '.process.args[2] |= sub("-m "; "-p 2 -m ")' "$CR_T/A/bundle/config.json" >"$CR_T/A/cfg" &&
	mv "$CR_T/A/cfg" "$CR_T/A/bundle/config.json"
img=$CR_T/A/img
t_run A
t_wl_write "0" A 512
t_wl_verify "0: before checkpoint" A || { t_done; exit; }
t_ckpt "0: full" A "$img/full" || { t_done; exit; }
cr_gone A

# ---- 1. server and keeper killed together, at random points
answered=0 blocked=0
for ((round = 1; round <= KILLS; round++)); do
	if ! lazy_restore_slow "$img/full"; then
		t_fail "1.$round: lazy restore" "$(tail -n 3 "$CR_T/stdout.log")"
		break
	fi
	wpid=$(wl_host_pid A)
	rm -f "$(wl_dir A)"/result*
	wl_do A verify >"$CR_T/verify.out" 2>&1 &
	vp=$!
	# a random point: 0-900 ms into the verify
	sleep "0.$(printf '%03d' $((RANDOM % 900)))"
	kill_both "$img/full" "$wpid" "1.$round" || break
	after_kill "1.$round" "$vp"
	case $outcome in answered) answered=$((answered + 1)) ;; blocked) blocked=$((blocked + 1)) ;; esac
done
t_diag "1: $KILLS rounds: $answered verifies answered (pages all in, or the keeper killed first), $blocked blocked on a missing page"
((blocked > 0)) && t_ok "1: at least one round killed both while pages were unfilled" ||
	t_fail "1: at least one round killed both while pages were unfilled" "every verify finished: the prefetch is too fast to test"

# ---- 2. fork-heavy during the prefetch, every page of every process verified
cr_delete A
if lazy_restore_slow "$img/full"; then t_ok "2: lazy restore, server slowed"; else
	t_fail "2: lazy restore, server slowed" "$(tail -n 3 "$CR_T/stdout.log")"
	t_done
	exit
fi
rm -f "$(wl_dir A)"/result*
forks=0
for ((i = 0; i < 8; i++)); do
	out=$(wl_do A fork) && forks=$((forks + 1)) || t_fail "2: fork $i during the prefetch" "$out"
done
t_ok "2: $forks processes forked during the prefetch"
unslow_server "$img/full"
t_wl_verify "2: every page of the parents and the $forks children, during the prefetch" A
for ((i = 0; i < 4; i++)); do wl_do A fork >/dev/null || t_fail "2: fork after a verify" "$out"; done
t_wl_verify "2: and of 4 more children" A
no_wrong_page "2"
cr_delete A

# ---- 3. children forked during the prefetch, then server and keeper killed
if lazy_restore_slow "$img/full"; then t_ok "3: lazy restore, server slowed"; else
	t_fail "3: lazy restore, server slowed" "$(tail -n 3 "$CR_T/stdout.log")"
	t_done
	exit
fi
wpid=$(wl_host_pid A)
t_diag "3: resident after the restore (kB): $(for p in $(wl_pids A); do awk '/^Rss:/ {s+=$2} END {printf "%d ", s}' /proc/$p/smaps; done) $SECONDS s"
rm -f "$(wl_dir A)"/result*
for ((i = 0; i < 6; i++)); do wl_do A fork >/dev/null || t_fail "3: fork $i during the prefetch"; done
t_ok "3: 6 processes forked during the prefetch"
t_diag "3: resident before the kill (kB): $(for p in $(wl_pids A); do awk '/^Rss:/ {s+=$2} END {printf "%d ", s}' /proc/$p/smaps; done) $SECONDS s"
kill_both "$img/full" "$wpid" "3" || { t_done; exit; }
# every process is told to verify at once (not only through process 0,
# which may itself wait on a missing page before it tells the others)
d=$(wl_dir A)
seq=$(($(cat "$CR_T/.seq") + 1))
echo "$seq" >"$CR_T/.seq"
echo "$seq verify " >"$d/cmd.new" && mv -f "$d/cmd.new" "$d/cmd"
pids=$(wl_pids A | tr '\n' ' ')
for p in $pids; do kill -USR1 "$p"; done
# shellcheck disable=SC2086
if wait_for 60 quiet $pids; then
	t_ok "3: every process verified or waits on a missing page ($(grep -l handle_userfault $(printf '/proc/%s/wchan ' $pids) 2>/dev/null | wc -l) wait)"
else
	# shellcheck disable=SC2086
	t_fail "3: every process verified or waits on a missing page" "$(for p in $pids; do echo "$p $(cat /proc/$p/wchan 2>/dev/null)"; done)"
fi
no_wrong_page "3"
z A delete -f "$CR_CID" >/dev/null 2>&1 && cr_gone A && t_ok "3: delete -f removes it" || t_fail "3: delete -f removes it" "$(cr_status A)"
t_done
