#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `zanshin migrate --mode pre-copy`, the migrate CLI's --no-wait, --timeout
# and --progress, and the fault cases move.sh leaves out (docs/agent.md).
# Nodes as in move.sh (tests/agent/lib.sh), the memory workload verified,
# every page, after each move.
#   1. pre-copy A→B while the workload keeps writing: rounds (the first the
#      whole memory), each committed on B; the frozen checkpoint holds only
#      what changed since the last round; the workload's every write is
#      there afterwards; progress as JSON lines;
#   2. stop-copy B→A and pre-copy A→B again (the first round a diff against
#      what B holds): downtimes reported side by side (not asserted);
#   3. --no-wait (the move id at once, `zanshin moves` follows it);
#      --timeout exceeded in pre-copy rounds and while a stop-copy image
#      travels: the container runs on the source;
#   4. cancel before the checkpoint (while the Bundle travels) and during
#      pre-copy rounds, either agent SIGKILLed during the rounds: the
#      container never stopped, the target keeps no generation of the move;
#   5. the source agent SIGKILLed at commit-sent, the target's agent down
#      when it restarts: the move is in-doubt, the container stays stopped,
#      and the periodic retry finds it running on the target;
#   6. the link cut after the commit: the container runs on the target, the
#      source says done, never rolls back;
#   7. CLI bad input for the new flags; the target's restore failing after
#      a pre-copy (rolled back on the source from its checkpoint on top of
#      the rounds); progress on a terminal (script(1)).
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/lib.sh"
MIB=64
CR_MIB=$MIB
WK=256   # pages per write of the background writer
AG_IOT=5 # seconds before a silent peer is given up
cr_setup agent-precopy
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
ag_node A 1
ag_node B 2
ag_node C 3
ag_start A B C || ag_die "agent A"
ag_start B A C || ag_die "agent B"
ag_start C A B || ag_die "agent C"
t_ok "three agents run, each in its own network namespace"

t_run A
t_wl_verify "start on A" A || { t_done; exit; }

# The workload's write counter (gen) as its last verify reported it.
wl_gen() { grep -o 'gen=[0-9]*' "$(wl_dir "$1")/result" | head -n1 | cut -d= -f2; }

# writer NODE: `write $WK` every 0.1 s until $CR_T/stop-writer exists; the
# count of writes acknowledged in $CR_T/writes.
writer() {
	local n=0
	echo 0 >"$CR_T/writes"
	while [ ! -e "$CR_T/stop-writer" ]; do
		wl_do "$1" write $WK >/dev/null || break
		n=$((n + 1))
		echo $n >"$CR_T/writes"
		sleep 0.1
	done
}

# the newest move NODE's journal has as source
last_src_id() { zm "$1" moves --format json | jq -r '[.[] | select(.role == "source")] | last | .id'; }
move_state() { zm "$1" moves --format json | jq -r --arg id "$2" '.[] | select(.id == $id) | .state'; }
# the JSON record of move ID in NODE's journal file (while it runs)
rec() { cat "$CR_T/$1/agent/moves/$2.json" 2>/dev/null; }
new_src_move() {
	local f
	for f in "$CR_T/$1/agent"/moves/*.json; do
		grep -qxF "$(basename "$f")" <<<"$OLD_RECS" && continue
		grep -q '"role": "source"' "$f" && { basename "$f" .json; return 0; }
	done
	return 1
}

# precopy_move FROM TO ROUNDS ARGS...: migrate --mode pre-copy in the
# background while the writer writes; the writer stops once the first
# round is in the source's journal (a write still in flight then ends
# within milliseconds, long before the freeze: at least one more round
# comes first). STATS, WRITES, MRC, the progress in $CR_T/progress.json.
precopy_move() {
	local from=$1 to=$2 rounds=$3 mpid wpid j id n
	shift 3
	rm -f "$CR_T/stop-writer"
	OLD_RECS=$(ls "$CR_T/$from/agent/moves/")
	writer "$from" &
	wpid=$!
	sleep 0.5
	zm "$from" migrate "$CR_CID" --to "$to" --mode pre-copy --precopy-rounds "$rounds" --print-stats \
		--progress json "$@" >"$CR_T/stats.json" 2>"$CR_T/progress.json" &
	mpid=$!
	id=
	for ((j = 0; j < 6000; j++)); do
		[ -n "$id" ] || id=$(new_src_move "$from")
		if [ -n "$id" ]; then
			n=$(rec "$from" "$id" | jq '.precopy_rounds // [] | length' 2>/dev/null)
			[ "${n:-0}" -ge 1 ] && break
			rec "$from" "$id" | grep -qE '"state": "(checkpointing|sending|commit-sent|done|failed|rolled-back)"' && break
		fi
		kill -0 $mpid 2>/dev/null || break
		sleep 0.02
	done
	touch "$CR_T/stop-writer"
	wait $wpid
	wait $mpid
	MRC=$?
	WRITES=$(cat "$CR_T/writes")
	STATS=$(cat "$CR_T/stats.json")
}
stat_of() { jq -r ".$1" <<<"$STATS"; }

# ---- 1: pre-copy A→B, the workload writing ----
t_wl_verify "pre-copy 1: before" A || { t_done; exit; }
gen0=$(wl_gen A)
src=$(wl_dir A)
precopy_move A B 4 --precopy-goal 0
if [ "$MRC" -eq 0 ]; then
	t_ok "pre-copy 1: migrate A→B ($(stat_of downtime_s) s downtime, $(stat_of total_s) s total, $WRITES writes during the move)"
	wl_follow "$src" B
else
	t_fail "pre-copy 1: migrate A→B" "$STATS" "$(tail -n 5 "$CR_T/progress.json")"
	t_done
	exit
fi
t_diag "$STATS"
[ "$(stat_of mode)" = pre-copy ] && t_ok "pre-copy 1: mode pre-copy" || t_fail "pre-copy 1: mode pre-copy" "$STATS"
nr=$(jq '.precopy_rounds | length' <<<"$STATS")
t_range "pre-copy 1: rounds made (--precopy-rounds 4, --precopy-goal 0)" "$nr" 2 4
r1=$(jq '.precopy_rounds[0].bytes' <<<"$STATS")
t_range "pre-copy 1: the first round holds the whole memory" "$r1" $((MIB * 1048576 * 9 / 10)) $((MIB * 1048576 * 11 / 10))
sum=$(jq '[.precopy_rounds[].bytes] | add' <<<"$STATS")
final=$(($(stat_of bytes_pages) - sum))
t_diag "pre-copy 1: rounds $(jq -c '[.precopy_rounds[].bytes]' <<<"$STATS"), final checkpoint $final bytes of pages"
t_range "pre-copy 1: the final checkpoint holds less than the first round" "$final" 0 $((r1 - 1))
# the rounds' files go through the wire layer like an image's: chunks,
# and the later rounds' pages as deltas against the round before (B
# takes them from A, which never moved the container there: the chain
# came whole in this move)
[ "$(stat_of compress_levels)" != none ] && [ "$(stat_of bytes_data)" -gt 0 ] &&
	t_ok "pre-copy 1: in chunks ($(stat_of compress_levels), ratio $(stat_of ratio))" ||
	t_fail "pre-copy 1: in chunks" "$STATS"
[ "$(stat_of bytes_delta)" -gt 0 ] && t_ok "pre-copy 1: later rounds' pages as deltas ($(stat_of bytes_delta) bytes)" ||
	t_fail "pre-copy 1: later rounds' pages as deltas" "$STATS"
[ "$WRITES" -ge 2 ] && t_ok "pre-copy 1: the workload wrote during the rounds ($WRITES x $WK pages)" ||
	t_fail "pre-copy 1: the workload wrote during the rounds" "$WRITES writes"
[ -z "$(cr_status A)" ] && t_ok "pre-copy 1: gone from A" || t_fail "pre-copy 1: gone from A" "$(cr_status A)"
[ "$(cr_status B)" = running ] && t_ok "pre-copy 1: running on B" || t_fail "pre-copy 1: running on B" "$(cr_status B)"
t_wl_verify "pre-copy 1: after" B
g=$(wl_gen B)
[ "$g" = $((gen0 + WRITES)) ] && t_ok "pre-copy 1: every write made during the move is there (gen $gen0 + $WRITES)" ||
	t_fail "pre-copy 1: every write made during the move is there" "gen $g, expected $gen0 + $WRITES"
grep -q '"phase":"pre-copy round 1"' "$CR_T/progress.json" && jq -se 'all(has("bytes") and has("total") and has("rate"))' \
	"$CR_T/progress.json" >/dev/null && t_ok "pre-copy 1: progress as JSON lines ($(wc -l <"$CR_T/progress.json") events)" ||
	t_fail "pre-copy 1: progress as JSON lines" "$(head -n 5 "$CR_T/progress.json")"
mid=$(stat_of id)
[ "$(move_state A "$mid")" = done ] && t_ok "pre-copy 1: A's journal says done" || t_fail "pre-copy 1: A's journal" "$(move_state A "$mid")"
[ "$(move_state B "$mid")" = running ] && t_ok "pre-copy 1: B's journal says running" || t_fail "pre-copy 1: B's journal" "$(move_state B "$mid")"
n=$(zm A moves --format json | jq --arg id "$mid" '.[] | select(.id == $id) | .precopy_rounds | length')
[ "$n" = "$nr" ] && t_ok "pre-copy 1: zanshin moves lists its $nr rounds" || t_fail "pre-copy 1: zanshin moves lists its rounds" "$n"
zm A moves | grep "$mid" | grep -q "pre-copy *$nr:" && t_ok "pre-copy 1: the moves table shows the rounds" ||
	t_fail "pre-copy 1: the moves table shows the rounds" "$(zm A moves)"
t_check "pre-copy 1: B's store verifies" z B remnant verify "$CR_CID"
t_check "pre-copy 1: A's store verifies" z A remnant verify "$CR_CID"
PRE1_DOWN=$(stat_of downtime_s)
here=B

# ---- 2: stop-copy B→A after the same writes, then pre-copy A→B again ----
t_wl_verify "stop-copy: before" B
rm -f "$CR_T/stop-writer"
writer B &
wpid=$!
sleep 2
touch "$CR_T/stop-writer"
wait $wpid
t_wl_verify "stop-copy: after $(cat "$CR_T/writes") writes" B
d=$WL_DIGEST
src=$(wl_dir B)
if STATS=$(zm B migrate "$CR_CID" --to A --print-stats --progress none 2>"$CR_T/migrate.err"); then
	STOP_DOWN=$(stat_of downtime_s)
	t_ok "stop-copy B→A ($STOP_DOWN s downtime, $(stat_of bytes_pages) bytes of pages)"
	# B restored the pre-copy's chain with tracking: its checkpoint is a
	# diff against the pre-copy's checkpoint, which A kept
	[ "$(stat_of diff)" = true ] && t_ok "stop-copy B→A: a diff (B tracked the container since the pre-copy's restore)" ||
		t_fail "stop-copy B→A: a diff" "$STATS"
	wl_follow "$src" A
	here=A
	t_wl_verify "stop-copy B→A: memory on A" A "$d"
else
	t_fail "stop-copy B→A" "$(cat "$CR_T/migrate.err")"
	t_done
	exit
fi
t_wl_verify "pre-copy 2: before" A || { t_done; exit; }
gen0=$(wl_gen A)
src=$(wl_dir A)
precopy_move A B 4 --precopy-goal 0
if [ "$MRC" -eq 0 ]; then
	t_ok "pre-copy 2: migrate A→B ($(stat_of downtime_s) s downtime, $WRITES writes during the move)"
	wl_follow "$src" B
	here=B
	t_diag "$STATS"
	r1=$(jq '.precopy_rounds[0].bytes' <<<"$STATS")
	t_range "pre-copy 2: the first round is a diff against what B holds" "$r1" 1 $((MIB * 1048576 / 4))
	t_wl_verify "pre-copy 2: after" B
	g=$(wl_gen B)
	[ "$g" = $((gen0 + WRITES)) ] && t_ok "pre-copy 2: every write made during the move is there" ||
		t_fail "pre-copy 2: every write made during the move is there" "gen $g, expected $gen0 + $WRITES"
	sum=$(jq '[.precopy_rounds[].bytes] | add' <<<"$STATS")
	t_diag "downtime (reported, not asserted): pre-copy, first move $PRE1_DOWN s; stop-copy, repeat move $STOP_DOWN s;" \
		"pre-copy, repeat move $(stat_of downtime_s) s (rounds $(jq -c '[.precopy_rounds[].bytes]' <<<"$STATS")," \
		"final $(($(stat_of bytes_pages) - sum)) bytes of pages)"
else
	t_fail "pre-copy 2: migrate A→B" "$STATS" "$(tail -n 5 "$CR_T/progress.json")"
	t_done
	exit
fi

# ---- 3: --no-wait, --timeout ----
t_wl_verify "no-wait: before" B
d=$WL_DIGEST
src=$(wl_dir B)
t0=$(date +%s.%N)
if id=$(zm B migrate "$CR_CID" --to A --no-wait 2>"$CR_T/migrate.err"); then
	t1=$(date +%s.%N)
	[[ $id =~ ^m[0-9T]+-[0-9a-f]+$ ]] && t_ok "no-wait: prints the move id ($id)" || t_fail "no-wait: prints the move id" "$id"
	for ((j = 0; j < 600; j++)); do
		st=$(move_state B "$id")
		case $st in done | failed | rolled-back) break ;; esac
		sleep 0.1
	done
	[ "$st" = done ] && t_ok "no-wait: zanshin moves follows it to done" || t_fail "no-wait: the move ends done" "$st"
	total=$(zm B moves --format json | jq -r --arg id "$id" '.[] | select(.id == $id) | .total_s')
	back=$(echo "$t1 - $t0" | bc)
	[ "$(echo "$back < $total" | bc)" = 1 ] && t_ok "no-wait: returned after $back s, the move took $total s" ||
		t_fail "no-wait: returned before the move ended" "returned after $back s, move $total s"
	wl_follow "$src" A
	here=A
	t_wl_verify "no-wait: memory on A" A "$d"
else
	t_fail "no-wait: migrate" "$(cat "$CR_T/migrate.err")"
fi

# the link to C shaped, so that an image takes seconds to travel
tc qdisc add dev "zv$$C" root tbf rate 40mbit burst 64kb latency 400ms || t_fail "tbf on C's link"
wl_pid_now() { wl_host_pid "$1"; }

# cancel before the checkpoint: while the Bundle travels to C
t_wl_verify "cancel (bundle): before" A
d=$WL_DIGEST
p0=$(wl_pid_now A)
OLD_RECS=$(ls "$CR_T/A/agent/moves/")
zm A migrate "$CR_CID" --to C --progress none >"$CR_T/c1.out" 2>&1 &
mpid=$!
id=
for ((j = 0; j < 2000; j++)); do
	[ -n "$id" ] || id=$(new_src_move A)
	[ -n "$id" ] && rec A "$id" | grep -q '"state": "bundle"' && break
	sleep 0.005
done
out=$(zm A move cancel "$id" 2>&1) && t_ok "cancel (bundle): $out" || t_fail "cancel (bundle): zanshin move cancel" "$id: $out"
wait $mpid
grep -q "cancelled by request" "$CR_T/c1.out" && t_ok "cancel (bundle): migrate fails, saying it was cancelled" ||
	t_fail "cancel (bundle): migrate says it was cancelled" "$(cat "$CR_T/c1.out")"
[ "$(move_state A "$id")" = failed ] && t_ok "cancel (bundle): A's journal says failed (nothing to roll back)" ||
	t_fail "cancel (bundle): A's journal" "$(move_state A "$id")"
[ "$(wl_pid_now A)" = "$p0" ] && t_ok "cancel (bundle): the container was never stopped (same process)" ||
	t_fail "cancel (bundle): the container was never stopped" "pid $p0 -> $(wl_pid_now A)"
t_wl_verify "cancel (bundle): memory on A" A "$d"
for ((j = 0; j < 100; j++)); do [ "$(move_state C "$id")" = aborted ] && break; sleep 0.1; done
[ "$(move_state C "$id")" = aborted ] && t_ok "cancel (bundle): C's journal says aborted" || t_fail "cancel (bundle): C's journal" "$(move_state C "$id")"

# cancel during pre-copy rounds
gens_on() { ls "$CR_T/$1/store/containers/$CR_CID/generations" 2>/dev/null | grep -vc '^\.'; }
c_gens=$(gens_on C)
t_wl_verify "cancel (pre-copy): before" A
d=$WL_DIGEST
OLD_RECS=$(ls "$CR_T/A/agent/moves/")
zm A migrate "$CR_CID" --to C --mode pre-copy --progress none >"$CR_T/c2.out" 2>&1 &
mpid=$!
id=
for ((j = 0; j < 4000; j++)); do
	[ -n "$id" ] || id=$(new_src_move A)
	[ -n "$id" ] && rec A "$id" | grep -q '"state": "pre-copy"' && break
	sleep 0.005
done
sleep 1
out=$(zm A move cancel "$id" 2>&1) && t_ok "cancel (pre-copy): $out" || t_fail "cancel (pre-copy): zanshin move cancel" "$id: $out"
wait $mpid
grep -q "cancelled by request" "$CR_T/c2.out" && t_ok "cancel (pre-copy): migrate fails, saying it was cancelled" ||
	t_fail "cancel (pre-copy): migrate says it was cancelled" "$(cat "$CR_T/c2.out")"
[ "$(move_state A "$id")" = failed ] && t_ok "cancel (pre-copy): A's journal says failed (the container ran on)" ||
	t_fail "cancel (pre-copy): A's journal" "$(move_state A "$id")"
[ "$(wl_pid_now A)" = "$p0" ] && t_ok "cancel (pre-copy): the container was never stopped (same process)" ||
	t_fail "cancel (pre-copy): the container was never stopped" "pid $p0 -> $(wl_pid_now A)"
t_wl_verify "cancel (pre-copy): memory on A" A "$d"
for ((j = 0; j < 100; j++)); do [ "$(move_state C "$id")" = aborted ] && break; sleep 0.1; done
[ "$(move_state C "$id")" = aborted ] && t_ok "cancel (pre-copy): C's journal says aborted" || t_fail "cancel (pre-copy): C's journal" "$(move_state C "$id")"
[ "$(gens_on C)" = "$c_gens" ] && t_ok "cancel (pre-copy): C keeps no generation of the move ($c_gens before and after)" ||
	t_fail "cancel (pre-copy): C keeps no generation of the move" "$(ls -a "$CR_T/C/store/containers/$CR_CID/generations")"

# --timeout passes during pre-copy rounds: the container runs on
t_wl_verify "timeout (pre-copy): before" A
d=$WL_DIGEST
t0=$(date +%s)
if out=$(zm A migrate "$CR_CID" --to C --mode pre-copy --timeout 3 --progress none 2>&1); then
	t_fail "timeout (pre-copy): the move fails" "$out"
else
	grep -q "timeout of 3 s passed" <<<"$out" && t_ok "timeout (pre-copy): the move fails after $(($(date +%s) - t0)) s: $out" ||
		t_fail "timeout (pre-copy): the error names the timeout" "$out"
fi
[ "$(wl_pid_now A)" = "$p0" ] && t_ok "timeout (pre-copy): the container was never stopped" ||
	t_fail "timeout (pre-copy): the container was never stopped" "pid $p0 -> $(wl_pid_now A)"
t_wl_verify "timeout (pre-copy): memory on A" A "$d"
sleep 1
[ "$(gens_on C)" = "$c_gens" ] && t_ok "timeout (pre-copy): C keeps no generation of the move" ||
	t_fail "timeout (pre-copy): C keeps no generation of the move" "$(ls -a "$CR_T/C/store/containers/$CR_CID/generations")"

# --timeout passes while a stop-copy image travels: rolled back
t0=$(date +%s)
if out=$(zm A migrate "$CR_CID" --to C --timeout 3 --progress none 2>&1); then
	t_fail "timeout (stop-copy): the move fails" "$out"
else
	grep -q "timeout of 3 s passed" <<<"$out" && grep -q "runs again on node A" <<<"$out" &&
		t_ok "timeout (stop-copy): the move fails after $(($(date +%s) - t0)) s, rolled back: $out" ||
		t_fail "timeout (stop-copy): the error names the timeout and the rollback" "$out"
fi
[ "$(cr_status A)" = running ] && t_ok "timeout (stop-copy): running again on A" || t_fail "timeout (stop-copy): running again on A" "$(cr_status A)"
[ -z "$(cr_status C)" ] && t_ok "timeout (stop-copy): not on C" || t_fail "timeout (stop-copy): not on C" "$(cr_status C)"
t_wl_verify "timeout (stop-copy): memory on A" A "$d"

# either agent SIGKILLed during pre-copy rounds, and restarted: the move
# fails, the container ran on, the target keeps no generation of it
for victim in A C; do
	h="SIGKILL of $victim during pre-copy"
	t_wl_verify "$h: before" A
	p0=$(wl_pid_now A)
	OLD_RECS=$(ls "$CR_T/A/agent/moves/")
	zm A migrate "$CR_CID" --to C --mode pre-copy --precopy-goal 0 --progress none >"$CR_T/k.out" 2>&1 &
	mpid=$!
	id=
	# once round 1 travels (C has its header), 16 MiB written: round 2
	# takes seconds on this link, the window for the kill
	for ((j = 0; j < 1200; j++)); do
		[ -n "$id" ] || id=$(new_src_move A)
		[ -n "$id" ] && rec C "$id" | grep -q '"img_dir"' && break
		sleep 0.05
	done
	wl_do A write 4096 >/dev/null || t_fail "$h: workload wrote 4096 pages during round 1"
	for ((j = 0; j < 1200; j++)); do
		[ "$(gens_on C)" -gt "$c_gens" ] && break
		sleep 0.05
	done
	st=$(rec A "$id" | jq -r .state) held=$(gens_on C)
	ag_kill $victim KILL
	[ "$held" -gt "$c_gens" ] && [ "$st" = pre-copy ] && t_ok "$h: killed while C holds round 1 and A makes round 2" ||
		t_fail "$h: killed during the rounds" "A: $st, C's generations: $held"
	wait $mpid
	sleep 1
	if [ $victim = A ]; then ag_start A B C || t_fail "$h: A restarts"; else ag_start C A B || t_fail "$h: C restarts"; fi
	for ((j = 0; j < 100; j++)); do
		[ "$(move_state A "$id")" = failed ] && [ "$(move_state C "$id")" = aborted ] && break
		sleep 0.1
	done
	[ "$(move_state A "$id")" = failed ] && t_ok "$h: A's journal says failed" || t_fail "$h: A's journal" "$(move_state A "$id")"
	[ "$(move_state C "$id")" = aborted ] && t_ok "$h: C's journal says aborted" || t_fail "$h: C's journal" "$(move_state C "$id")"
	for ((j = 0; j < 100; j++)); do [ "$(wl_pid_now A)" = "$p0" ] && [ "$(gens_on C)" = "$c_gens" ] && break; sleep 0.1; done
	[ "$(wl_pid_now A)" = "$p0" ] && t_ok "$h: the container ran on (same process)" || t_fail "$h: the container ran on" "pid $p0 -> $(wl_pid_now A)"
	t_wl_verify "$h: memory on A (the write made during the rounds in it)" A
	[ "$(gens_on C)" = "$c_gens" ] && t_ok "$h: C keeps no generation of the move" ||
		t_fail "$h: C keeps no generation of the move" "$(ls -a "$CR_T/C/store/containers/$CR_CID/generations")"
done
tc qdisc del dev "zv$$C" root 2>/dev/null

# ---- 5: the source agent SIGKILLed at commit-sent; the target's agent
# down when it restarts: in-doubt, then the periodic retry ----
t_wl_write "in-doubt: before" A 512
t_wl_verify "in-doubt: before" A
d=$WL_DIGEST
src=$(wl_dir A)
OLD_RECS=$(ls "$CR_T/B/agent/moves/")
zm A migrate "$CR_CID" --to B --progress none >"$CR_T/m5.out" 2>&1 &
mpid=$!
killed=
for ((j = 0; j < 4000; j++)); do
	for f in "$CR_T/B/agent"/moves/*.json; do
		grep -qxF "$(basename "$f")" <<<"$OLD_RECS" && continue
		grep -q '"state": "restoring"' "$f" && { id=$(basename "$f" .json); killed=1; }
	done
	[ -n "$killed" ] && break
	sleep 0.005
done
st=$(rec A "$id" | jq -r .state)
ag_kill A KILL
[ -n "$killed" ] && t_ok "in-doubt: A's agent SIGKILLed at $st (B restores)" || t_fail "in-doubt: A's agent SIGKILLed at commit-sent" "never saw B restore"
wait $mpid
for ((j = 0; j < 300; j++)); do [ "$(move_state B "$id")" = running ] && break; sleep 0.1; done
[ "$(move_state B "$id")" = running ] && t_ok "in-doubt: B's restore finished" || t_fail "in-doubt: B's restore finished" "$(move_state B "$id")"
ag_kill B KILL
ag_start A B C >/dev/null # it asks B for 30 s before its socket is up
for ((j = 0; j < 900; j++)); do [ -S "$CR_T/A/agent.sock" ] && break; sleep 0.1; done
[ "$(move_state A "$id")" = in-doubt ] && t_ok "in-doubt: A restarted, B silent: A's journal says in-doubt" ||
	t_fail "in-doubt: A's journal says in-doubt" "$(move_state A "$id")" "$(tail -n 3 "$CR_T/A/agent.log")"
[ -z "$(cr_status A)" ] && t_ok "in-doubt: the container stays stopped on A" || t_fail "in-doubt: the container stays stopped on A" "$(cr_status A)"
[ "$(cr_status B)" = running ] && t_ok "in-doubt: it runs on B only" || t_fail "in-doubt: it runs on B" "$(cr_status B)"
ag_start B A C || t_fail "in-doubt: B's agent restarts"
for ((j = 0; j < 300; j++)); do [ "$(move_state A "$id")" = done ] && break; sleep 0.1; done
[ "$(move_state A "$id")" = done ] && t_ok "in-doubt: A's periodic retry asked B again: done" ||
	t_fail "in-doubt: A's retry resolves the move" "$(move_state A "$id")" "$(tail -n 3 "$CR_T/A/agent.log")"
[ -z "$(cr_status A)" ] && t_ok "in-doubt: not on A" || t_fail "in-doubt: not on A" "$(cr_status A)"
wl_follow "$src" B
here=B
t_wl_verify "in-doubt: memory on B" B "$d"

# ---- 6: the link cut after the commit (B's agent with --io-timeout 1:
# it gives its silent target up after 10 s and asks it, until it answers) ----
ag_kill B TERM
AG_IOT=1 ag_start B A C || t_fail "link cut after commit: B's agent with --io-timeout 1"
t_wl_write "link cut after commit: before" B 512
t_wl_verify "link cut after commit: before" B
d=$WL_DIGEST
src=$(wl_dir B)
OLD_RECS=$(ls "$CR_T/A/agent/moves/")
zm B migrate "$CR_CID" --to A --progress none >"$CR_T/m6.out" 2>&1 &
mpid=$!
cut=
for ((j = 0; j < 4000; j++)); do
	for f in "$CR_T/A/agent"/moves/*.json; do
		grep -qxF "$(basename "$f")" <<<"$OLD_RECS" && continue
		grep -q '"state": "restoring"' "$f" && { id=$(basename "$f" .json); cut=1; }
	done
	[ -n "$cut" ] && break
	sleep 0.005
done
ip link set "zv$$A" down
[ -n "$cut" ] && t_ok "link cut after commit: A's link down while it restores" || t_fail "link cut after commit: A's link down while it restores" "never saw A restore"
for ((j = 0; j < 300; j++)); do grep -q "$id.*asking node A" "$CR_T/B/agent.log" && break; sleep 0.1; done
sleep 3
[ -z "$(cr_status B)" ] && t_ok "link cut after commit: B did not roll back while A was silent" || t_fail "link cut after commit: B did not roll back" "$(cr_status B)"
ip link set "zv$$A" up
wait $mpid
rc=$?
t_diag "migrate said: $(cat "$CR_T/m6.out")"
[ $rc -eq 0 ] && t_ok "link cut after commit: the move succeeded" || t_fail "link cut after commit: the move succeeded" "$(cat "$CR_T/m6.out")"
[ "$(move_state B "$id")" = done ] && t_ok "link cut after commit: B's journal says done" || t_fail "link cut after commit: B's journal" "$(move_state B "$id")"
[ "$(move_state A "$id")" = running ] && t_ok "link cut after commit: A's journal says running" || t_fail "link cut after commit: A's journal" "$(move_state A "$id")"
[ "$(cr_status A)" = running ] && t_ok "link cut after commit: running on A" || t_fail "link cut after commit: running on A" "$(cr_status A)"
[ -z "$(cr_status B)" ] && t_ok "link cut after commit: not on B" || t_fail "link cut after commit: not on B" "$(cr_status B)"
wl_follow "$src" A
here=A
t_wl_verify "link cut after commit: memory on A" A "$d"

# ---- CLI bad input for the new flags ----
out=$(zm A migrate "$CR_CID" --to B --mode warp 2>&1) && t_fail "--mode warp is an error" "$out" ||
	{ grep -q "warp" <<<"$out" && t_ok "--mode warp: $out" || t_fail "--mode warp: clear error" "$out"; }
out=$(zm A migrate "$CR_CID" --to B --precopy-rounds 3 2>&1) && t_fail "--precopy-rounds without pre-copy is an error" "$out" ||
	{ grep -q "pre-copy" <<<"$out" && t_ok "--precopy-rounds without --mode pre-copy: $out" || t_fail "--precopy-rounds without pre-copy: clear error" "$out"; }
out=$(zm A migrate "$CR_CID" --to B --mode pre-copy --precopy-rounds 99 2>&1) && t_fail "--precopy-rounds 99 is an error" "$out" ||
	{ grep -q "precopy-rounds" <<<"$out" && t_ok "--precopy-rounds 99: $out" || t_fail "--precopy-rounds 99: clear error" "$out"; }
out=$(zm A migrate "$CR_CID" --to B --mode pre-copy --precopy-goal 5x 2>&1) && t_fail "--precopy-goal 5x is an error" "$out" ||
	{ grep -q "precopy-goal" <<<"$out" && t_ok "--precopy-goal 5x: $out" || t_fail "--precopy-goal 5x: clear error" "$out"; }
out=$(zm A migrate "$CR_CID" --to B --progress loud 2>&1) && t_fail "--progress loud is an error" "$out" ||
	{ grep -q -- "--progress" <<<"$out" && t_ok "--progress loud: $out" || t_fail "--progress loud: clear error" "$out"; }
[ "$(cr_status A)" = running ] && t_ok "bad input changed nothing: running on A" || t_fail "still running on A" "$(cr_status A)"

# ---- the target's restore fails after a pre-copy: the source rolls back
# from its own checkpoint, a diff on top of the rounds ----
cat >"$CR_T/zanshin-B" <<EOS
#!/bin/sh
for a in "\$@"; do
	if [ "\$a" = restore ] && [ -e "$CR_T/fail-restore" ]; then
		echo "injected restore failure (test)" >&2
		exit 1
	fi
done
exec "$ZANSHIN" "\$@"
EOS
chmod +x "$CR_T/zanshin-B"
ag_kill B TERM
ag_start B A C -- --runtime "$CR_T/zanshin-B" || t_fail "restore fails: B's agent with a failing runtime"
t_wl_write "restore fails after pre-copy: before" A 512
t_wl_verify "restore fails after pre-copy: before" A
d=$WL_DIGEST
touch "$CR_T/fail-restore"
if out=$(zm A migrate "$CR_CID" --to B --mode pre-copy --progress none 2>&1); then
	t_fail "restore fails after pre-copy: the move fails" "$out"
else
	grep -q "injected restore failure" <<<"$out" && grep -q "runs again on node A" <<<"$out" &&
		t_ok "restore fails after pre-copy: the move fails, rolled back, naming why" || t_fail "restore fails after pre-copy: the error" "$out"
fi
rm -f "$CR_T/fail-restore"
mid=$(last_src_id A)
[ "$(cr_status A)" = running ] && t_ok "restore fails after pre-copy: running again on A" || t_fail "restore fails after pre-copy: running again on A" "$(cr_status A)"
[ -z "$(cr_status B)" ] && t_ok "restore fails after pre-copy: not on B" || t_fail "restore fails after pre-copy: not on B" "$(cr_status B)"
t_wl_verify "restore fails after pre-copy: memory on A" A "$d"
[ "$(move_state A "$mid")" = rolled-back ] && t_ok "restore fails after pre-copy: A's journal says rolled-back" || t_fail "restore fails after pre-copy: A's journal" "$(move_state A "$mid")"
[ "$(move_state B "$mid")" = aborted ] && t_ok "restore fails after pre-copy: B's journal says aborted" || t_fail "restore fails after pre-copy: B's journal" "$(move_state B "$mid")"
t_check "restore fails after pre-copy: B's store verifies" z B remnant verify "$CR_CID"

# ---- progress on a terminal: one line rewritten in place ----
t_wl_verify "tty progress: before" A
d=$WL_DIGEST
src=$(wl_dir A)
script -qec "$ZANSHIN migrate $CR_CID --to B --mode pre-copy --agent-socket $CR_T/A/agent.sock" "$CR_T/tty.out" >/dev/null 2>&1
rc=$?
if [ $rc -eq 0 ]; then
	wl_follow "$src" B
	here=B
	t_wl_verify "tty progress: memory on B" B "$d"
	n=$(grep -o $'\r\e\[K' "$CR_T/tty.out" | wc -l)
	grep -q "MiB/s" "$CR_T/tty.out" && grep -q "pre-copy round 1" "$CR_T/tty.out" && [ "$n" -ge 3 ] &&
		t_ok "tty progress: one line rewritten $n times (phase, MiB of the total, rate)" ||
		t_fail "tty progress: one updating line" "$(tr '\r' '\n' <"$CR_T/tty.out" | tail -n 5)"
	! grep -q '"phase"' "$CR_T/tty.out" && t_ok "tty progress: no JSON on a terminal" || t_fail "tty progress: no JSON on a terminal" "$(head -n 3 "$CR_T/tty.out")"
else
	t_fail "tty progress: migrate A→B on a terminal" "$(tr '\r' '\n' <"$CR_T/tty.out" | tail -n 5)"
fi

for n in A B; do
	t_check "node $n: remnant verify" z "$n" remnant verify "$CR_CID"
done
# every move to C was cancelled or timed out: it keeps nothing of them
t_range "node C holds no generation of the container (every move to it failed)" "$(gens_on C)" 0 0
n=$(find "$CR_T"/?/store/containers/"$CR_CID"/generations -maxdepth 1 -name '.tmp-*' 2>/dev/null | wc -l)
t_range "no temporary generation left on any node" "$n" 0 0
cr_delete "$here"
t_done
