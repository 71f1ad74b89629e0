#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `zanshin migrate --mode post-copy` (issue 13 item 7, docs/agent.md
# "Post-copy"): two nodes A and B on this machine (tests/agent/lib.sh).
#   1. A→B post-copy with B's link shaped (tbf) so the pages take seconds:
#      the container runs on B before its memory has arrived; the
#      workload writes pages on B while the rest is still on its way;
#      memory verified (every page) after; stats: mode, downtime, remote
#      faults, time until the last page; no listening port for pages;
#   2. B→A after it is a FULL checkpoint (a post-copy-restored container
#      has no tracking baseline), memory verified with the same digest;
#   3. post-copy of a container that is tracked (restored by step 2);
#   4. B's restore fails: the container runs again on A (CRIU resumes it
#      when its page socket closes), same memory, journals say so;
#   5. A's agent SIGKILLed while B runs the container and pages are still
#      on their way: the container never runs with wrong memory anywhere
#      (B kills its copy), both journals record what happened with an
#      error, the restarted agent finishes its record;
#   6. the link cut while B runs it and pages travel: the container is
#      lost (post-copy cannot go back), killed on both nodes, journals say
#      so;
#   7. B's agent SIGKILLed then: its daemon keeps the container waiting
#      for its pages (never a missing page read), A kills its copy, the
#      restarted B kills the container and the daemon.
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/lib.sh"
MIB=64
CR_MIB=$MIB
K=256
AG_IOT=5
cr_setup agent-postcopy
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
ag_node A 1
ag_node B 2
# A node's runtime restores into the node's own cgroup: all nodes share
# this machine's cgroup tree, and during a post-copy move the container
# exists on the source (frozen, serving its pages) and on the target at
# once; restored into the cgroup its config names (the source's), the
# target's copy would be killed when the source's checkpoint removes its
# container (a test artefact: real nodes have cgroup trees of their own).
# And B's runtime fails a restore while $CR_T/fail-restore exists.
mkwrap() {
	cat >"$CR_T/zanshin-$1" <<EOS
#!/bin/bash
args=("\$@")
for ((i = 0; i < \${#args[@]}; i++)); do
	[ "\${args[i]}" = restore ] || continue
	if [ "$1" = B ] && [ -e "$CR_T/fail-restore" ]; then
		echo "injected restore failure (test)" >&2
		exit 1
	fi
	for ((j = i; j < \${#args[@]} - 1; j++)); do
		[ "\${args[j]}" = --bundle ] || continue
		b=\${args[j + 1]} nb=$CR_T/$1/cg-bundle/\$\$
		mkdir -p "\$nb" &&
			jq --arg cg "$CR_CG/$1" --arg b "\$b" '.linux.cgroupsPath = \$cg | .root.path |= (if startswith("/") then . else \$b + "/" + . end)' "\$b/config.json" >"\$nb/config.json" &&
			args[j + 1]=\$nb
	done
done
# a loaded node: the restore starts late (its CRIU not yet there when the
# source's agent dies); after the rewrite above (a target that stops the
# restore kills what runs below it), waiting in a builtin (no child)
if [ "$1" = B ] && [ -e "$CR_T/slow-restore" ]; then
	touch "$CR_T/restore-waits"
	exec 9<>"$CR_T/slow.fifo"
	read -r -t 3 -u 9
	exec 9>&-
fi
exec "$ZANSHIN" "\${args[@]}"
EOS
	chmod +x "$CR_T/zanshin-$1"
}
mkwrap A
mkwrap B
mkfifo "$CR_T/slow.fifo"
ag_start A B -- --runtime "$CR_T/zanshin-A" || ag_die "agent A"
ag_start B A -- --runtime "$CR_T/zanshin-B" || ag_die "agent B"

t_run A
t_wl_verify "start on A" A || { t_done; exit; }

stat_of() { jq -r ".$1" <<<"$STATS"; }
# jr NODE ROLE FIELD: FIELD of NODE's newest journal record with ROLE
jr() {
	local f
	f=$(ls -t "$CR_T/$1/agent/moves/"*.json 2>/dev/null | while read -r x; do
		[ "$(jq -r .role "$x")" = "$2" ] && { echo "$x"; break; }
	done)
	[ -n "$f" ] && jq -r ".$3 // empty" "$f"
}
shape() { tc qdisc add dev "zv$$$1" root tbf rate "$2" burst 64kb latency 400ms; }
unshape() { tc qdisc del dev "zv$$$1" root 2>/dev/null; }
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local n=$(($1 * 20))
	shift
	for ((; n > 0; n--)); do "$@" && return 0; sleep 0.05; done
	return 1
}
# jr_is NODE ROLE STATE: the newest record's state (for wait_for: the
# state is read at every try)
jr_is() { [ "$(jr "$1" "$2" state)" = "$3" ]; }
runs_on() { [ "$(cr_status "$1")" = running ]; }
src_state_is() { [ "$(jr A source state)" = "$1" ]; }

# held_on_a: while B runs it and A's lazy dump serves the pages, A's copy
# is frozen: `state` and `list` say paused (never running on two nodes),
# and it can be neither signalled, started, resumed nor deleted there
held_on_a() {
	local st ls kill start delete resume ann
	st=$(cr_status A)
	ls=$(z A list 2>&1 | awk -v id="$CR_CID" '$1 == id {print $3}')
	ann=$(z A state "$CR_CID" 2>/dev/null | jq -r '.annotations["org.zanshin.frozen-by"] // empty')
	kill=$(z A kill "$CR_CID" KILL 2>&1)
	start=$(z A start "$CR_CID" 2>&1)
	resume=$(z A resume "$CR_CID" 2>&1)
	delete=$(timeout 20 "$ZANSHIN" --root "$CR_T/A/state" delete -f "$CR_CID" 2>&1)
	if ! src_state_is post-copy; then
		t_skip "post-copy: A's frozen copy checked" "the pages all arrived before the checks ended"
		return 0
	fi
	[ "$st" = paused ] && [ "$ls" = paused ] && t_ok "post-copy: A's copy is paused in \`state\` and \`list\` (frozen by: $ann)" ||
		t_fail "post-copy: A's frozen copy is paused" "state '$st', list '$ls'"
	grep -q "checkpoint --lazy-pages" <<<"$ann" && t_ok "post-copy: A's state names what freezes it" || t_fail "post-copy: frozen-by" "$ann"
	local what
	for what in kill start resume delete; do
		grep -q "frozen by checkpoint --lazy-pages" <<<"${!what}" && t_ok "post-copy: $what on A refused: ${!what}" ||
			t_fail "post-copy: $what on A refused" "${!what}"
	done
}

# ---- 1. A→B post-copy, the workload writing on B while pages arrive ----
d=$WL_DIGEST
src=$(wl_dir A)
shape B 80mbit || t_fail "tbf on B's link"
zm A migrate "$CR_CID" --to B --mode post-copy --print-stats >"$CR_T/m1.out" 2>"$CR_T/m1.err" &
mpid=$!
if wait_for 60 runs_on B; then
	t_ok "post-copy: the container runs on B"
	wl_follow "$src" B
	src_state_is post-copy && t_ok "post-copy: it runs on B while its pages are still on their way (A: post-copy)" ||
		t_fail "post-copy: pages still on their way when B runs it" "A's move is $(jr A source state)"
	held_on_a
	ss -H -ltn -N "${AG_NS}A" | grep -v ":$AG_PORT " >"$CR_T/ports" || true
	[ ! -s "$CR_T/ports" ] && t_ok "post-copy: no TCP port listens on A but the agent's" || t_fail "post-copy: no port for pages" "$(cat "$CR_T/ports")"
	t_wl_write "post-copy: writes on B during the transfer" B $K
else
	t_fail "post-copy: the container runs on B" "$(cat "$CR_T/m1.err")"
fi
wait $mpid
rc=$?
unshape B
STATS=$(cat "$CR_T/m1.out")
[ $rc -eq 0 ] && t_ok "post-copy: migrate ($(stat_of downtime_s) s downtime, last page $(stat_of postcopy_last_page_s) s after running, $(stat_of postcopy_faults) remote faults)" ||
	t_fail "post-copy: migrate" "$(cat "$CR_T/m1.err")" "$STATS"
t_diag "$STATS"
[ "$(stat_of mode)" = post-copy ] && t_ok "post-copy: stats say mode post-copy" || t_fail "post-copy: mode" "$STATS"
t_range "post-copy: pages sent (bytes_pages, the lazy pages included)" "$(stat_of bytes_pages)" $((MIB * 1048576 * 9 / 10)) $((MIB * 1048576 * 12 / 10))
t_range "post-copy: remote faults counted" "$(stat_of postcopy_faults)" 1
awk -v l="$(stat_of postcopy_last_page_s)" -v d="$(stat_of downtime_s)" 'BEGIN { exit !(l > 0.3 && d > 0 && d < l + 30) }' &&
	t_ok "post-copy: time to the last page ($(stat_of postcopy_last_page_s) s) and downtime ($(stat_of downtime_s) s) measured" ||
	t_fail "post-copy: times" "$STATS"
[ -z "$(cr_status A)" ] && t_ok "post-copy: gone from A" || t_fail "post-copy: gone from A" "$(cr_status A)"
runs_on B && t_ok "post-copy: running on B" || t_fail "post-copy: running on B" "$(cr_status B)"
t_wl_verify "post-copy: memory on B after the last page" B
[ "$(jr A source state)" = done ] && t_ok "post-copy: A's journal says done" || t_fail "post-copy: A's journal" "$(jr A source state)"
[ "$(jr B target state)" = running ] && t_ok "post-copy: B's journal says running" || t_fail "post-copy: B's journal" "$(jr B target state)"
mv=$(zm A moves --format json | jq -c '[.[] | select(.mode == "post-copy")] | last')
jq -e '.postcopy_faults >= 1 and .postcopy_last_page_s > 0 and .downtime_s > 0' <<<"$mv" >/dev/null &&
	t_ok "post-copy: zanshin moves shows the faults, the time to the last page and the downtime" || t_fail "post-copy: zanshin moves" "$mv"
zm B moves | grep -q "post-copy\|running" && t_ok "post-copy: zanshin moves on B lists it" || t_fail "post-copy: moves on B" "$(zm B moves)"
tr=$(z B state "$CR_CID" | jq -r '.annotations["zanshin.tracking"] // .tracking // empty' 2>/dev/null)
zm B moves | grep -q post-copy || true
ls "$CR_T/B/store/" >"$CR_T/bstore" 2>/dev/null
! grep -rqs "$(stat_of image_id)" "$CR_T/B/store" && t_ok "post-copy: B's store holds no generation of the lazy image (its pages were never all there)" ||
	t_fail "post-copy: B's store holds no lazy generation" "$(ls -R "$CR_T/B/store" | head)"

if out=$(zm B migrate "$CR_CID" --to A --mode bogus 2>&1); then
	t_fail "an unknown --mode is refused" "$out"
else
	grep -q "bogus" <<<"$out" && runs_on B && t_ok "an unknown --mode is refused, the container stays: $out" || t_fail "an unknown --mode is refused" "$out"
fi

# ---- 2. B→A: a full checkpoint (no tracking baseline after a lazy restore) ----
t_wl_verify "back: before" B || { t_done; exit; }
d=$WL_DIGEST
src=$(wl_dir B)
if STATS=$(zm B migrate "$CR_CID" --to A --print-stats 2>"$CR_T/m2.err"); then
	wl_follow "$src" A
	t_ok "back B→A (stop-copy): migrate"
else
	t_fail "back B→A: migrate" "$(cat "$CR_T/m2.err")"
fi
t_diag "$STATS"
[ "$(stat_of diff)" = false ] && t_ok "back: a FULL image (the post-copy-restored container claims no baseline)" || t_fail "back: a full image" "$STATS"
t_range "back: the full image's pages were sent" "$(stat_of bytes_pages)" $((MIB * 1048576 * 9 / 10)) $((MIB * 1048576 * 12 / 10))
runs_on A && t_ok "back: running on A" || t_fail "back: running on A" "$(cr_status A)"
t_wl_verify "back: memory on A" A "$d"

# ---- 3. post-copy of a tracked container (restored by the stop-copy move) ----
d=$WL_DIGEST
src=$(wl_dir A)
if STATS=$(zm A migrate "$CR_CID" --to B --mode post-copy --print-stats 2>"$CR_T/m3.err"); then
	wl_follow "$src" B
	t_ok "tracked: post-copy A→B ($(stat_of downtime_s) s downtime)"
	# A's child of the first post-copy (done) holds its connection to B
	# for 30 s: when this move came in time it ran on it
	if [ "$(stat_of warm)" = true ]; then
		t_ok "tracked: the post-copy ran on the warm connection A kept to B"
	else
		t_skip "tracked: the post-copy on a warm connection" "more than 30 s since the first post-copy"
	fi
else
	t_fail "tracked: post-copy A→B" "$(cat "$CR_T/m3.err")"
fi
runs_on B && t_ok "tracked: running on B" || t_fail "tracked: running on B" "$(cr_status B)"
t_wl_verify "tracked: memory on B" B "$d"
src=$(wl_dir B)
if STATS=$(zm B migrate "$CR_CID" --to A --print-stats 2>"$CR_T/m4.err"); then
	wl_follow "$src" A
	# no tracking baseline after a lazy restore: a full checkpoint, sent
	# whole or rewritten against the pages A holds (by their digests:
	# pages_from_target), never a diff against a baseline B lacks
	if [ "$(stat_of diff)" = false ] || [ "$(stat_of pages_from_target)" -gt 0 ]; then
		t_ok "tracked: back to A, a full checkpoint (diff $(stat_of diff), $(stat_of pages_from_target) pages from A's own generation by digest)"
	else
		t_fail "tracked: back to A full" "$STATS"
	fi
else
	t_fail "tracked: back to A" "$(cat "$CR_T/m4.err")"
fi
t_wl_verify "tracked: memory on A" A "$d" || { t_done; exit; }

# ---- 4. B's restore fails: the container runs again on A ----
t_wl_write "restore fails: before" A $K
t_wl_verify "restore fails: before" A
d=$WL_DIGEST
touch "$CR_T/fail-restore"
if out=$(zm A migrate "$CR_CID" --to B --mode post-copy 2>&1); then
	t_fail "restore fails: migrate fails" "$out"
else
	grep -q "runs again on node A" <<<"$out" && t_ok "restore fails: migrate fails and says so: $out" || t_fail "restore fails: the error" "$out"
fi
rm -f "$CR_T/fail-restore"
wait_for 10 runs_on A && t_ok "restore fails: running on A again" || t_fail "restore fails: running on A" "$(cr_status A)"
[ -z "$(cr_status B)" ] && t_ok "restore fails: nothing on B" || t_fail "restore fails: nothing on B" "$(cr_status B)"
t_wl_verify "restore fails: memory on A" A "$d"
[ "$(jr A source state)" = rolled-back ] && t_ok "restore fails: A's journal says rolled-back" || t_fail "restore fails: A's journal" "$(jr A source state)"
[ "$(jr B target state)" = aborted ] && t_ok "restore fails: B's journal says aborted" || t_fail "restore fails: B's journal" "$(jr B target state)"
[ -z "$(ls "$CR_T/B/agent/work/$(jr B target id)/img" 2>/dev/null)" ] && t_ok "restore fails: B kept no image" || t_fail "restore fails: B kept no image"

# ---- 5. A's agent SIGKILLed while B runs it and pages are on their way ----
t_wl_verify "source killed: before" A
d=$WL_DIGEST
shape B 40mbit || t_fail "tbf on B's link"
zm A migrate "$CR_CID" --to B --mode post-copy >"$CR_T/m5.out" 2>&1 &
mpid=$!
if wait_for 60 src_state_is post-copy; then
	ag_kill A KILL
	t_ok "source killed: A's agent SIGKILLed while B runs the container and its pages travel"
else
	t_fail "source killed: B ran it" "$(jr A source state)" "$(cat "$CR_T/m5.out")"
fi
wait $mpid 2>/dev/null
wait_for 30 jr_is B target aborted
unshape B
st=$(jr B target state)
err=$(jr B target error)
[ "$st" = aborted ] && t_ok "source killed: B's journal says aborted: $err" || t_fail "source killed: B's journal" "$st $err"
grep -q "post-copy" <<<"$err" && t_ok "source killed: B's error names the post-copy" || t_fail "source killed: B's error" "$err"
wait_for 20 test -z "$(cr_status B)" && t_ok "source killed: B killed its copy (its memory was incomplete)" || t_fail "source killed: nothing on B" "$(cr_status B)"
wp=$(wl_host_pid A)
ps=$(awk '/^State:/ {print $2}' "/proc/$wp/status" 2>/dev/null)
[ "$ps" = t ] && t_ok "source killed: meanwhile the container stays frozen on A (workload $wp in tracing stop): it never runs on both nodes" ||
	t_fail "source killed: frozen on A until the agent restarts" "workload pid '$wp' state '$ps'"
ag_start A B -- --runtime "$CR_T/zanshin-A" || t_fail "source killed: A's agent restarts"
wait_for 30 eval '! jr_is A source post-copy'
sst=$(jr A source state)
serr=$(jr A source error)
case $sst in
rolled-back | failed) t_ok "source killed: A's restarted agent journals $sst: $serr" ;;
*) t_fail "source killed: A's journal" "$sst $serr" ;;
esac
[ -n "$serr" ] && t_ok "source killed: A's record has an error" || t_fail "source killed: A's error"
n=0
for x in A B; do runs_on $x && n=$((n + 1)); done
t_range "source killed: the container runs on at most one node" $n 0 1
if runs_on A; then
	t_wl_verify "source killed: memory on A (resumed where it was frozen)" A "$d"
else
	t_ok "source killed: the container is lost (post-copy cannot go back once the target runs)"
fi

# ---- 5b. A's agent SIGKILLed after its commit while B's restore starts ----
# B's restore starts late (3 s); A's agent is killed as soon as B is
# restoring: B must stop the restore however late its CRIU appears (it
# waited for a page for ever: soak seed 99), abort, and A's restarted
# agent resume the container it kept frozen
if runs_on A; then
	t_wl_verify "killed at commit: before" A
	d=$WL_DIGEST
	touch "$CR_T/slow-restore"
	rm -f "$CR_T/restore-waits"
	zm A migrate "$CR_CID" --to B --mode post-copy >"$CR_T/m5b.out" 2>&1 &
	mpid=$!
	if wait_for 60 test -e "$CR_T/restore-waits"; then
		ag_kill A KILL
		t_ok "killed at commit: A's agent SIGKILLed while B's restore starts"
	else
		t_fail "killed at commit: B restoring" "$(jr B target state)" "$(cat "$CR_T/m5b.out")"
	fi
	wait $mpid 2>/dev/null
	wait_for 90 jr_is B target aborted
	rm -f "$CR_T/slow-restore"
	[ "$(jr B target state)" = aborted ] && t_ok "killed at commit: B stopped its restore and aborted: $(jr B target error)" ||
		t_fail "killed at commit: B aborts" "$(jr B target state)" "$(tail -n 5 "$CR_T/B/agent.log")"
	[ -z "$(cr_status B)" ] && t_ok "killed at commit: nothing on B" || t_fail "killed at commit: nothing on B" "$(cr_status B)"
	[ "$(cr_status A)" = paused ] && t_ok "killed at commit: A's copy is paused (frozen) until its agent restarts" ||
		t_fail "killed at commit: paused on A" "$(cr_status A)"
	ag_start A B -- --runtime "$CR_T/zanshin-A" || t_fail "killed at commit: A's agent restarts"
	wait_for 60 jr_is A source rolled-back
	[ "$(jr A source state)" = rolled-back ] && t_ok "killed at commit: A's restarted agent rolled back: $(jr A source error)" ||
		t_fail "killed at commit: A rolled back" "$(jr A source state) $(jr A source error)"
	wait_for 20 runs_on A && t_wl_verify "killed at commit: memory on A (resumed where it was frozen)" A "$d" ||
		t_fail "killed at commit: runs on A" "$(cr_status A)"
fi

# ---- 6. the link cut while B runs it and pages are on their way ----
if runs_on A; then
	shape B 40mbit || t_fail "tbf on B's link"
	zm A migrate "$CR_CID" --to B --mode post-copy >"$CR_T/m6.out" 2>&1 &
	mpid=$!
	if wait_for 60 src_state_is post-copy; then
		ip link set "zv$$B" down
		t_ok "link cut: B's link down while B runs the container and its pages travel"
	else
		t_fail "link cut: B ran it" "$(jr A source state)" "$(cat "$CR_T/m6.out")"
	fi
	wait $mpid
	rc=$?
	out=$(cat "$CR_T/m6.out")
	[ $rc -ne 0 ] && grep -q "lost" <<<"$out" && t_ok "link cut: migrate fails and says the container is lost: $out" ||
		t_fail "link cut: migrate fails, container lost" "$out"
	wait_for 30 jr_is B target aborted
	ip link set "zv$$B" up
	unshape B
	[ "$(jr A source state)" = failed ] && t_ok "link cut: A's journal says failed: $(jr A source error)" || t_fail "link cut: A's journal" "$(jr A source state)"
	[ "$(jr B target state)" = aborted ] && t_ok "link cut: B's journal says aborted: $(jr B target error)" || t_fail "link cut: B's journal" "$(jr B target state)"
	wait_for 20 test -z "$(cr_status A)$(cr_status B)" && t_ok "link cut: the container runs nowhere (killed on both nodes, never with missing pages)" ||
		t_fail "link cut: runs nowhere" "A: $(cr_status A) B: $(cr_status B)"
fi

# ---- 7. B's agent SIGKILLed while it runs the container and pages travel ----
wait_for 20 test -z "$(cr_status A)" && t_run A && t_wl_verify "target killed: a new container on A" A
if runs_on A; then
	shape B 40mbit || t_fail "tbf on B's link"
	zm A migrate "$CR_CID" --to B --mode post-copy >"$CR_T/m7.out" 2>&1 &
	mpid=$!
	if wait_for 60 src_state_is post-copy; then
		ag_kill B KILL
		t_ok "target killed: B's agent SIGKILLed while it runs the container and its pages travel"
	else
		t_fail "target killed: B ran it" "$(jr A source state)" "$(cat "$CR_T/m7.out")"
	fi
	wait $mpid
	rc=$?
	unshape B
	out=$(cat "$CR_T/m7.out")
	[ $rc -ne 0 ] && grep -q "lost" <<<"$out" && t_ok "target killed: migrate fails and says the container is lost: $out" ||
		t_fail "target killed: migrate fails, container lost" "$out"
	[ -z "$(cr_status A)" ] && t_ok "target killed: A killed its frozen copy (never resumed once B ran it)" || t_fail "target killed: not on A" "$(cr_status A)"
	ag_start B A -- --runtime "$CR_T/zanshin-B" || t_fail "target killed: B's agent restarts"
	wait_for 30 jr_is B target aborted
	[ "$(jr B target state)" = aborted ] && t_ok "target killed: B's restarted agent journals aborted: $(jr B target error)" ||
		t_fail "target killed: B's journal" "$(jr B target state)"
	wait_for 20 test -z "$(cr_status B)" && t_ok "target killed: B's restarted agent killed the container waiting for its pages" ||
		t_fail "target killed: nothing on B" "$(cr_status B)"
	pgrep -f "lazy-pages.*$CR_T/B/" >/dev/null && t_fail "target killed: no lazy-pages daemon left on B" "$(pgrep -af "lazy-pages.*$CR_T/B/")" ||
		t_ok "target killed: no lazy-pages daemon left on B"
fi

# ---- hostile post-copy requests from an authenticated peer (B, to A) ----
before=$(find "$CR_T/A/store" -type f | sort | xargs -r sha256sum | sha256sum)
for sc in "badmode:offer: unknown mode" "psearly:unexpected message \`ps\`" "pscommit:commit before the image was received"; do
	name=${sc%%:*} want=${sc#*:}
	out=$(ip netns exec "${AG_NS}B" /usr/bin/python3 "$CR_TOP/tests/agent/hostile.py" "${AG_IP[A]}" $AG_PORT A \
		"$CR_T/pki/ca/ca.pem" "$CR_T/pki/B/B.pem" "$CR_T/pki/B/B-key.pem" "$name" "$CR_CID" 2>&1)
	sleep 0.2
	grep -qF "$want" "$CR_T/A/agent.log" && t_ok "hostile peer, $name: refused ($want)" ||
		t_fail "hostile peer, $name: refused ($want)" "answer: $out" "$(tail -n 3 "$CR_T/A/agent.log")"
done
after=$(find "$CR_T/A/store" -type f | sort | xargs -r sha256sum | sha256sum)
[ "$before" = "$after" ] && t_ok "hostile peer: A's store unchanged" || t_fail "hostile peer: A's store unchanged"
pgrep -f "lazy-pages.*$CR_T/A/" >/dev/null && t_fail "hostile peer: no lazy-pages daemon on A" || t_ok "hostile peer: no lazy-pages daemon started on A"

for n in A B; do
	t_check "store of $n verifies" z "$n" remnant verify "$CR_CID"
done
t_done
