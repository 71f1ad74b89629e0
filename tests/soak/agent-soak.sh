#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The agent soak (issue 16, item 1, for zanshind): a seeded random sequence
# of moves of one container running the memory workload between three
# nodes of this machine (network namespaces with their own zanshind,
# tests/agent/lib.sh) through `zanshin migrate`, with faults injected at
# random points of a move:
#   kill-source, kill-target  SIGKILL of the source or target agent when
#                             its journal reaches a randomly chosen state
#                             (plus a random delay); the agent is then
#                             restarted, as its journal recovery expects;
#   link-cut                  the target's veth down for 1..8 s (the
#                             agents give a silent peer up after 5 s);
#   cancel                    `zanshin move cancel` at a random state;
#   small-target              the move goes to node D, whose store is a
#                             tmpfs too small for the image.
# After every step an oracle checks:
#   - while the move runs and after it, the container never runs on two
#     nodes (a post-copy's source, frozen while it serves the pages, is
#     `paused`, not running); after the agents have recovered it runs on
#     exactly one (none counts as a lost container) and no frozen copy is
#     left anywhere;
#   - every page verifies and the workload's digest is the one recorded
#     before the move (not just "some consistent state");
#   - every generation of every node's store verifies;
#   - no move stays non-terminal in any journal once the agents recovered.
#
#   tests/soak/agent-soak.sh [SEED [STEPS]]   (also SEED=, STEPS=,
#   SOAK_MIB= (32), SOAK_FAULT_PCT= (50), SOAK_FAULTS="kind ..." (all),
#   SOAK_MODES="stop-copy ..." (the --mode of each move, picked at random),
#   SOAK_SECONDS=, SOAK_RESULTS=FILE (JSON figures))
#
# Replays with `make soak-agent SEED=S STEPS=N`: the random choices come
# from the script's own generator, never drawn in a subshell. Ends with
#   soak: N steps, N faults, N wrong restores, N corrupt generations accepted, N containers lost
. "$(dirname "$0")/../cr/lib.sh"
. "$(dirname "$0")/../agent/lib.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
SOAK_MAKE=soak-agent
# names of our own: other suites build nodes on this machine at the same time
AG_NS=zsoak$$-
AG_BR=zsokb$$
AG_IOT=5

SEED=${1:-${SEED:-$(date +%s)}}
STEPS=${2:-${STEPS:-20}}
[ -n "$SEED" ] || SEED=$(date +%s)
[ -n "$STEPS" ] || STEPS=20
MIB=${SOAK_MIB:-32}
CR_MIB=$MIB
NPAGES=$((MIB * 256))
NODES=(A B C)
ALL=(A B C D)
MODES=(${SOAK_MODES:-stop-copy})
RNG=$((SEED % 2147483648))
TERMINAL=" done failed rolled-back running aborted "

n_steps=0 n_faults=0 n_wrong=0 n_corrupt=0 n_lost=0 n_moves=0 n_rollbacks=0 n_two=0 n_stuck=0
declare -A faults_by_kind=()
loc='' want=''

cr_setup agent-soak
mkdir -p "$CR_T/rootfs/proc" "$CR_T/rootfs/sys" "$CR_T/rootfs/dev"
ag_setup
t_diag "agent soak: seed $SEED, $STEPS steps, $MIB MiB, modes ${MODES[*]} (replay: make soak-agent SEED=$SEED STEPS=$STEPS)"

# the peers each node's agent knows: every other node. Its runtime is
# $CR_T/zanshin-NODE: nodes on one machine share the cgroup hierarchies,
# and the Bundle's config.json names the source's cgroup; a restore here
# gets this node's own cgroup, as on separate machines (else a target's
# cleanup of a failed restore kills the source's frozen container); a
# rewrite that fails (a target stopping a restore kills what runs below
# it) fails the restore.
start_agent() {
	local n=$1 p peers=()
	for p in "${ALL[@]}"; do [ "$p" != "$n" ] && peers+=("$p"); done
	ag_start "$n" "${peers[@]}" -- --runtime "$CR_T/zanshin-$n"
}
node_runtime() {
	cat >"$CR_T/zanshin-$1" <<EOS
#!/bin/bash
b= prev= restore=
for a in "\$@"; do
	[ "\$prev" = --bundle ] && b=\$a
	[ "\$a" = restore ] && restore=1
	prev=\$a
done
if [ -n "\$restore" ] && [ -f "\$b/config.json" ]; then
	jq --arg cg "$CR_CG/$1" '.linux.cgroupsPath = \$cg' "\$b/config.json" >"\$b/config.json.zs-soak" &&
		mv -f "\$b/config.json.zs-soak" "\$b/config.json" || { echo "soak: no cgroup of node $1 for the restore" >&2; exit 1; }
fi
exec "$ZANSHIN" "\$@"
EOS
	chmod +x "$CR_T/zanshin-$1"
}

# where_runs: the nodes where the container runs. A source whose lazy
# dump serves a post-copy's pages holds it frozen: `paused` there, not
# running (where_frozen), until CRIU resumes it (a rollback) or kills it.
where_runs() {
	local n
	for n in "${ALL[@]}"; do
		[ "$(cr_status "$n")" = running ] && echo "$n"
	done
}
where_frozen() {
	local n
	for n in "${ALL[@]}"; do
		[ "$(cr_status "$n")" = paused ] && echo "$n"
	done
}

# journal_state NODE ID: the state of move ID in NODE's journal (the file:
# the agent may be dead)
journal_state() {
	jq -r '.state // empty' "$CR_T/$1/agent/moves/$2.json" 2>/dev/null
}

# non_terminal: "NODE:ID:STATE" of every move not in a final state
non_terminal() {
	local n f s
	for n in "${ALL[@]}"; do
		for f in "$CR_T/$n/agent/moves"/*.json; do
			[ -f "$f" ] || continue
			s=$(jq -r '.state // empty' "$f" 2>/dev/null)
			[[ "$TERMINAL" == *" $s "* ]] || echo "$n:$(basename "$f" .json):$s"
		done
	done
}

stores_verify() {
	local n out bad=0
	for n in "${ALL[@]}"; do
		[ -n "$(z "$n" remnant list "$CR_CID" --format json 2>/dev/null | jq -r '.[].name' 2>/dev/null)" ] || continue
		if ! out=$(z "$n" remnant verify "$CR_CID" 2>&1); then
			n_corrupt=$((n_corrupt + 1))
			fail_step "$1: node $n's store verifies" "$out"
			bad=1
		fi
	done
	return $bad
}

verify_running() {
	local n=$1 what=$2 out d
	if ! out=$(wl_do "$n" verify); then
		n_wrong=$((n_wrong + 1))
		fail_step "$what: memory on $n" "$out" "$(head -n 20 "$(wl_dir "$n")/result" 2>/dev/null)"
		return 1
	fi
	d=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
	if [ -n "$want" ] && [ "$d" != "$want" ]; then
		n_wrong=$((n_wrong + 1))
		fail_step "$what: memory on $n" "pages consistent, digest $d, the model wants $want: another state was restored"
		return 1
	fi
	want=$d
}

op_write() {
	local k out
	rnd $((NPAGES * 30 / 100 + 1))
	k=$REPLY
	out=$(wl_do "$loc" write "$k") || { fail_step "write $k pages" "$out"; return 1; }
	want=''
	verify_running "$loc" "after writing $k pages" || return 1
	t_ok "step $n_steps: wrote $k pages on $loc"
}

# new_move FROM: the id of the move FROM's agent started after $OLD_RECS
new_move() {
	local f
	for f in "$CR_T/$1/agent/moves"/*.json; do
		[ -f "$f" ] || continue
		grep -qxF "$(basename "$f")" <<<"$OLD_RECS" && continue
		basename "$f" .json
		return 0
	done
	return 1
}

# watch MPID: one look at the nodes while a move runs (never on two)
watch_two() {
	local w
	w=$(where_runs | tr '\n' ' ')
	if [ "$(wc -w <<<"$w")" -gt 1 ]; then
		n_two=$((n_two + 1))
		fail_step "the container runs on two nodes during the move" "running on: $w"
	fi
}

# wait_state MPID NODE STATES: poll until the move's journal on NODE is in
# one of STATES (words); 1 when the move ended first
wait_state() {
	local mpid=$1 n=$2 states=" $3 " id s i
	for ((i = 0; ; i++)); do
		id=${MID:-}
		[ -n "$id" ] || { id=$(new_move "$FROM") && MID=$id; }
		if [ -n "$id" ]; then
			s=$(journal_state "$n" "$id")
			[[ "$states" == *" $s "* ]] && { HIT=$s; return 0; }
		fi
		kill -0 "$mpid" 2>/dev/null || return 1
		((i % 20 == 0)) && watch_two
		sleep 0.005
	done
	return 1
}

# restart_later NODE: the killed agent comes back after 0.3..3 s (a node
# rebooting), while the move's other side still waits for it
restart_later() {
	rnd 2700
	sleep "$(printf '%d.%03d' $(((REPLY + 300) / 1000)) $(((REPLY + 300) % 1000)))"
	start_agent "$1" || fail_step "restart $1's agent" "$(tail -n 3 "$CR_T/$1/agent.log")"
	t_diag "step $n_steps: $1's agent restarted after $((REPLY + 300)) ms"
}

op_move() {
	local to mode fault='' mpid rc delay st src d killed='' i w nt fz others=()
	FROM=$loc
	for to in "${NODES[@]}"; do [ "$to" != "$loc" ] && others+=("$to"); done
	pick "${others[@]}"
	to=$REPLY
	pick "${MODES[@]}"
	mode=$REPLY
	rnd 100
	if [ "$REPLY" -lt "${SOAK_FAULT_PCT:-50}" ]; then
		pick ${SOAK_FAULTS:-kill-source kill-target link-cut cancel small-target}
		fault=$REPLY
	fi
	[ "$fault" = small-target ] && to=D
	verify_running "$loc" "before the move" || return 1
	d=$want
	src=$(wl_dir "$loc")
	OLD_RECS=$(ls "$CR_T/$loc/agent/moves/" 2>/dev/null)
	MID='' HIT=''
	zm "$loc" migrate "$CR_CID" --to "$to" --mode "$mode" >"$CR_T/migrate.out" 2>&1 &
	mpid=$!
	case $fault in
	kill-source)
		pick checkpointing sending commit-sent
		st=$REPLY
		rnd 200
		delay=$REPLY
		if wait_state $mpid "$FROM" "$st"; then
			sleep "$(printf '0.%03d' "$delay")"
			ag_kill "$FROM" KILL
			killed=$FROM
			fault kill-source "$FROM's agent at '$HIT' + $delay ms"
			restart_later "$FROM"
		else
			fault kill-source "missed: the move ended before '$st'"
		fi
		;;
	kill-target)
		pick receiving restoring
		st=$REPLY
		rnd 200
		delay=$REPLY
		if wait_state $mpid "$to" "$st"; then
			sleep "$(printf '0.%03d' "$delay")"
			ag_kill "$to" KILL
			killed=$to
			fault kill-target "$to's agent at '$HIT' + $delay ms"
			restart_later "$to"
		else
			fault kill-target "missed: the move ended before '$st'"
		fi
		;;
	link-cut)
		pick checkpointing sending
		st=$REPLY
		rnd 8
		delay=$((REPLY + 1))
		if wait_state $mpid "$FROM" "$st"; then
			ip link set "zv$$$to" down
			fault link-cut "$to's link down at '$HIT' for $delay s"
			for ((i = 0; i < delay * 5; i++)); do
				sleep 0.2
				watch_two
			done
			ip link set "zv$$$to" up
		else
			fault link-cut "missed: the move ended before '$st'"
		fi
		;;
	cancel)
		pick bundle checkpointing sending
		st=$REPLY
		if wait_state $mpid "$FROM" "$st"; then
			local out
			out=$(zm "$FROM" move cancel "$MID" 2>&1)
			fault cancel "at '$HIT': $(head -n1 <<<"$out" | cut -c1-120)"
		else
			fault cancel "missed: the move ended before '$st'"
		fi
		;;
	small-target) fault small-target "to D (a ${D_MIB} MiB tmpfs store)" ;;
	esac
	while kill -0 $mpid 2>/dev/null; do
		watch_two
		sleep 0.1
	done
	wait $mpid
	rc=$?
	[ -n "$MID" ] || MID=$(new_move "$FROM")
	t_diag "step $n_steps: migrate $FROM→$to ($mode) exited $rc: $(head -c 300 "$CR_T/migrate.out" | tr '\n' ' ')"
	if [ $rc -ne 0 ] && [ ! -s "$CR_T/migrate.out" ]; then
		fail_step "a failed move said why" "migrate exited $rc without a word"
	fi
	[ -n "$killed" ] && [ -z "${AG_PID[$killed]:-}" ] && restart_later "$killed"
	# recovery: exactly one node runs it and every journal is final (an
	# in-doubt source asks again every 10 s)
	local until=$((SECONDS + ${SOAK_RECOVERY_S:-60}))
	while [ $SECONDS -lt $until ]; do
		w=$(where_runs | tr '\n' ' ')
		nt=$(non_terminal | tr '\n' ' ')
		fz=$(where_frozen | tr '\n' ' ')
		[ "$(wc -w <<<"$w")" -gt 1 ] && break
		[ "$(wc -w <<<"$w")" -eq 1 ] && [ -z "$nt" ] && [ -z "$fz" ] && break
		sleep 0.1
	done
	if [ "$(wc -w <<<"$w")" -gt 1 ]; then
		n_two=$((n_two + 1))
		fail_step "the container runs on exactly one node" "running on: $w"
		return 1
	fi
	if [ -n "$nt" ]; then
		n_stuck=$((n_stuck + 1))
		fail_step "no move stays non-terminal after recovery" "$nt"
	fi
	[ -z "$fz" ] || fail_step "no frozen copy is left after recovery" "paused on: $fz"
	w=${w% }
	if [ -z "$w" ]; then
		n_lost=$((n_lost + 1))
		fail_step "container lost: it runs on no node" "migrate: $(cat "$CR_T/migrate.out")" \
			"$FROM: $(journal_state "$FROM" "$MID"); $to: $(journal_state "$to" "$MID")"
		loc=''
		return 1
	fi
	if [ "$w" != "$FROM" ] && [ "$w" != "$to" ]; then
		fail_step "the container runs on the source or the target" "it runs on $w"
	fi
	if [ "$w" = "$FROM" ]; then
		[ $rc -ne 0 ] || [ -n "$killed" ] || fail_step "a move that succeeded left the container on the source"
		n_rollbacks=$((n_rollbacks + 1))
	else
		wl_follow "$src" "$w"
		n_moves=$((n_moves + 1))
	fi
	loc=$w
	want=$d
	verify_running "$loc" "after the move $FROM→$to (${fault:-no fault})" || return 1
	t_ok "step $n_steps: $FROM→$to ($mode${fault:+, $fault}): runs on $loc, memory verified, journals final"
	stores_verify "after the move" || return 1
}

D_MIB=$((MIB / 4 > 4 ? MIB / 4 : 4))
ag_node A 1
ag_node B 2
ag_node C 3
ag_node D 4
mount -t tmpfs -o size=${D_MIB}m,mode=0700 tmpfs "$CR_T/D/store" || ag_die "cannot mount D's store"
for n in "${ALL[@]}"; do node_runtime "$n" && start_agent "$n" || ag_die "agent $n"; done
t_ok "four agents run (D's store: a $D_MIB MiB tmpfs)"
loc=A
t_run A
verify_running A "fresh" || { t_done; exit; }
t_ok "step 0: the workload runs on A ($MIB MiB), memory verified"

t0=$SECONDS
for ((n_steps = 1; n_steps <= STEPS; n_steps++)); do
	[ -n "$loc" ] || break
	[ "$n_wrong" -eq 0 ] || break
	[ -z "${SOAK_SECONDS:-}" ] || [ $((SECONDS - t0)) -lt "$SOAK_SECONDS" ] || break
	rnd 100
	if [ "$REPLY" -lt 30 ]; then op_write; else op_move; fi
done
n_steps=$((n_steps - 1))
stores_verify "at the end" && t_ok "at the end: every generation of every store verifies"
[ -n "$loc" ] && cr_delete "$loc"

kinds=$(for k in "${!faults_by_kind[@]}"; do echo "$k=${faults_by_kind[$k]}"; done | sort | tr '\n' ' ')
t_diag "faults by kind: ${kinds:-none}; moves $n_moves, rollbacks $n_rollbacks, on two nodes $n_two, stuck $n_stuck, $((SECONDS - t0)) s"
if [ -n "${SOAK_RESULTS:-}" ]; then
	jq -n --argjson seed "$SEED" --argjson steps "$n_steps" --argjson faults "$n_faults" --argjson wrong "$n_wrong" \
		--argjson corrupt "$n_corrupt" --argjson lost "$n_lost" --argjson moves "$n_moves" --argjson rb "$n_rollbacks" \
		--argjson two "$n_two" --argjson stuck "$n_stuck" --argjson secs $((SECONDS - t0)) --argjson mib "$MIB" \
		--arg kinds "$kinds" --arg modes "${MODES[*]}" \
		'{seed: $seed, steps: $steps, mib: $mib, modes: ($modes | split(" ")), moves: $moves, rollbacks: $rb, faults: $faults,
		  faults_by_kind: ($kinds | split(" ") | map(select(. != "") | split("=") | {(.[0]): (.[1] | tonumber)}) | add // {}),
		  wrong_restores: $wrong, corrupt_generations_accepted: $corrupt, containers_lost: $lost,
		  on_two_nodes: $two, moves_stuck: $stuck, seconds: $secs}' >"$SOAK_RESULTS"
fi
t_done
rc=$?
echo "soak: $n_steps steps, $n_faults faults, $n_wrong wrong restores, $n_corrupt corrupt generations accepted, $n_lost containers lost"
exit $rc
