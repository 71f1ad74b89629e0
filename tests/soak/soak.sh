#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The randomized soak (issue 16, item 1): a seeded random sequence of
# operations on a container running the memory workload, moved between
# three nodes of this machine (tests/cr/lib.sh: a node is a --root and a
# --remnant-root), with faults injected at random points. After every step
# an oracle checks what the project promises:
#   - a container that runs has exactly the memory the workload says it
#     should (every page verified, and the digest of the expected state is
#     the one recorded before the checkpoint: not "some consistent state");
#   - a refused operation said why (a non-empty message) and the container
#     runs on exactly one node, or its last image restores;
#   - every generation of every store verifies against its manifest, and a
#     generation damaged on purpose is refused by verify (else counted as a
#     "corrupt generation accepted").
#
#   tests/soak/soak.sh [SEED [STEPS]]      (also SEED=, STEPS=, SOAK_MIB=,
#   SOAK_FAULT_PCT= (35), SOAK_FAULTS="kind ..." (all), SOAK_SECONDS=,
#   SOAK_OPS="write=30 layout=12 move=38 snapshot=8 store=12")
#
# Every failure prints the seed and the step, and `make soak SEED=S
# STEPS=N` replays the same sequence (the random choices come from bash's
# soak's own generator seeded with SEED, never drawn in a subshell (bash
# reseeds RANDOM in each); the kill delays too, so a replay hits the same
# phase as closely as the machine's timing allows). The run ends with
#   soak: N steps, N faults, N wrong restores, N corrupt generations accepted, N containers lost
# and, when SOAK_RESULTS=FILE is set, writes its figures there as JSON.
#
# Operations (weights in pick_op): write K pages (0..30 % of memory), a
# change of layout (fork, mmap-new, munmap, mremap, dontneed, brk), a move
# to another node (checkpoint: a diff against the image the container was
# restored from when the target holds that image, else full; ship the
# image directory; restore with or without --track-mem), a snapshot
# (checkpoint --leave-running), a pre-dump followed by the move, merge and
# gc of a store, a verify of every store. Faults (fault_*): SIGKILL of the
# runtime or of CRIU during a checkpoint or a restore, a bit flipped in the
# shipped image, a store on a tmpfs too small for the image (ENOSPC), a
# manifest truncated in a store, a parent that is not the container's
# baseline (stale), SIGKILL of the tracking's criu-keeper before a move
# (kill-keeper) and of the store's background keeping after a restore
# (kill-store-work).
. "$(dirname "$0")/../cr/lib.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
SOAK_MAKE=soak

SEED=${1:-${SEED:-$(date +%s)}}
STEPS=${2:-${STEPS:-40}}
[ -n "$SEED" ] || SEED=$(date +%s)
[ -n "$STEPS" ] || STEPS=40
MIB=${SOAK_MIB:-64}
CR_MIB=$MIB
NPAGES=$((MIB * 256))
NODES=(A B C)
RNG=$((SEED % 2147483648))

n_steps=0 n_faults=0 n_wrong=0 n_corrupt=0 n_lost=0 n_refused=0 n_moves=0 n_diffs=0 n_killed=0 n_predumps=0
declare -A faults_by_kind=()
# the digest the workload had when each image was made (by image id): what
# a restore of that image must bring back
declare -A digest_of=()
# the model: where the container runs, the digest its memory must have,
# the image it was restored from on that node (img/in/G) and whether it is
# tracked; per node, the generations (image dirs) it holds.
loc='' want='' base='' tracked=0 gen=0
declare -A holds=()

cr_setup soak
t_diag "soak: seed $SEED, $STEPS steps, $MIB MiB, nodes ${NODES[*]} (replay: make soak SEED=$SEED STEPS=$STEPS)"

# descendants PID: every process below PID
descendants() {
	local p c
	for p in $(pgrep -P "$1"); do
		echo "$p"
		descendants "$p"
	done
}

# criu_of PID: the CRIU process the runtime PID runs, if any
criu_of() {
	local p
	for p in $(descendants "$1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = criu ] && { echo "$p"; return 0; }
	done
	return 1
}

# keepers_of NODE: the criu-keeper processes that hold the tracking of the
# container on NODE (a keeper holds a pidfd of every task it tracks:
# fdinfo's Pid: line names the init)
keepers_of() {
	local init p f
	init=$(z "$1" state "$CR_CID" 2>/dev/null | jq -r '.pid // empty')
	[ -n "$init" ] && [ "$init" != 0 ] || return 0
	for p in $(pgrep -x criu-keeper); do
		for f in /proc/"$p"/fdinfo/*; do
			grep -qs "^Pid:[[:space:]]*$init\$" "$f" && { echo "$p"; break; }
		done
	done
}

# store_workers NODE: the processes doing NODE's store work in the
# background (a runtime's fork: they hold the store's .keeping lock open)
store_workers() {
	local p
	for p in $(pgrep -x zanshin); do
		[ -n "$(find "/proc/$p/fd" -maxdepth 1 -lname "$CR_T/$1/store/.keeping" 2>/dev/null)" ] && echo "$p"
	done
}

# run_killed WHO DELAY_MS CMD...: run CMD (the runtime binary) in the
# background and SIGKILL WHO (runtime|criu) after DELAY_MS; then wait for
# every process it left (CRIU outlives a killed runtime). Sets KILLED=1
# when the target was still alive at the kill. Output in $RK_OUT.
run_killed() {
	local who=$1 delay=$2 pid i victim
	shift 2
	RK_OUT=$CR_T/rk.out
	"$@" >"$RK_OUT" 2>&1 </dev/null &
	pid=$!
	KILLED=0
	sleep "$(printf '0.%03d' "$delay")"
	if [ "$who" = runtime-post-dump ]; then
		# the moment CRIU has finished and the runtime has answered its
		# post-dump notification (the mark in the store's temporary
		# generation), before the runtime keeps the generation
		for ((i = 0; i < 1500; i++)); do
			compgen -G "$CR_T/$loc/store/containers/*/generations/.tmp-dump-*/.zanshin-dumped" >/dev/null && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.005
		done
		victim=$pid
	elif [ "${who%%-*}" = criu ]; then
		for ((i = 0; i < 50; i++)); do
			victim=$(criu_of "$pid") && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.02
		done
	else
		victim=$pid
	fi
	[ -n "${SOAK_DEBUG:-}" ] && t_diag "runtime $pid; tree at the kill of ${victim:-nothing}: $(for p in $pid $(descendants "$pid"); do echo "$p<-$(awk '{print $4}' /proc/$p/stat 2>/dev/null) $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-60)"; done | tr '\n' ';')"
	if [ -n "${victim:-}" ] && kill -KILL "$victim" 2>/dev/null; then KILLED=1; fi
	local left
	left=$(descendants "$pid")
	wait "$pid" 2>/dev/null
	RK_RC=$?
	# what the runtime started and left: wait for it (CRIU finishing, or
	# the restored container's processes, which must stay)
	for ((i = 0; i < 300; i++)); do
		local busy=0 p
		for p in $left; do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = criu ] && busy=1
		done
		[ $busy = 0 ] && break
		sleep 0.1
	done
}

# stdio for a restore: new pipes as cr_restore makes them
restore_on() {
	local n=$1 img=$2
	shift 2
	cr_restore "$n" "$img" "$@"
}

# ship FROM GEN TO: the image directory img/out/GEN of FROM as img/in/GEN of
# TO (logs left behind, the parent link as a link), with the workload's
# command directory.
ship() {
	local from=$1 g=$2 to=$3
	rm -rf "$CR_T/$to/img/in/$g"
	mkdir -p "$CR_T/$to/img/in"
	cp -a "$CR_T/$from/img/out/$g" "$CR_T/$to/img/in/$g" || return 1
	rm -f "$CR_T/$to/img/in/$g"/*.log
	rm -f "$CR_T/$to/bundle/rootfs/wl"/{ack,result,cmd}
	cp -a "$CR_T/$from/bundle/rootfs/wl/." "$CR_T/$to/bundle/rootfs/wl/"
	holds[$to]+=" $g"
}

# verify_running NODE WHAT: the workload on NODE checks, with the digest
# the model wants.
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
	return 0
}

# rooted_in NODE: processes whose root is NODE's bundle rootfs
rooted_in() {
	local p
	for p in /proc/[0-9]*; do
		case "$(readlink "$p/root" 2>/dev/null)" in "$CR_T/$1/bundle/rootfs" | "$CR_T/$1/state/"*) echo "${p#/proc/}" ;; esac
	done
}

# where_runs: the nodes the container runs on
where_runs() {
	local n
	for n in "${NODES[@]}"; do
		[ "$(cr_status "$n")" = running ] && echo "$n"
	done
}

# one_place WHAT: the container runs on exactly the node of the model
one_place() {
	local w
	w=$(where_runs | tr '\n' ' ')
	if [ "$w" != "$loc " ]; then
		fail_step "$1: runs on exactly one node" "model: '$loc', running on: '$w'"
		return 1
	fi
}

# stores_verify WHAT: every generation of every node's store verifies.
stores_verify() {
	local n g out bad=0
	for n in "${NODES[@]}"; do
		for g in $(z "$n" remnant list --format json 2>/dev/null | jq -r '.[].name'); do
			if ! out=$(z "$n" remnant verify "$CR_CID" "$g" 2>&1); then
				fail_step "$1: node $n generation $g verifies" "$out"
				bad=1
			fi
		done
	done
	return $bad
}

# ---- operations ----

op_write() {
	local k
	rnd $((NPAGES * 30 / 100 + 1))
	k=$REPLY
	local out
	out=$(wl_do "$loc" write "$k") || { fail_step "write $k pages" "$out"; return 1; }
	want='' # the workload's state changed: its own verify sets what a restore must bring back
	verify_running "$loc" "after writing $k pages (own state)" || return 1
	t_ok "step $n_steps: wrote $k pages on $loc"
}

op_layout() {
	local what out total
	# the memory the workload's processes hold (its last verify's answer):
	# past 4 times what it started with, only what shrinks it (a long run
	# grew to 949 MiB from 16 and filled the disk with its images)
	total=$(grep -o ' pages=[0-9]*' "$(wl_dir "$loc")/result" 2>/dev/null | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
	if [ "$total" -gt $((4 * NPAGES)) ]; then
		pick munmap dontneed
	else
		pick fork mmap-new munmap mremap dontneed brk
	fi
	what=$REPLY
	out=$(wl_do "$loc" "$what") || {
		# the workload refuses some (no region left to unmap, too many
		# processes): that is its answer, not a failure of ours
		t_diag "step $n_steps: workload $what: $out"
	}
	want=''
	verify_running "$loc" "after $what" || return 1
	t_ok "step $n_steps: $what on $loc"
}

# checkpoint_args TARGET: a diff against the image the container was
# restored from when it is tracked and TARGET holds that image, else full.
# target_has NODE G: NODE can resolve a diff against image G: it holds
# img/in/G (where the diff's parent link leads), or its remnant store keeps
# a generation of G's image (the restore finds it there by lineage id). An
# image NODE made itself (img/out/G) is not enough: its store keeps it only
# when it holds the parent's chain (docs/checkpoint-restore.md), as an
# agent would find out by asking the target.
target_has() {
	local n=$1 g=$2 id
	[ -f "$CR_T/$n/img/in/$g/inventory.img" ] && return 0
	id=$(img_field "$CR_T/$loc/img/in/$g" image_id 2>/dev/null)
	[ -n "$id" ] && grep -qs "\"image_id\": \"$id\"" "$CR_T/$n/store/containers/$CR_CID/generations"/*/lineage.json
}

checkpoint_args() {
	CK_ARGS=()
	CK_DIFF=0
	if [ "$tracked" = 1 ] && [ -n "$base" ] && [[ " ${holds[$1]:-} " == *" $base "* ]] && target_has "$1" "$base"; then
		CK_ARGS=(--track-mem --parent-path "../../in/$base")
		CK_DIFF=1
	fi
}

# remember IMG: the image IMG was taken with the digest the model wants now
remember() {
	local id
	id=$(img_field "$1" image_id 2>/dev/null)
	[ -n "$id" ] && [ -n "$want" ] && digest_of[$id]=$want
	return 0
}

# killed_by_fault: the failed checkpoint's runtime said it killed the
# container because CRIU died while it held the processes (lib/checkpoint.c)
killed_by_fault() {
	grep -qs "CRIU was killed by signal" "$CR_T/rk.out"
}

# prune: image directories no step can use any more go (a long run would
# fill the disk): keep the last PRUNE_KEEP generations of every node, the
# container's current image and every image their `parent` links lead to
PRUNE_KEEP=${SOAK_PRUNE_KEEP:-24}
prune() {
	local keep=() d p n name num
	declare -A kept=()
	for d in "$CR_T"/*/img/{in,out}/[gs]*; do
		[ -d "$d" ] || continue
		name=${d##*/}
		num=${name#[gs]}
		num=${num%p} # gNp: the pre-dump before gN
		# gN by generation, sN (snapshots) by step
		if [ "$name" = "$base" ] || { [ "${name:0:1}" = g ] && [ "$num" -ge $((gen - PRUNE_KEEP)) ]; } ||
			{ [ "${name:0:1}" = s ] && [ "$num" -ge $((n_steps - 2 * PRUNE_KEEP)) ]; }; then
			keep+=("$d")
		fi
	done
	for d in "${keep[@]}"; do
		p=$d
		while [ -n "$p" ] && [ -z "${kept[$p]:-}" ]; do
			kept[$p]=1
			[ -L "$p/parent" ] || break
			p=$(realpath -e "$p/parent" 2>/dev/null) || break
		done
	done
	for d in "$CR_T"/*/img/{in,out}/[gs]*; do
		[ -d "$d" ] && [ -z "${kept[$d]:-}" ] || continue
		mountpoint -q "$d" && continue
		grep -qs " $d/" /proc/mounts && continue
		rm -rf --one-file-system "$d"
		n=${d#"$CR_T"/}
		n=${n%%/*}
		name=${d##*/}
		[ -d "$CR_T/$n/img/in/$name" ] || [ -d "$CR_T/$n/img/out/$name" ] || holds[$n]=$(sed "s/ $name\b//g" <<<"${holds[$n]:-}")
	done
}

# after_failed_checkpoint WHAT: the checkpoint did not complete: the
# container must still run on the source with its memory, or (CRIU had
# finished, the runtime was killed after it) the image must restore.
after_failed_checkpoint() {
	local what=$1 img=$2 st
	RESTORED_FROM_IMG=0
	st=$(cr_status "$loc")
	if [ "$st" = running ]; then
		verify_running "$loc" "$what: still running on the source" && t_ok "step $n_steps: $what: the container runs on $loc, memory verified"
		return
	fi
	t_diag "step $n_steps: $what: the container is '${st:-gone}' on $loc; restoring its image there"
	z "$loc" delete -f "$CR_CID" >/dev/null 2>&1
	cr_gone "$loc"
	if [ -f "$img/inventory.img" ] && restore_on "$loc" "$img" ${CK_ARGS:+--track-mem}; then
		RESTORED_FROM_IMG=1
		verify_running "$loc" "$what: restored on the source from the image made" &&
			t_ok "step $n_steps: $what: restored on $loc from the image the checkpoint made"
		return
	fi
	# the runtime was killed after CRIU finished: the store keeps the
	# dump as its newest generation (gc commits it), as a user finds it
	local newest out
	out=$(z "$loc" remnant gc 2>&1) && t_diag "step $n_steps: gc on $loc: $(grep -m1 'kept generation' <<<"$out" | cut -c1-200)"
	newest=$(z "$loc" remnant list "$CR_CID" --format json 2>/dev/null | jq -r 'sort_by(.name) | last | .name // empty')
	if [ -n "$newest" ] && killed_by_fault; then
		# the runtime killed the container because CRIU died holding it
		# (its processes could not be trusted): the newest state is lost
		# with it, by the fault itself; its last checkpoint must restore
		# with the memory it was taken at
		local id
		id=$(jq -r '.image_id // empty' "$CR_T/$loc/store/containers/$CR_CID/generations/$newest/lineage.json" 2>/dev/null)
		n_killed=$((n_killed + 1))
		want=${digest_of[$id]:-}
		t_diag "step $n_steps: $what: the runtime killed the container (CRIU died holding it); its last checkpoint $newest (image $id, digest ${want:-unknown}) must restore"
	fi
	if [ -n "$newest" ]; then
		rm -rf "$img"
		if out=$(z "$loc" remnant export "$CR_CID" "$newest" "$img" 2>&1) && restore_on "$loc" "$img" --track-mem; then
			RESTORED_FROM_IMG=1
			verify_running "$loc" "$what: restored from the store's newest generation $newest" &&
				t_ok "step $n_steps: $what: restored on $loc from the store's newest generation $newest"
			return
		fi
		t_diag "step $n_steps: the store's newest generation $newest: ${out:-} ${CR_ERR:-}"
	fi
	n_lost=$((n_lost + 1))
	fail_step "$what: container lost" "status '${st:-gone}', no image restores: ${CR_ERR:-}"
	loc=''
}

op_move() {
	local to g img out fault='' delay
	local others=()
	for to in "${NODES[@]}"; do [ "$to" != "$loc" ] && others+=("$to"); done
	pick "${others[@]}"
	to=$REPLY
	gen=$((gen + 1))
	g=g$gen
	img=$CR_T/$loc/img/out/$g
	mkdir -p "$CR_T/$loc/img/out"
	checkpoint_args "$to"
	verify_running "$loc" "before the move" || return 1
	# a fault, now and then
	rnd 100
	if [ "$REPLY" -lt "${SOAK_FAULT_PCT:-35}" ]; then
		# shellcheck disable=SC2086
		pick ${SOAK_FAULTS:-kill-runtime-dump kill-criu-dump kill-runtime-post-dump kill-runtime-restore kill-criu-restore flip enospc stale kill-keeper kill-store-work}
		fault=$REPLY
	fi
	if [ "$fault" = kill-keeper ]; then
		# the tracking's keeper dies: the next checkpoint must be refused
		# with a word, or be full, or be a diff that restores exactly
		local keepers
		keepers=$(keepers_of "$loc" | tr '\n' ' ')
		if [ -n "$keepers" ]; then
			# shellcheck disable=SC2086
			kill -KILL $keepers 2>/dev/null
			fault kill-keeper "criu-keeper ${keepers% } of the container on $loc"
			sleep 0.2
			verify_running "$loc" "after its keeper was killed" || return 1
		else
			fault=''
		fi
	fi
	if [ "$fault" = stale ] && [ -n "$base" ]; then
		# a parent that is not the baseline: an older image, or one of
		# another lineage; the runtime refuses or writes a full image
		local other
		other=$(for x in ${holds[$loc]:-}; do [ "$x" != "$base" ] && [ -f "$CR_T/$loc/img/in/$x/inventory.img" ] && echo "$x"; done | head -n1)
		if [ -n "$other" ]; then
			fault stale "parent $other instead of $base"
			CK_ARGS=(--track-mem --parent-path "../../in/$other")
		fi
	fi
	if [ "$fault" = enospc ]; then
		fault enospc "image directory on a 1 MiB tmpfs"
		mkdir -p "$CR_T/small.$g"
		mount -t tmpfs -o size=1m tmpfs "$CR_T/small.$g"
		if cr_checkpoint "$loc" "$CR_T/small.$g/$g" "${CK_ARGS[@]}"; then
			fail_step "checkpoint into a 1 MiB tmpfs succeeded" "$(ls -la "$CR_T/small.$g/$g")"
		elif [ -z "$CR_ERR" ]; then
			fail_step "checkpoint into a 1 MiB tmpfs: refused without a word"
		else
			n_refused=$((n_refused + 1))
			t_ok "step $n_steps: checkpoint into a full disk refused: $(head -n1 <<<"$CR_ERR" | cut -c1-150)"
		fi
		umount -l "$CR_T/small.$g"
		after_failed_checkpoint "enospc" "/nonexistent"
		return
	fi
	# now and then, when nothing else is injected, a pre-dump first (as
	# `runc checkpoint --pre-dump` then `--parent-path`): the workload
	# writes between the two, the final image is a diff on the pre-dump
	# and both go to the target
	local pre=''
	if [ -z "$fault" ] && [ "$CK_DIFF" = 0 ]; then
		rnd 5
		if [ "$REPLY" = 0 ]; then
			pre=${g}p
			if ! cr_checkpoint "$loc" "$CR_T/$loc/img/out/$pre" --pre-dump; then
				fail_step "pre-dump on $loc" "$CR_ERR"
				return 1
			fi
			[ "$(cr_status "$loc")" = running ] || { fail_step "the container runs on after a pre-dump" "status $(cr_status "$loc")"; return 1; }
			rnd $((NPAGES / 10 + 1))
			out=$(wl_do "$loc" write "$REPLY") || { fail_step "write $REPLY pages after the pre-dump" "$out"; return 1; }
			want=''
			verify_running "$loc" "after a pre-dump and $REPLY pages written" || return 1
			CK_ARGS+=(--parent-path "../$pre")
		fi
	fi
	case $fault in
	kill-runtime-dump | kill-criu-dump | kill-runtime-post-dump)
		rnd 1500
		delay=$REPLY
		[ "$fault" = kill-runtime-post-dump ] && delay=0
		run_killed "${fault#kill-}" "$delay" "$ZANSHIN" --root "$CR_T/$loc/state" --remnant-root "$CR_T/$loc/store" \
			checkpoint --image-path "$img" "${CK_ARGS[@]}" "$CR_CID"
		fault "$fault" "after ${delay} ms, $([ $KILLED = 1 ] && echo landed || echo 'too late: it had ended'); the runtime exited $RK_RC"
		[ -s "$RK_OUT" ] && t_diag "checkpoint said: $(head -n 5 "$RK_OUT")"
		if [ $KILLED = 1 ]; then
			after_failed_checkpoint "$fault" "$img"
			[ -n "$loc" ] || return 1
			if [ "$RESTORED_FROM_IMG" = 1 ]; then
				# its baseline is now that image, held by the source
				holds[$loc]+=" $g"
				cp -a "$img" "$CR_T/$loc/img/in/$g" && rm -f "$CR_T/$loc/img/in/$g"/*.log
				base=$g
				[ ${#CK_ARGS[@]} -gt 0 ] && tracked=1 || tracked=0
			fi
			return
		fi
		if [ "$RK_RC" != 0 ]; then
			fail_step "checkpoint on $loc (the kill came after its end)" "$(head -n 5 "$RK_OUT")"
			after_failed_checkpoint "failed checkpoint" "$img"
			return 1
		fi
		;;
	*)
		if ! cr_checkpoint "$loc" "$img" "${CK_ARGS[@]}"; then
			if [ "$fault" = stale ]; then
				[ -n "$CR_ERR" ] || fail_step "a checkpoint against a stale parent: refused without a word"
				n_refused=$((n_refused + 1))
				t_ok "step $n_steps: checkpoint against a parent that is not the baseline refused: $(head -n1 <<<"$CR_ERR" | cut -c1-150)"
				after_failed_checkpoint "stale parent" "/nonexistent"
				return
			fi
			if [ "$fault" = kill-keeper ] && [ -n "$CR_ERR" ]; then
				# the tracking is gone with its keeper: a refusal that says
				# so, the container still running; it moves untracked next
				n_refused=$((n_refused + 1))
				t_ok "step $n_steps: checkpoint after the keeper was killed refused: $(head -n1 <<<"$CR_ERR" | cut -c1-150)"
				after_failed_checkpoint "keeper killed" "/nonexistent"
				tracked=0
				return
			fi
			fail_step "checkpoint on $loc" "$CR_ERR"
			after_failed_checkpoint "failed checkpoint" "$img"
			return 1
		fi
		;;
	esac
	cr_gone "$loc" || { fail_step "container gone from $loc after its checkpoint" "status $(cr_status "$loc")"; return 1; }
	remember "$img"
	holds[$loc]+=" $g"
	local full
	full=$(img_field "$img" full)
	[ "$full" = false ] && n_diffs=$((n_diffs + 1))
	if [ -n "$pre" ]; then
		ship "$loc" "$pre" "$to" || { fail_step "ship $pre to $to" "cp failed"; return 1; }
		n_predumps=$((n_predumps + 1))
	fi
	ship "$loc" "$g" "$to" || { fail_step "ship $g to $to" "cp failed"; return 1; }
	# the source's own copy, for a restore there when the target refuses
	local from=$loc track=()
	rnd 4
	[ "$REPLY" -gt 0 ] && track=(--track-mem)
	if [ "$fault" = flip ]; then
		local f off sz files bit
		mapfile -t files < <(cd "$CR_T/$to/img/in/$g" && find . -maxdepth 1 -type f \( -name 'pages-*.img' -o -name 'pagemap-*.img' -o -name 'core-*.img' -o -name 'mm-*.img' -o -name inventory.img \) | sort)
		pick "${files[@]}"
		f=${REPLY#./}
		sz=$(stat -c %s "$CR_T/$to/img/in/$g/$f")
		rnd $((sz > 0 ? sz : 1))
		off=$REPLY
		rnd 8
		bit=$REPLY
		printf "$(printf '\\%03o' $((($(od -An -tu1 -j "$off" -N1 "$CR_T/$to/img/in/$g/$f") ^ (1 << bit)) & 255)))" |
			dd of="$CR_T/$to/img/in/$g/$f" bs=1 seek="$off" conv=notrunc status=none
		fault flip "$g/$f byte $off on $to"
	fi
	case $fault in
	kill-store-work)
		# a restore keeps its image (and the Bundle) in the store in the
		# background, in a process it leaves behind: SIGKILL that process
		# a random time after it appears; the container runs on, and the
		# store holds only complete generations
		local workers='' i rpid t=0
		rnd 12
		delay=$REPLY
		cr_pipes
		"$ZANSHIN" --root "$CR_T/$to/state" --remnant-root "$CR_T/$to/store" restore -d --image-path "$CR_T/$to/img/in/$g" \
			--bundle "$CR_T/$to/bundle" "${track[@]}" "$CR_CID" <&"$CR_IN" >&"$CR_OUT" 2> >(exec cat >"$CR_T/rk.out") &
		rpid=$!
		for ((i = 0; i < 1000; i++)); do
			workers=$(store_workers "$to" | tr '\n' ' ')
			[ -n "$workers" ] && break
			kill -0 "$rpid" 2>/dev/null || t=$((t + 1))
			[ "$t" -gt 20 ] && break
			sleep 0.002
		done
		if [ -n "$workers" ]; then
			sleep "$(printf '0.%03d' "$delay")"
			workers=$(store_workers "$to" | tr '\n' ' ')
			# shellcheck disable=SC2086
			[ -n "$workers" ] && kill -KILL $workers 2>/dev/null
		fi
		wait "$rpid"
		local rc=$?
		fault kill-store-work "$delay ms after it started on $to: $([ -n "$workers" ] && echo "killed ${workers% }" || echo 'it had ended')"
		for ((i = 0; i < 50; i++)); do [ -z "$(store_workers "$to")" ] && break; sleep 0.1; done
		if [ $rc != 0 ]; then
			fail_step "restore on $to (its store work killed)" "$(cat "$CR_T/rk.out")"
			return 1
		fi
		loc=$to
		verify_running "$to" "moved $from→$to, the store's work killed" || return 1
		stores_verify "after the store's background work was killed on $to" || return 1
		t_ok "step $n_steps: moved $from→$to, the store's background work killed; memory and every store verify"
		;;
	kill-runtime-restore | kill-criu-restore)
		rnd 1200
		delay=$REPLY
		cr_pipes
		"$ZANSHIN" --root "$CR_T/$to/state" --remnant-root "$CR_T/$to/store" restore -d --image-path "$CR_T/$to/img/in/$g" \
			--bundle "$CR_T/$to/bundle" "${track[@]}" "$CR_CID" <&"$CR_IN" >&"$CR_OUT" 2> >(exec cat >"$CR_T/rk.out") &
		local rpid=$!
		sleep "$(printf '0.%03d' "$delay")"
		KILLED=0
		if [ "$fault" = kill-criu-restore ]; then
			local v i
			for ((i = 0; i < 50; i++)); do v=$(criu_of "$rpid") && break; kill -0 "$rpid" 2>/dev/null || break; sleep 0.02; done
			[ -n "${v:-}" ] && kill -KILL "$v" 2>/dev/null && KILLED=1
		else
			kill -KILL "$rpid" 2>/dev/null && KILLED=1
		fi
		wait "$rpid" 2>/dev/null
		fault "$fault" "after ${delay} ms, $([ $KILLED = 1 ] && echo landed || echo 'too late: it had ended')"
		sleep 0.5
		if [ "$(cr_status "$to")" = running ]; then
			loc=$to
			verify_running "$to" "restore survived $fault" && t_ok "step $n_steps: $fault: the container runs on $to, memory verified"
		else
			# not running: nothing of it may remain, and a retry restores it
			z "$to" delete -f "$CR_CID" >/dev/null 2>&1
			cr_gone "$to"
			local orphans
			orphans=$(rooted_in "$to")
			if [ -n "$orphans" ]; then
				fail_step "$fault: processes of the container run on $to without the runtime knowing" "$(for p in $orphans; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"
				kill -KILL $orphans 2>/dev/null
			fi
			if restore_on "$to" "$CR_T/$to/img/in/$g" "${track[@]}"; then
				loc=$to
				verify_running "$to" "restore retried after $fault" && t_ok "step $n_steps: $fault: the retry restored it on $to, memory verified"
			else
				n_lost=$((n_lost + 1))
				fail_step "$fault: a retry of the restore failed" "$CR_ERR" \
					"the killed attempt said: $(head -c 2000 "$CR_T/rk.out" 2>/dev/null)" \
					"$g: $(ls -l "$CR_T/$to/img/in/$g" 2>&1 | grep -w parent)" \
					"store of $to: $(z "$to" remnant --format json list "$CR_CID" 2>&1 | head -c 3000)" \
					"generations on disk: $(ls -a "$CR_T/$to/store/containers/$CR_CID/generations" 2>&1 | tr '\n' ' ')"
				loc=''
				return 1
			fi
		fi
		;;
	*)
		if restore_on "$to" "$CR_T/$to/img/in/$g" "${track[@]}"; then
			loc=$to
			if [ "$fault" = flip ]; then
				# a flipped byte may be one nothing reads; then the memory
				# must still be exactly right
				verify_running "$to" "restored from an image with a flipped byte" || return 1
				t_ok "step $n_steps: flipped byte not used; memory verified on $to"
			else
				verify_running "$to" "moved $from→$to" || return 1
				t_ok "step $n_steps: moved $from→$to ($([ "$full" = false ] && echo diff || echo full)${pre:+ on a pre-dump}, ${track[*]:-untracked}), memory verified"
			fi
		else
			[ -n "$CR_ERR" ] || fail_step "restore on $to refused without a word"
			z "$to" delete -f "$CR_CID" >/dev/null 2>&1
			if [ "$fault" = flip ]; then
				n_refused=$((n_refused + 1))
				t_ok "step $n_steps: restore of a damaged image refused: $(grep -m1 -i 'manifest\|checksum\|sha\|corrupt\|mismatch\|error' <<<"$CR_ERR" | cut -c1-160)"
			else
				fail_step "restore on $to" "$CR_ERR"
			fi
			# the target does not hold that image (damaged or refused)
			rm -rf "$CR_T/$to/img/in/$g"
			holds[$to]=${holds[$to]% $g}
			# the container goes back to the source, from the image it made
			if restore_on "$from" "$img" "${track[@]}"; then
				loc=$from
				verify_running "$from" "restored back on $from" || return 1
				t_ok "step $n_steps: restored back on $from, memory verified"
			else
				n_lost=$((n_lost + 1))
				fail_step "container lost: neither $to nor $from restores it" "$CR_ERR"
				loc=''
				return 1
			fi
		fi
		;;
	esac
	n_moves=$((n_moves + 1))
	# the model: the container was restored on $loc from img/in/G (or, back
	# at the source, from img/out/G: then it is the baseline too, as in/G)
	if [ "$loc" = "$from" ]; then
		rm -rf "$CR_T/$from/img/in/$g"
		mkdir -p "$CR_T/$from/img/in"
		cp -a "$img" "$CR_T/$from/img/in/$g"
		rm -f "$CR_T/$from/img/in/$g"/*.log
	fi
	base=$g
	[ ${#track[@]} -gt 0 ] && tracked=1 || tracked=0
	return 0
}

# a checkpoint that leaves the container running: for a tracked container
# the image becomes its baseline (the next diff is against it), so the
# model keeps it as img/in/sN of that node
op_snapshot() {
	local s=s$n_steps
	local img=$CR_T/$loc/img/in/$s
	if cr_checkpoint "$loc" "$img" --leave-running; then
		[ "$(cr_status "$loc")" = running ] || { fail_step "checkpoint --leave-running: still running" "status $(cr_status "$loc")"; return 1; }
		verify_running "$loc" "after checkpoint --leave-running" || return 1
		remember "$img"
		rm -f "$img"/*.log
		if [ "$tracked" = 1 ]; then
			base=$s
			holds[$loc]+=" $s"
		fi
		t_ok "step $n_steps: checkpoint --leave-running on $loc, memory verified"
	else
		fail_step "checkpoint --leave-running on $loc" "$CR_ERR"
		rm -rf "$img"
	fi
}

op_store() {
	local n what out
	pick "${NODES[@]}"
	n=$REPLY
	pick merge gc corrupt-manifest
	what=$REPLY
	case $what in
	merge)
		out=$(z "$n" remnant merge "$CR_CID" 2>&1) || t_diag "step $n_steps: merge on $n: $(head -n1 <<<"$out")"
		;;
	gc)
		out=$(z "$n" remnant gc 2>&1) || fail_step "gc on $n" "$out"
		;;
	corrupt-manifest)
		local g dir m
		g=$(z "$n" remnant list --format json 2>/dev/null | jq -r '.[].name' | sort | head -n1)
		[ -n "$g" ] || { t_ok "step $n_steps: $n's store is empty (no manifest to damage)"; return; }
		dir=$(z "$n" remnant list --format json 2>/dev/null | jq -r --arg g "$g" '.[] | select(.name == $g) | .path // empty')
		[ -n "$dir" ] || dir=$(find "$CR_T/$n/store" -type d -name "$g" | head -n1)
		m=$(find "$dir" -maxdepth 1 -name 'manifest*' -type f | head -n1)
		[ -n "$m" ] || { t_diag "step $n_steps: no manifest file in $dir"; return; }
		fault corrupt-manifest "$n $g $(basename "$m") truncated"
		cp -a "$m" "$CR_T/manifest.bak"
		truncate -s $(($(stat -c %s "$m") / 2)) "$m"
		if z "$n" remnant verify "$CR_CID" "$g" >/dev/null 2>&1; then
			n_corrupt=$((n_corrupt + 1))
			fail_step "verify accepted generation $g with a truncated manifest on $n"
		else
			n_refused=$((n_refused + 1))
			t_ok "step $n_steps: a truncated manifest is refused by verify ($n $g)"
		fi
		cp -a "$CR_T/manifest.bak" "$m"
		return
		;;
	esac
	stores_verify "after $what on $n" && t_ok "step $n_steps: $what on $n; every store verifies"
}

# pick_op: REPLY = the next operation, by the weights in SOAK_OPS
# ("op=weight ...", the default below; a long run of many hops weighs
# move higher). The defaults draw the same sequence as before the knob.
SOAK_OPS=${SOAK_OPS:-write=30 layout=12 move=38 snapshot=8 store=12}
pick_op() {
	local kv total=0 acc=0 r
	for kv in $SOAK_OPS; do total=$((total + ${kv#*=})); done
	rnd "$total"
	r=$REPLY
	for kv in $SOAK_OPS; do
		acc=$((acc + ${kv#*=}))
		if [ "$r" -lt "$acc" ]; then
			REPLY=${kv%%=*}
			return
		fi
	done
}

# ---- the run ----
for kv in $SOAK_OPS; do
	if ! declare -F "op_${kv%%=*}" >/dev/null || ! [[ ${kv#*=} =~ ^[0-9]+$ ]]; then
		echo "soak: SOAK_OPS: '$kv' is not OP=WEIGHT with OP one of write layout move snapshot store" >&2
		exit 2
	fi
done
for n in "${NODES[@]}"; do cr_node "$n"; mkdir -p "$CR_T/$n/img/in" "$CR_T/$n/img/out"; done
loc=${NODES[0]}
t_run "$loc"
verify_running "$loc" "fresh" || { t_done; exit; }
t_ok "step 0: the workload runs on $loc ($MIB MiB), memory verified"

t0=$SECONDS
for ((n_steps = 1; n_steps <= STEPS; n_steps++)); do
	[ -n "$loc" ] || break
	# after a wrong restore the container's memory is not what any
	# checkpoint held: the run ends there (the replay line says how to
	# get back to it)
	[ "$n_wrong" -eq 0 ] || break
	# SOAK_SECONDS bounds a long run (it ends with its summary)
	[ -z "${SOAK_SECONDS:-}" ] || [ $((SECONDS - t0)) -lt "$SOAK_SECONDS" ] || break
	pick_op
	op=$REPLY
	"op_$op"
	[ $((n_steps % 10)) -ne 0 ] || prune
	[ -n "$loc" ] && one_place "after $op"
done
n_steps=$((n_steps - 1))
stores_verify "at the end" && t_ok "at the end: every generation of every store verifies"
[ -n "$loc" ] && cr_delete "$loc"

kinds=$(for k in "${!faults_by_kind[@]}"; do echo "$k=${faults_by_kind[$k]}"; done | sort | tr '\n' ' ')
t_diag "faults by kind: ${kinds:-none}; moves $n_moves ($n_diffs diffs, $n_predumps after a pre-dump), refusals $n_refused, containers killed by a fault (restored from their last checkpoint) $n_killed, $((SECONDS - t0)) s"
if [ -n "${SOAK_RESULTS:-}" ]; then
	jq -n --argjson seed "$SEED" --argjson steps "$n_steps" --argjson faults "$n_faults" --argjson wrong "$n_wrong" \
		--argjson corrupt "$n_corrupt" --argjson lost "$n_lost" --argjson moves "$n_moves" --argjson diffs "$n_diffs" \
		--argjson refused "$n_refused" --argjson killed "$n_killed" --argjson predumps "$n_predumps" --argjson secs $((SECONDS - t0)) --argjson mib "$MIB" --arg kinds "$kinds" \
		'{seed: $seed, steps: $steps, mib: $mib, moves: $moves, diff_moves: $diffs, moves_after_predump: $predumps, faults: $faults,
		  faults_by_kind: ($kinds | split(" ") | map(select(. != "") | split("=") | {(.[0]): (.[1] | tonumber)}) | add // {}),
		  refusals: $refused, wrong_restores: $wrong, corrupt_generations_accepted: $corrupt, containers_lost: $lost, containers_killed_by_fault: $killed,
		  seconds: $secs}' >"$SOAK_RESULTS"
fi
t_done
rc=$?
echo "soak: $n_steps steps, $n_faults faults, $n_wrong wrong restores, $n_corrupt corrupt generations accepted, $n_lost containers lost"
exit $rc
