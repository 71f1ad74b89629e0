#!/bin/bash
# containerd 1.6 checkpointing and restoring a container of the runtime under
# test (issue 4, "containerd"):
#
#   RUNTIME=build/bin/zanshin tests/containerd/checkpoint.sh     (TAP on stdout)
#
# Own containerd (as tests/containerd/run.sh), the busybox image plus our
# memory workload (tests/containerd/wl-image.sh). The container fills WL_MIB
# MiB with known content; then, all through ctr and the runc shim:
#   ctr run -d --runc-binary RUNTIME
#   ctr containers checkpoint --task --rw  -> checkpoint 1 (a full generation;
#     the task runs on and verifies)
#   remove the container, ctr containers restore --live --rw; memory verifies
#   the restored container writes K pages
#   ctr containers checkpoint --task --rw  -> checkpoint 2: the node's remnant
#     store holds it as a diff of WL_PROCS*K..WL_PROCS*K + WL_SLACK pages
#     against the generation restored
#   remove, restore --live from checkpoint 2: memory verifies, with the
#     content written after the first restore
#   K more pages, checkpoint 3 (a diff again), restore --live with the store
#     moved away (another node): the image containerd holds restores alone.
# Then plain workloads left with the stdio the shim gives them (issue 12):
# a counter loop run -d (FIFOs: the shim hands the runtime pipes), run -d
# --null-io (the host's /dev/null) and the memory workload without
# redirections; checkpoint, remove, restore --live: the counter goes on from
# its count, the memory verifies. With a terminal (ctr run -d -t, given a
# tty by script(1)) the checkpoint works and ctr 1.6's restore, which gives
# the task no terminal, is refused with an error naming --console-socket,
# as runc refuses it.
# Each checkpoint image is deleted (ctr images rm --sync) before the next
# checkpoint: containerd 1.6 bug, see below.
# The runtime gets ZANSHIN_REMNANT_ROOT=$R/remnant from its wrapper, so the
# machine's /var/lib/zanshin is neither read nor changed.
# WL_MIB (default 64), WL_K (default 256), WL_SLACK (default 1024; pages the
# container's other processes and the workload's own bookkeeping may add),
# WL_CHILDREN (default 1), WL_THREADS (default 2).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/containerd/wl-image.sh"
RUNTIME=${RUNTIME:-$top/build/bin/zanshin}
case $RUNTIME in /*) ;; *) RUNTIME=$top/$RUNTIME ;; esac
WL_MIB=${WL_MIB:-64}
WL_K=${WL_K:-256}
WL_CHILDREN=${WL_CHILDREN:-1} # the workload's tree: 1 + WL_CHILDREN processes,
WL_THREADS=${WL_THREADS:-2}   # each with WL_MIB MiB and WL_THREADS writer threads
WL_PROCS=$((1 + WL_CHILDREN))
WL_SLACK=${WL_SLACK:-1024}
NS=zanshin-ckpt-$$
SHIM_ROOT=/run/containerd/runc/$NS

R=$(mktemp -d /tmp/zanshin-ctdckpt.XXXXXX)
REAL_RUNTIME=$RUNTIME
STORE=$R/remnant
mkdir -p "$R/bin" "$R/fifo"
RUNTIME=$R/bin/$(basename "$REAL_RUNTIME")
printf '#!/bin/sh\necho "$*" >>"%s"\nZANSHIN_REMNANT_ROOT="%s" exec "%s" "$@"\n' \
	"$R/calls.log" "$STORE" "$REAL_RUNTIME" >"$RUNTIME"
chmod 0755 "$RUNTIME"
CTD_PID=
ctr_() { timeout 120 ctr -a "$R/sock" -n "$NS" "$@"; }

cleanup() {
	local c pid
	if [ -S "$R/sock" ] && [ -n "$CTD_PID" ]; then
		for c in $(ctr_ task ls -q 2>/dev/null); do
			ctr_ task kill -a -s SIGKILL "$c" >/dev/null 2>&1
			sleep 0.2
			ctr_ task delete -f "$c" >/dev/null 2>&1
		done
		for c in $(ctr_ containers ls -q 2>/dev/null); do
			ctr_ containers delete "$c" >/dev/null 2>&1
		done
	fi
	for pid in $(pgrep -f "containerd-shim-runc-v2 .*$R/sock" 2>/dev/null); do
		kill -9 "$pid" 2>/dev/null
	done
	if [ -n "$CTD_PID" ]; then
		kill "$CTD_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$CTD_PID" 2>/dev/null
		wait "$CTD_PID" 2>/dev/null
	fi
	grep -F " $R/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	if [ "${_t_failed:-0}" -gt 0 ]; then
		# Keep the runtime's and CRIU's logs of a failed run for the report.
		local keep=$top/build/test-logs/containerd-checkpoint
		rm -rf "$keep" && mkdir -p "$keep"
		cp "$R/calls.log" "$R/containerd.log" "$keep/" 2>/dev/null
		find "$R/state" "$SHIM_ROOT" "$STORE" /run/containerd/io.containerd.runtime.v2.task/"$NS" \
			-name '*.log' 2>/dev/null | while read -r f; do
			cp "$f" "$keep/$(echo "${f#/}" | tr / _)" 2>/dev/null
		done
		echo "# logs of this run: build/test-logs/containerd-checkpoint" >&2
	fi
	# The runtime keeps the store in a detached process; remnant verbs wait for it.
	[ -d "$STORE" ] && timeout 60 "$REAL_RUNTIME" --remnant-root "$STORE" remnant list >/dev/null 2>&1
	rm -rf "$R"
	[ -d "$SHIM_ROOT" ] && rm -rf "$SHIM_ROOT" 2>/dev/null
	for c in /sys/fs/cgroup/*/"$NS"; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM

bail() { t_fail "$1" "${@:2}"; t_done; exit 1; }

[ -x "$REAL_RUNTIME" ] || bail "runtime under test" "RUNTIME=$REAL_RUNTIME is not executable (make all)"
command -v containerd >/dev/null || bail "containerd installed" "containerd missing (make deps)"
t_diag "runtime under test: $REAL_RUNTIME; remnant store: $STORE"

cat >"$R/config.toml" <<EOF
version = 2
root = "$R/root"
state = "$R/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$R/sock"
EOF
containerd --config "$R/config.toml" >"$R/containerd.log" 2>&1 &
CTD_PID=$!
for _ in $(seq 100); do
	[ -S "$R/sock" ] && ctr -a "$R/sock" version >/dev/null 2>&1 && break
	sleep 0.1
done
ctr -a "$R/sock" version >/dev/null 2>&1 || bail "containerd starts" "$(tail -20 "$R/containerd.log")"

IMG=$WL_IMAGE_REF
tarball=$(wl_image_tar "$R") || bail "image with the workload" "tests/containerd/wl-image.sh failed"
out=$(ctr_ images import --snapshotter native "$tarball" 2>&1)
ctr_ images ls -q | grep -qx "$IMG" || bail "ctr images import of the workload image" "$out"
t_ok "containerd up, workload image $IMG imported"

RUN=(run --snapshotter native --fifo-dir "$R/fifo" --runc-binary "$RUNTIME")

# ---- the workload in a container, driven through ctr task exec ----
_exec_n=0
# wl_exec C ARGS...: run ARGS in container C (for wl_in, wl_verify_in).
wl_exec() {
	local c=$1
	shift
	_exec_n=$((_exec_n + 1))
	ctr_ task exec --fifo-dir "$R/fifo" --exec-id "wl$_exec_n" "$c" "$@"
}
WL_SEQ_DIR=$R

task_status() { ctr_ task ls 2>/dev/null | awk -v c="$1" '$1 == c {print $3}'; }
task_pid() { ctr_ task ls 2>/dev/null | awk -v c="$1" '$1 == c {print $2}'; }

# remove C: kill and delete the task, delete the container (the checkpoint
# image in the content store is all that is left of it).
remove() {
	ctr_ task kill -a -s SIGKILL "$1" >/dev/null 2>&1
	for _ in $(seq 100); do
		[ "$(task_status "$1")" = STOPPED ] && break
		sleep 0.1
	done
	ctr_ task delete -f "$1" >/dev/null 2>&1
	ctr_ containers delete "$1" 2>&1
}

store_gens() { wl_store_gens "$REAL_RUNTIME" "$STORE" "$1"; }

# store_is_diff NAME C N: the store has N generations of C, the newest a
# diff of K..K+SLACK pages.
store_is_diff() {
	local name=$1 c=$2 n=$3 gens last cnt pages
	gens=$(store_gens "$c")
	t_diag "remnant store of $c: $(jq -c 'map({name, kind, chain_len, pages, parent})' <<<"${gens:-[]}" 2>/dev/null)"
	cnt=$(jq length <<<"${gens:-[]}" 2>/dev/null || echo 0)
	last=$(jq -c 'last // empty' <<<"${gens:-[]}" 2>/dev/null)
	if [ -z "$last" ] || [ "${cnt:-0}" -lt "$n" ]; then
		t_fail "$name: a diff generation in the store" \
			"the store at $STORE has ${cnt:-0} generation(s) of $c, expected $n (runtime without the remnant store?)" \
			"remnant list --format json said: $(head -c 2000 "$R/store.json" 2>/dev/null)" \
			"stderr: $(cat "$R/store.err" 2>/dev/null)" "now, remnant list says:" \
			"$("$REAL_RUNTIME" --remnant-root "$STORE" remnant list 2>&1 | head -20)"
		return 1
	fi
	if ! jq -e '.kind == "diff" or .diff == true' <<<"$last" >/dev/null; then
		t_fail "$name: a diff generation in the store" "the newest generation of $c is not a diff:" "$last"
		return 1
	fi
	t_ok "$name: a diff generation in the store ($(jq -r .name <<<"$last"), chain $(jq -r .chain_len <<<"$last"), parent $(jq -r .parent <<<"$last"))"
	pages=$(jq -r '.pages // empty' <<<"$last")
	if [[ $pages =~ ^[0-9]+$ ]] && [ "$pages" -ge $((WL_K * WL_PROCS)) ] && [ "$pages" -le $((WL_K * WL_PROCS + WL_SLACK)) ]; then
		t_ok "$name: the diff holds $pages pages ($WL_PROCS processes wrote K=$WL_K each; at most $WL_PROCS*K+$WL_SLACK of $((WL_MIB * 256 * WL_PROCS)) workload pages)"
	else
		t_fail "$name: the diff holds $WL_PROCS*K..$WL_PROCS*K+$WL_SLACK pages" "pages '$pages', K=$WL_K" "$last"
	fi
}

C="c-wl"
out=$(ctr_ "${RUN[@]}" -d "$IMG" "$C" sh -c "$WL_INIT" "$WL_MIB" "$WL_CHILDREN" "$WL_THREADS" 2>&1)
[ "$(task_status "$C")" = RUNNING ] || bail "ctr run -d: workload container RUNNING" "$out" "$(tail -20 "$R/containerd.log")"
if wl_wait_started "$C"; then
	t_ok "ctr run -d: workload filled $WL_PROCS x $WL_MIB MiB, $WL_THREADS threads each (in-container pid $VOUT)"
else
	bail "ctr run -d: workload starts" "zs-workload said '$VOUT'"
fi
# 16 pages written first: a freshly started workload has a different digest,
# so "same state" after a restore cannot be a cold start.
out=$(wl_in "$C" write 16) || bail "workload writes 16 pages" "$out"
wl_verify_in "$C" || bail "workload verifies before any checkpoint" "$VOUT"
D0=$WL_DIGEST
t_ok "workload writes 16 pages, verifies before any checkpoint ($VOUT)"

# ---- checkpoint 1, restore ----
# ckpt_index REF: media types and annotations of a checkpoint image's index.
ckpt_index() {
	local d
	d=$(ctr_ images ls 2>/dev/null | awk -v r="$1" '$1 == r {print $3}')
	ctr_ content get "$d" 2>&1 | jq -c '{annotations, manifests: [.manifests[] | {mediaType, size}]}' 2>&1
}
ckpt() { # C REF: checkpoint task and rw layer into REF
	ctr_ containers checkpoint --task --rw "$1" "$2" 2>&1
}
# has_task_ckpt REF: the checkpoint image holds the CRIU images (ctr 1.6
# drops them silently when the task checkpoint fails with AlreadyExists).
has_task_ckpt() { ckpt_index "$1" | grep -q 'criu.checkpoint.criu.tar'; }
out=$(ckpt "$C" localhost/ckpt-1:latest)
rc=$?
if [ $rc = 0 ] && ctr_ images ls -q | grep -qx localhost/ckpt-1:latest && has_task_ckpt localhost/ckpt-1:latest; then
	t_ok "ctr containers checkpoint --task --rw: checkpoint image ckpt-1"
else
	bail "ctr containers checkpoint --task --rw" "rc=$rc" "$out" "$(grep -i error "$R/containerd.log" | tail -5)" \
		"index of ckpt-1: $(ckpt_index localhost/ckpt-1:latest)"
fi
grep -Eq "(^| )checkpoint( |$)" "$R/calls.log" ||
	t_fail "checkpoint went to $REAL_RUNTIME" "calls.log has no checkpoint call"
# ctr checkpoints with the task left running (pause, checkpoint, resume).
if [ "$(task_status "$C")" = RUNNING ] && wl_verify_in "$C" "$D0"; then
	t_ok "after checkpoint 1 the task runs on, memory verifies ($VOUT)"
else
	t_fail "after checkpoint 1 the task runs on" "status '$(task_status "$C")'" "$VOUT"
fi
gens=$(store_gens "$C")
n1=$(jq length <<<"${gens:-[]}" 2>/dev/null || echo 0)
if [ "${n1:-0}" -ge 1 ]; then
	t_ok "remnant store: $n1 generation(s) of $C after checkpoint 1 ($(jq -r 'map(.kind // (if .diff then "diff" else "full" end)) | join(",")' <<<"$gens"))"
else
	t_fail "remnant store keeps checkpoint 1" "no generation of $C in $STORE (the runtime's remnant store is missing?)" \
		"$("$REAL_RUNTIME" --remnant-root "$STORE" remnant list --format json 2>&1 | head -20)"
fi

out=$(remove "$C") || bail "remove the checkpointed container" "$out"
out=$(ctr_ containers restore --live --rw "$C" localhost/ckpt-1:latest 2>&1)
rc=$?
st=$(task_status "$C")
if [ $rc = 0 ] && [ "$st" = RUNNING ]; then
	t_ok "ctr containers restore --live --rw: RUNNING (host pid $(task_pid "$C"))"
else
	bail "ctr containers restore --live --rw" "rc=$rc status '$st'" "$out" "$(grep -i error "$R/containerd.log" | tail -5)"
fi
grep -Eq "(^| )restore( |$)" "$R/calls.log" ||
	t_fail "restore went to $REAL_RUNTIME" "calls.log has no restore call"
if wl_verify_in "$C" "$D0"; then
	t_ok "restored from ckpt-1: memory verifies, same state ($VOUT)"
else
	t_fail "restored from ckpt-1: memory verifies" "$VOUT"
fi

# ---- K pages, checkpoint 2: a diff in the store ----
if out=$(wl_in "$C" write "$WL_K") && wl_verify_in "$C"; then
	D1=$WL_DIGEST
	t_ok "restored container writes $WL_K pages and verifies ($VOUT)"
else
	t_fail "restored container writes $WL_K pages and verifies" "$out" "${VOUT:-}"
	D1=
fi
# containerd 1.6 writes a checkpoint's spec blob with Writer.Commit, which
# fails with AlreadyExists when an identical blob is in the content store
# (ckpt-1's, same container, same spec); ctr ignores AlreadyExists and
# makes an image without the task's CRIU images ("ctr: media type not
# found" at restore; containerd issue 7980, PR 8145). So ckpt-1, restored
# from already, goes first (--sync: its blobs are garbage collected).
out=$(ctr_ images rm --sync localhost/ckpt-1:latest 2>&1) || t_diag "ctr images rm ckpt-1: $out"
out=$(ckpt "$C" localhost/ckpt-2:latest)
rc=$?
if [ $rc = 0 ] && ctr_ images ls -q | grep -qx localhost/ckpt-2:latest && has_task_ckpt localhost/ckpt-2:latest; then
	t_ok "second checkpoint of the restored container: checkpoint image ckpt-2"
else
	bail "second checkpoint of the restored container" "rc=$rc" "$out" "$(grep -i error "$R/containerd.log" | tail -5)" \
		"index of ckpt-2: $(ckpt_index localhost/ckpt-2:latest)"
fi
store_is_diff "checkpoint 2" "$C" 2

# ---- restore from checkpoint 2 ----
out=$(remove "$C") || t_fail "remove the container after checkpoint 2" "$out"
out=$(ctr_ containers restore --live --rw "$C" localhost/ckpt-2:latest 2>&1)
rc=$?
st=$(task_status "$C")
if [ $rc = 0 ] && [ "$st" = RUNNING ]; then
	t_ok "ctr containers restore --live from ckpt-2: RUNNING"
	if [ -n "$D1" ] && wl_verify_in "$C" "$D1"; then
		t_ok "restored from ckpt-2: memory verifies, the state after the K writes ($VOUT)"
	else
		t_fail "restored from ckpt-2: memory verifies" "${VOUT:-no digest of the state after the writes}"
	fi
else
	t_fail "ctr containers restore --live from ckpt-2" "rc=$rc status '$st'" "$out" "$(grep -i error "$R/containerd.log" | tail -5)" \
		"index of ckpt-2: $(ckpt_index localhost/ckpt-2:latest)"
fi
# ---- K more pages, checkpoint 3, restore it where the store is gone ----
# The image containerd got must restore by itself (it may be taken to
# another node): the store is moved away for this restore.
if wl_in "$C" write "$WL_K" >/dev/null && wl_verify_in "$C"; then
	D2=$WL_DIGEST
else
	D2=
	t_fail "container restored from ckpt-2 writes $WL_K pages" "$VOUT"
fi
ctr_ images rm --sync localhost/ckpt-2:latest >/dev/null 2>&1
out=$(ckpt "$C" localhost/ckpt-3:latest)
rc=$?
if [ $rc = 0 ] && has_task_ckpt localhost/ckpt-3:latest; then
	store_is_diff "checkpoint 3" "$C" 3
	remove "$C" >/dev/null
	"$REAL_RUNTIME" --remnant-root "$STORE" remnant list >/dev/null 2>&1 # waits for the store's keeping
	mv "$STORE" "$STORE.away"
	out=$(ctr_ containers restore --live --rw "$C" localhost/ckpt-3:latest 2>&1)
	rc=$?
	st=$(task_status "$C")
	if [ $rc = 0 ] && [ "$st" = RUNNING ] && [ -n "$D2" ] && wl_verify_in "$C" "$D2"; then
		t_ok "restore --live of ckpt-3 without the store (another node): memory verifies ($VOUT)"
	else
		t_fail "restore --live of ckpt-3 without the store (another node)" "rc=$rc status '$st'" "${VOUT:-}" "$out" \
			"$(grep -i error "$R/containerd.log" | grep -v 'loading cgroup' | tail -5)"
	fi
	"$REAL_RUNTIME" --remnant-root "$STORE" remnant list >/dev/null 2>&1
	rm -rf "$STORE"
	mv "$STORE.away" "$STORE"
else
	t_fail "checkpoint 3" "rc=$rc" "$out" "index of ckpt-3: $(ckpt_index localhost/ckpt-3:latest)"
fi

# ---- plain workloads with the stdio the shim gives them ----
# shellcheck disable=SC2016 # expanded in the container
COUNTER='i=0; while :; do i=$((i+1)); echo $i >/count.new; mv /count.new /count; echo count=$i; sleep 0.2; done'
count_of() { wl_exec "$1" cat /count 2>/dev/null; }
wait_count() { # C N: the counter of C reaches N (within 60 s: each look is a ctr exec, slow on a loaded machine)
	local end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do
		[ "$(count_of "$1")" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
# plain_counter C REF FLAGS...: ctr run -d FLAGS the counter, checkpoint
# into REF, remove, restore --live: it counts on from where it was.
plain_counter() {
	local c=$1 ref=$2 out rc st before last
	shift 2
	out=$(ctr_ "${RUN[@]}" -d "$@" "$IMG" "$c" sh -c "$COUNTER" 2>&1)
	if ! wait_count "$c" 3; then
		t_fail "plain counter (run -d $*): runs" "$out" "$(grep -i error "$R/containerd.log" | tail -3)"
		return 1
	fi
	t_diag "plain counter (run -d $*): the init's stdio: $(for f in 0 1 2; do readlink "/proc/$(task_pid "$c")/fd/$f"; done | tr '\n' ' ')"
	# read first: ctr resumes the task after the checkpoint, and what is
	# restored is at least this count
	before=$(count_of "$c")
	out=$(ckpt "$c" "$ref")
	rc=$?
	if [ $rc != 0 ] || ! has_task_ckpt "$ref"; then
		t_fail "plain counter (run -d $*): checkpoint" "rc=$rc" "$out" "$(grep -i error "$R/containerd.log" | tail -5)"
		return 1
	fi
	remove "$c" >/dev/null
	out=$(ctr_ containers restore --live --rw "$c" "$ref" 2>&1)
	rc=$?
	st=$(task_status "$c")
	last=$(count_of "$c")
	if [ $rc = 0 ] && [ "$st" = RUNNING ] && [ "${last:-0}" -ge "$before" ] && wait_count "$c" $((last + 3)); then
		t_ok "plain counter (run -d $*): checkpoint at $before, remove, restore --live, counts on from $last"
	else
		t_fail "plain counter (run -d $*): restore --live" "rc=$rc status '$st' count '$(count_of "$c")' after $before" "$out" \
			"$(grep -i error "$R/containerd.log" | tail -5)"
	fi
	remove "$c" >/dev/null
	ctr_ images rm --sync "$ref" >/dev/null 2>&1
}
plain_counter c-p1 localhost/ckpt-p1:latest
plain_counter c-p2 localhost/ckpt-p2:latest --null-io

# the memory workload, its init left on the shim's stdio (no redirections)
# shellcheck disable=SC2016
WL_INIT_PLAIN='zs-workload -d /wl -m "$0" -p "$1" -t "$2" >/wl/.start; exec sleep 100000000'
C4=c-p3
out=$(ctr_ "${RUN[@]}" -d --null-io "$IMG" "$C4" sh -c "$WL_INIT_PLAIN" "$WL_MIB" "$WL_CHILDREN" "$WL_THREADS" 2>&1)
if wl_wait_started "$C4" && wl_in "$C4" write 16 >/dev/null && wl_verify_in "$C4"; then
	D5=$WL_DIGEST
	out=$(ckpt "$C4" localhost/ckpt-p3:latest) && remove "$C4" >/dev/null &&
		out=$(ctr_ containers restore --live --rw "$C4" localhost/ckpt-p3:latest 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ "$(task_status "$C4")" = RUNNING ] && wl_verify_in "$C4" "$D5"; then
		t_ok "plain memory workload on the host's /dev/null (--null-io): checkpoint, remove, restore --live, memory verifies ($VOUT)"
	else
		t_fail "plain memory workload (--null-io): checkpoint, restore" "rc=$rc status '$(task_status "$C4")'" "${VOUT:-}" "$out" \
			"$(grep -i error "$R/containerd.log" | tail -5)"
	fi
else
	t_fail "plain memory workload (--null-io): starts" "$out" "${VOUT:-}"
fi
remove "$C4" >/dev/null

# ---- a terminal: ctr run -d -t ----
# ctr needs a tty of its own for -t: script(1) gives it one. timeout keeps
# ctr in the terminal's foreground process group (--foreground): script runs
# the command with $SHELL -c, and where SHELL is unset (CI) dash forks
# rather than execs, so a plain timeout put ctr in a background group and
# its tcsetattr() on the terminal stopped it with SIGTTOU until killed.
printf '#!/bin/sh\nexec timeout --foreground 60 ctr -a "%s" -n "%s" run -d -t --snapshotter native --fifo-dir "%s" --runc-binary "%s" "%s" c-tty sh -c "$1"\n' \
	"$R/sock" "$NS" "$R/fifo" "$RUNTIME" "$IMG" >"$R/tty-run.sh"
chmod 0755 "$R/tty-run.sh"
out=$(script -qec "$R/tty-run.sh '$COUNTER'" /dev/null 2>&1)
if wait_count c-tty 3 && [[ "$(readlink "/proc/$(task_pid c-tty)/fd/1")" == /dev/pts/* ]]; then
	out=$(ckpt c-tty localhost/ckpt-tty:latest)
	rc=$?
	if [ $rc = 0 ] && has_task_ckpt localhost/ckpt-tty:latest; then
		t_ok "run -d -t (stdio a pty): checkpoint"
		remove c-tty >/dev/null
		out=$(timeout 60 ctr -a "$R/sock" -n "$NS" containers restore --live --rw c-tty localhost/ckpt-tty:latest 2>&1)
		rc=$?
		if [ $rc != 0 ] && grep -q -- '--console-socket' <<<"$out"; then
			t_ok "ctr 1.6 restore of the terminal container (no terminal for the task): refused, naming --console-socket (runc refuses it too)"
		else
			t_fail "ctr restore of the terminal container: a clear refusal" "rc=$rc" "$out"
		fi
	else
		t_fail "run -d -t: checkpoint" "rc=$rc" "$out" "$(grep -i error "$R/containerd.log" | tail -5)"
	fi
else
	t_fail "run -d -t: a counter on a pty" "ctr run: $out" "task: $(ctr_ task ls 2>&1 | grep -w c-tty)" \
		"count: '$(count_of c-tty 2>&1)'; stdout of the init: $(readlink "/proc/$(task_pid c-tty)/fd/1" 2>&1)" \
		"$(grep -i error "$R/containerd.log" | tail -3)"
fi
# the task of a failed restore stays CREATED and ctr's delete of it does
# not return: its shim goes, then the records
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-id c-tty .*$R/sock" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
timeout 10 ctr -a "$R/sock" -n "$NS" task delete -f c-tty >/dev/null 2>&1
timeout 10 ctr -a "$R/sock" -n "$NS" containers delete c-tty >/dev/null 2>&1
ctr_ images rm --sync localhost/ckpt-tty:latest >/dev/null 2>&1

out=$(remove "$C")
if ! ctr_ containers ls -q | grep -qx "$C" && ! "$REAL_RUNTIME" --root "$SHIM_ROOT" list -q 2>/dev/null | grep -qx "$C"; then
	t_ok "container and runtime state removed"
else
	t_fail "container and runtime state removed" "$out"
fi

t_done
