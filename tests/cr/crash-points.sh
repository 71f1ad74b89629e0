#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Crash consistency of the remnant store, at many points (issue 16 item 5):
# a checkpoint into the store (full, and an automatic diff), a `remnant
# merge` and a `remnant gc`, each killed (SIGKILL) at one syscall after
# another, leave a store with only complete generations and the newest
# state restorable.
#
# For each operation, one run under strace lists the syscalls of the
# runtime's own process (not CRIU's: strace without -f) that write
# something on this node's store or image directories (writes, renames,
# fsyncs, unlinks, mkdirs, symlinks, O_CREAT opens: -y names their files).
# Then, for a sample of those points (every one with CRASH_ALL=1), the
# operation runs again from the same starting state under
# `strace -e inject=SYSCALL:signal=KILL:when=N`: the runtime dies as it
# enters its N-th call of SYSCALL. After each kill the oracle checks:
#   - nothing is left locked (the container's store lock and .keeping
#     are free), `remnant list` reads every generation, `remnant gc`
#     succeeds and leaves no temporary directory, every generation
#     verifies against its manifest (`remnant verify`);
#   - the newest state is not lost: a container that still runs (CRIU
#     resumed it) has its memory; one that is gone comes back from the
#     --image-path written, or else from the store's newest generation,
#     with exactly the memory it had at the checkpoint (every page of
#     the workload, and its digest); after a merge or gc the store's
#     newest generation restores with the memory of the chain's leaf.
# The store's work is done inline (ZANSHIN_STORE_SYNC=1): the keeper's
# functions run in the traced process, so a kill lands in them too.
#
#   CRASH_POINTS=N   points per operation (default 6, plus the regression cases)
#   CRASH_ALL=1      every point (takes long)
#   CRASH_OPS="..."  operations among: full diff merge gc (default all)
#   CRASH_ONLY=OP:SYSCALL:N  replay one point
. "$(dirname "$0")/lib.sh"
CR_MIB=${CRASH_MIB:-16}
NPTS=${CRASH_POINTS:-6}
OPS=${CRASH_OPS:-full diff merge gc}
SYSCALLS=write,pwrite64,writev,rename,renameat,renameat2,fsync,fdatasync,unlink,unlinkat,rmdir,mkdir,mkdirat,symlink,symlinkat,link,linkat,ftruncate,copy_file_range,sendfile,openat,fchmod,fchmodat
# the syscalls that change a directory's entries (sampled apart from data writes)
STRUCT='^(rename|renameat|renameat2|fsync|fdatasync|unlink|unlinkat|rmdir|mkdir|mkdirat|symlink|symlinkat|link|linkat)$'

command -v strace >/dev/null || { echo "1..0 # skip strace is not installed (apt-get install strace)"; exit 0; }
cr_setup crash
export ZANSHIN_STORE_SYNC=1
# leftovers are collected by the first gc after a kill, not 10 minutes later
printf '{"remnant": {"tmp_grace": 0}}\n' >"$CR_T/zanshin.json"
printf '{"remnant": {"tmp_grace": 0, "max_bytes": 1}}\n' >"$CR_T/zanshin-small.json"
export ZANSHIN_CONFIG=$CR_T/zanshin.json
S=$CR_T/A/store
G=$S/containers/$CR_CID/generations
I=$CR_T/A/img

# zt TRACE-ARGS -- ARGS...: the runtime of node A under strace
zt() {
	local targs=()
	while [ "$1" != -- ]; do targs+=("$1"); shift; done
	shift
	strace -qq "${targs[@]}" "$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$S" "$@"
}

# criu_idle: wait (up to 60 s) until no CRIU works in our directories
# (a killed runtime's CRIU finishes or resumes the container on its own)
criu_idle() {
	local i p busy
	for ((i = 0; i < 600; i++)); do
		busy=
		for p in $(pgrep -x criu); do
			ls -l "/proc/$p/fd" "/proc/$p/cwd" 2>/dev/null | grep -qF "$CR_T/" && { busy=$p; break; }
		done
		[ -z "$busy" ] && return 0
		sleep 0.1
	done
	return 1
}

# reset STORE-COPY: the store as it was (the container removed first)
reset_store() {
	cr_delete A
	rm -rf "$S" && cp -a "$1" "$S"
}

# points OP TRACE: the sampled points SYSCALL:N of a traced run, one a line
points() {
	local trace=$2
	awk -v t="$CR_T/A/" -v st="$STRUCT" '
		{ n = index($0, "("); if (n < 2) next; sc = substr($0, 1, n - 1); cnt[sc]++ }
		index($0, t) == 0 || / = -1 E[A-Z]+ / { next }
		sc == "openat" && $0 !~ /O_CREAT/ { next }
		{ print (sc ~ st ? "s" : "d"), sc ":" cnt[sc] }' "$trace" >"$CR_T/$1.all"
	if [ "${CRASH_ALL:-0}" = 1 ]; then
		cut -d' ' -f2 "$CR_T/$1.all"
		return
	fi
	# half of the points among the directory changes, the rest among the
	# data writes, evenly spread over the run (first and last included)
	local ns nd ws wd
	ns=$(grep -c '^s ' "$CR_T/$1.all")
	nd=$(grep -c '^d ' "$CR_T/$1.all")
	ws=$(((NPTS + 1) / 2))
	[ "$ws" -gt "$ns" ] && ws=$ns
	wd=$((NPTS - ws))
	[ "$wd" -gt "$nd" ] && wd=$nd
	[ $((ws + wd)) -lt "$NPTS" ] && ws=$((NPTS - wd > ns ? ns : NPTS - wd))
	{
		grep '^s ' "$CR_T/$1.all" | cut -d' ' -f2 | pick "$ws"
		grep '^d ' "$CR_T/$1.all" | cut -d' ' -f2 | pick "$wd"
	} | awk '!seen[$0]++'
}

# pick K: K of the lines of stdin, evenly spread (the first and the last)
pick() {
	awk -v k="$1" '{ a[NR] = $0 }
		END { n = NR; if (k > n) k = n
			for (j = 0; j < k; j++) print a[k == 1 ? 1 : 1 + int(j * (n - 1) / (k - 1) + 0.5)] }'
}

# the regression cases, OP|REGEX: the first call of the traced run that
# matches REGEX
REGRESS=(
	# the runtime killed while it copied an automatic diff into a sibling
	# of --image-path: the sibling stayed forever (now removed by the next
	# checkpoint or restore of that path, its pid being gone)
	'diff|^copy_file_range\(.*/\.p\.zanshin-new-'
)

# point_of TRACE REGEX: SYSCALL:N of the first line matching REGEX
point_of() {
	RE=$2 awk '{ n = index($0, "("); if (n < 2) next; sc = substr($0, 1, n - 1); cnt[sc]++ }
		$0 ~ ENVIRON["RE"] { print sc ":" cnt[sc]; exit }' "$1"
}

# store_ok WHAT: the oracle's checks of the store (see the header)
store_ok() {
	local what=$1 out g bad=() gens
	for l in "$S/containers/$CR_CID/.lock" "$S/.keeping"; do
		[ -e "$l" ] || continue
		flock -n -E 99 "$l" true || bad+=("$l is still locked")
	done
	out=$(z A remnant gc 2>&1) || bad+=("remnant gc: $out")
	if ! gens=$(z A remnant list "$CR_CID" --format json 2>&1); then
		bad+=("remnant list: $gens")
		gens='[]'
	fi
	for g in $(jq -r '.[].name' <<<"$gens"); do
		out=$(z A remnant verify "$CR_CID" "$g" 2>&1) || bad+=("generation $g: $out")
	done
	out=$(find "$S" -name '.tmp-*' 2>/dev/null)
	[ -z "$out" ] || bad+=("temporary directories left after gc: $out")
	if [ ${#bad[@]} -eq 0 ]; then
		t_ok "$what: store consistent ($(jq length <<<"$gens") generations verify, nothing locked or left)"
	else
		t_fail "$what: store consistent" "${bad[@]}" "$(ls -la "$G" 2>&1)"
	fi
}

# restore_check WHAT DIR DIGEST: restore from DIR; 0 if it restored with
# DIGEST; 1 (and a failure) if it restored another memory; 2 if refused
restore_check() {
	local out
	cr_delete A
	if ! cr_restore A "$2"; then
		cr_delete A
		return 2
	fi
	if out=$(wl_do A verify) && [ "$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")" = "$3" ]; then
		cr_delete A
		return 0
	fi
	t_fail "$1: a restore from $2 brought back the wrong memory" "$out (want digest $3)"
	cr_delete A
	return 1
}

# newest_ok WHAT DIGEST: the store's newest generation restores with DIGEST
newest_ok() {
	local name out rc
	name=$(z A remnant list "$CR_CID" --format json 2>/dev/null | jq -r 'last | .name // empty')
	[ -n "$name" ] || { t_fail "$1: the newest state is lost" "the store holds no generation"; return; }
	rm -rf "$I/newest"
	if ! out=$(z A remnant export "$CR_CID" "$name" "$I/newest" 2>&1); then
		t_fail "$1: export of the newest generation $name" "$out"
		return
	fi
	restore_check "$1" "$I/newest" "$2"
	rc=$?
	[ $rc = 0 ] && t_ok "$1: the newest generation ($name) restores with its memory"
	[ $rc = 2 ] && t_fail "$1: the newest generation ($name) restores" "$CR_ERR"
}

# after_ckpt WHAT IMG DIGEST: the oracle after a checkpoint killed at a point
after_ckpt() {
	local what=$1 img=$2 d=$3 rc
	criu_idle || t_diag "$what: CRIU still busy after 60 s"
	# a CRIU that resumes the container may still thaw it
	for ((i = 0; i < 100; i++)); do
		case $(cr_status A) in paused | pausing | creating) sleep 0.1 ;; *) break ;; esac
	done
	if [ "$(cr_status A)" = running ]; then
		if out=$(wl_do A verify) && [ "$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")" = "$d" ]; then
			t_ok "$what: the container runs on with its memory"
		else
			t_fail "$what: the container runs on with its memory" "$out (want digest $d)"
		fi
		cr_delete A
		store_ok "$what"
		return
	fi
	store_ok "$what"
	rc=2
	[ -d "$img" ] && { restore_check "$what" "$img" "$d"; rc=$?; }
	case $rc in
	0) t_ok "$what: the container, stopped, restores from --image-path with its memory" ;;
	1) ;;
	2) newest_ok "$what (--image-path refused: ${CR_ERR:0:160})" "$d" ;;
	esac
	# a restore from the path settles what the killed runtime left beside it
	left=$(ls -A "$(dirname "$img")" | grep -F ".$(basename "$img").zanshin-")
	[ -z "$left" ] || t_fail "$what: nothing left beside --image-path after a restore from it" "$left"
}

# ---- the starting states --------------------------------------------------
cr_node A
t_run A
t_wl_verify "fresh" A || { t_done; exit; }
t_ckpt "base: full checkpoint into the store" A "$I/base" || { t_done; exit; }
cr_gone A
cp -a "$S" "$CR_T/store.0"

# start_ckpt OP: the container restored from base (tracked for a diff),
# pages written; sets D to the digest of its memory
start_ckpt() {
	local track=--no-track-mem
	[ "$1" = diff ] && track=--track-mem
	reset_store "$CR_T/store.0"
	rm -rf "$I/p" "$I"/.p.zanshin-*
	cr_restore A "$I/base" "$track" || { t_fail "$1: restore base $track" "$CR_ERR"; return 1; }
	wl_do A write 200 >/dev/null || return 1
	out=$(wl_do A verify) || return 1
	D=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
}

# the merge's chain: base, then three diffs (checkpoints that leave the
# container running); DM is the leaf's memory
chain_store() {
	local k
	reset_store "$CR_T/store.0"
	cr_restore A "$I/base" --track-mem || { t_fail "chain: restore base" "$CR_ERR"; return 1; }
	for k in 1 2 3; do
		wl_do A write 150 >/dev/null || return 1
		out=$(wl_do A verify) || return 1
		DM=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
		cr_checkpoint A "$I/m$k" --leave-running || { t_fail "chain: checkpoint $k" "$CR_ERR"; return 1; }
	done
	cr_delete A
	n=$(z A remnant list "$CR_CID" --format json | jq '[.[] | select(.kind == "diff" or .parent != null)] | length')
	[ "${n:-0}" -ge 2 ] || { t_fail "chain: diffs in the store" "$(z A remnant list "$CR_CID" 2>&1)"; return 1; }
	cp -a "$S" "$CR_T/store.m"
	# for gc: a full generation on top (the chain's leaf restored without
	# tracking, checkpointed whole), a leftover temporary directory
	cr_restore A "$I/m3" --no-track-mem || { t_fail "gc store: restore m3" "$CR_ERR"; return 1; }
	cr_checkpoint A "$I/g" || { t_fail "gc store: full checkpoint" "$CR_ERR"; return 1; }
	cr_gone A
	mkdir -p "$G/.tmp-merge-left" && echo x >"$G/.tmp-merge-left/pages-1.img"
	cp -a "$S" "$CR_T/store.g"
	t_ok "starting stores: a chain of $n diffs; and a full generation on top of it"
}

# run_op OP [INJECT]: the operation, traced (INJECT: SYSCALL:N to kill at)
run_op() {
	local op=$1 inj=() rc
	if [ -n "${2:-}" ]; then
		inj=(-e "inject=${2%%:*}:signal=KILL:when=${2##*:}")
	else
		inj=(-y -o "$CR_T/$op.trace" -e "trace=$SYSCALLS")
	fi
	case $op in
	full | diff)
		zt -e signal=none "${inj[@]}" -- checkpoint --image-path "$I/p" "$CR_CID" </dev/null >"$CR_T/op.out" 2>&1
		;;
	merge) zt "${inj[@]}" -- remnant merge "$CR_CID" >"$CR_T/op.out" 2>&1 ;;
	gc) ZANSHIN_CONFIG=$CR_T/zanshin-small.json zt "${inj[@]}" -- remnant gc >"$CR_T/op.out" 2>&1 ;;
	esac
	rc=$?
	return $rc
}

# start OP: the starting state of OP
start() {
	case $1 in
	full | diff) start_ckpt "$1" ;;
	merge) reset_store "$CR_T/store.m" ;;
	gc) reset_store "$CR_T/store.g" ;;
	esac
}

# oracle OP WHAT
oracle() {
	case $1 in
	full | diff) after_ckpt "$2" "$I/p" "$D" ;;
	merge | gc)
		store_ok "$2"
		newest_ok "$2" "$DM"
		;;
	esac
}

case " $OPS " in *" merge "* | *" gc "*) chain_store || { t_done; exit; } ;; esac

total=0
for op in $OPS; do
	if [ -n "${CRASH_ONLY:-}" ]; then
		[ "${CRASH_ONLY%%:*}" = "$op" ] || continue
		pts=${CRASH_ONLY#*:}
	else
		start "$op" || { t_fail "$op: starting state" "$out"; continue; }
		if ! run_op "$op"; then
			t_fail "$op: the traced run" "$(tail -n 5 "$CR_T/op.out")"
			continue
		fi
		oracle "$op" "$op (whole run)"
		pts=$(points "$op" "$CR_T/$op.trace")
		# regression cases: the points at which a defect was found,
		# found again by what the call does (their numbers change)
		for re in "${REGRESS[@]}"; do
			[ "${re%%|*}" = "$op" ] || continue
			p=$(point_of "$CR_T/$op.trace" "${re#*|}")
			[ -n "$p" ] && pts="$p $pts"
		done
		pts=$(printf '%s\n' $pts | awk '!seen[$0]++')
		t_diag "$op: $(wc -l <"$CR_T/$op.all") points write to the store or image directories; killing at: $(echo $pts)"
	fi
	for p in $pts; do
		start "$op" || { t_fail "$op @$p: starting state" "$out"; continue; }
		run_op "$op" "$p"
		rc=$?
		total=$((total + 1))
		if [ $rc = 137 ]; then
			oracle "$op" "$op killed at $p"
		else
			t_diag "$op @$p: not reached (exit $rc): $(tail -n1 "$CR_T/op.out")"
			oracle "$op" "$op @$p (not killed)"
		fi
	done
done
t_diag "$total kill points"
t_done
