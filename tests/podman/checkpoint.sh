#!/bin/bash
# Podman 4.3 checkpointing and restoring a container of the runtime under
# test (issue 4, "Podman"):
#
#   RUNTIME=build/bin/zanshin tests/podman/checkpoint.sh     (TAP on stdout)
#
# Podman set up as in tests/podman/run.sh (temporary root, vfs, cgroupfs,
# --runtime through a logging wrapper), the busybox image plus our memory
# workload (tests/containerd/wl-image.sh). The container fills WL_MIB MiB
# with known content; then:
#   podman container checkpoint / restore: memory verifies (same state)
#   write K pages; checkpoint --export X.tar.gz: the node's remnant store
#     holds it as a diff against the generation restored; podman rm;
#     restore --import X.tar.gz: memory verifies (the state after the writes)
#   write K pages again; checkpoint: a diff again (tracking restarted with
#     the imported restore); restore: memory verifies
#   export again, rm, move the store away, restore --import: verifies
#   checkpoint --leave-running; --pre-checkpoint then --with-previous; restore
#   restore --import --name zw2 of the same export next to the first: both verify.
#   plain workloads left with the stdio conmon gives them (issue 12): a
#   counter loop run -d (stdin the host's /dev/null), -d -i (stdin a pipe)
#   and -d -t (a terminal), and the memory workload without redirections:
#   checkpoint / restore, the counter continues from its count, the memory
#   verifies.
# The runtime gets ZANSHIN_REMNANT_ROOT=$R/remnant from its wrapper, so the
# machine's /var/lib/zanshin is neither read nor changed.
# WL_MIB (default 64), WL_K (default 256), WL_SLACK (default 1024),
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

R=$(mktemp -d /tmp/zanshin-podckpt.XXXXXX)
chmod 0711 "$R"
REAL_RUNTIME=$RUNTIME
STORE=$R/remnant
mkdir -p "$R/bin"
RUNTIME=$R/bin/$(basename "$REAL_RUNTIME")
printf '#!/bin/sh\necho "$*" >>"%s"\nZANSHIN_REMNANT_ROOT="%s" exec "%s" "$@"\n' \
	"$R/calls.log" "$STORE" "$REAL_RUNTIME" >"$RUNTIME"
chmod 0755 "$RUNTIME"
# Podman asks go-criu for the version of the `criu` on PATH before every
# checkpoint and restore ("requires at least CRIU 31100"); none is installed
# here, so PATH gets our CRIU, the one the runtime itself uses. (Installed
# users get it from the package: docs/packaging.md, tests/package/deb.sh.)
CRIU=${CRIU:-$top/build/bin/criu}
ln -s "$CRIU" "$R/bin/criu"
export PATH=$R/bin:$PATH
P=(podman --root "$R/root" --runroot "$R/runroot" --tmpdir "$R/tmp" --storage-driver vfs
	--cgroup-manager cgroupfs --events-backend file --runtime "$RUNTIME")
p_() { timeout 120 "${P[@]}" "$@"; }
CG_BEFORE=$(ls /sys/fs/cgroup 2>/dev/null | tr '\n' ' ')
cleanup_stray_cgroup_dirs() {
	local d
	for d in /sys/fs/cgroup/*; do
		[ -d "$d" ] || continue
		case " $CG_BEFORE " in *" $(basename "$d") "*) continue ;; esac
		mountpoint -q "$d" && continue
		[ "$(stat -f -c %T "$d")" = tmpfs ] || continue
		rm -rf "$d"
	done
}
LIBPOD_BEFORE=$(ls -d /sys/fs/cgroup/*/libpod_parent 2>/dev/null | tr '\n' ' ')
RUNOPTS=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

cleanup() {
	local c d
	if [ -d "$R/root" ]; then
		for c in $(p_ ps -aq 2>/dev/null); do p_ rm -f -t 0 "$c" >/dev/null 2>&1; done
	fi
	for c in $(pgrep -f "conmon .*$R/" 2>/dev/null); do kill -9 "$c" 2>/dev/null; done
	if [ "${_t_failed:-0}" -gt 0 ]; then
		# Keep the runtime's and CRIU's logs of a failed run for the report.
		local keep=$top/build/test-logs/podman-checkpoint
		rm -rf "$keep" && mkdir -p "$keep"
		cp "$R/calls.log" "$keep/" 2>/dev/null
		find "$R/root" "$R/runroot" "$STORE" \( -name '*.log' -o -name 'ctr.log' \) -size -20M 2>/dev/null |
			while read -r f; do cp "$f" "$keep/$(echo "${f#"$R"/}" | tr / _)" 2>/dev/null; done
		echo "# logs of this run: build/test-logs/podman-checkpoint" >&2
	fi
	# The runtime keeps the store in a detached process; remnant verbs wait for it.
	[ -d "$STORE" ] && timeout 60 "$REAL_RUNTIME" --remnant-root "$STORE" remnant list >/dev/null 2>&1
	grep -F " $R/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$R"
	cleanup_stray_cgroup_dirs
	for d in /sys/fs/cgroup/*/libpod_parent; do
		[ -d "$d" ] || continue
		case " $LIBPOD_BEFORE " in *" $d "*) continue ;; esac
		rmdir "$d/conmon" "$d" 2>/dev/null
	done
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM

bail() { t_fail "$1" "${@:2}"; t_done; exit 1; }

[ -x "$REAL_RUNTIME" ] || bail "runtime under test" "RUNTIME=$REAL_RUNTIME is not executable (make all)"
command -v podman >/dev/null || bail "podman installed" "podman missing (make deps)"
t_diag "runtime under test: $REAL_RUNTIME; remnant store: $STORE"

IMG=$WL_IMAGE_REF
tarball=$(wl_image_tar "$R") || bail "image with the workload" "tests/containerd/wl-image.sh failed"
out=$(p_ load -i "$tarball" 2>&1)
p_ images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -qx "$IMG" ||
	bail "podman load -i of the workload image" "$out"
t_ok "podman load -i of the workload image ($IMG)"

# wl_exec C ARGS...: run ARGS in container C (for wl_in, wl_verify_in).
wl_exec() { p_ exec "$@"; }
WL_SEQ_DIR=$R
state() { p_ inspect -f '{{.State.Status}}' "$1" 2>&1; }
store_gens() { wl_store_gens "$REAL_RUNTIME" "$STORE" "$1"; }
# why: the runtime's last log lines, for a failed checkpoint or restore.
why() {
	find "$R/root" "$R/runroot" \( -name 'dump.log' -o -name 'restore.log' \) -newer "$R/calls.log" 2>/dev/null |
		while read -r f; do
			echo "== $f"
			grep -E 'Error|error' "$f" | grep -v RLIMIT_NOFILE | head -5
		done
	tail -3 "$R/calls.log"
}

# store_is_diff NAME ID N: the newest of the store's generations of ID is
# a diff of K..K+SLACK pages, and there are N generations.
store_is_diff() {
	local name=$1 id=$2 n=$3 gens last cnt pages
	gens=$(store_gens "$id")
	t_diag "remnant store of ${id:0:12}: $(jq -c 'map({name, kind, chain_len, pages, parent})' <<<"${gens:-[]}" 2>/dev/null)"
	cnt=$(jq length <<<"${gens:-[]}" 2>/dev/null || echo 0)
	last=$(jq -c 'last // empty' <<<"${gens:-[]}" 2>/dev/null)
	if [ -z "$last" ] || [ "${cnt:-0}" -lt "$n" ]; then
		t_fail "$name: a diff generation in the store" \
			"the store at $STORE has ${cnt:-0} generation(s) of $id, expected $n (runtime without the remnant store?)" \
			"remnant list --format json said: $(head -c 2000 "$R/store.json" 2>/dev/null)" \
			"stderr: $(cat "$R/store.err" 2>/dev/null)" "now, remnant list says:" \
			"$("$REAL_RUNTIME" --remnant-root "$STORE" remnant list 2>&1 | head -20)"
		return 1
	fi
	if ! jq -e '.kind == "diff" or .diff == true' <<<"$last" >/dev/null; then
		t_fail "$name: a diff generation in the store" "the newest generation of $id is not a diff:" "$last"
		return 1
	fi
	pages=$(jq -r '.pages // empty' <<<"$last")
	if [[ $pages =~ ^[0-9]+$ ]] && [ "$pages" -ge $((WL_K * WL_PROCS)) ] && [ "$pages" -le $((WL_K * WL_PROCS + WL_SLACK)) ]; then
		t_ok "$name: a diff generation in the store ($(jq -r .name <<<"$last"), chain $(jq -r .chain_len <<<"$last"), $pages pages; $WL_PROCS processes wrote K=$WL_K each)"
	else
		t_fail "$name: a diff generation of $WL_PROCS*K..$WL_PROCS*K+$WL_SLACK pages" "pages '$pages', K=$WL_K" "$last"
		return 1
	fi
}

C=zw
out=$(p_ run -d --name "$C" "${RUNOPTS[@]}" "$IMG" sh -c "$WL_INIT" "$WL_MIB" "$WL_CHILDREN" "$WL_THREADS" 2>&1)
[ "$(state "$C")" = running ] || bail "podman run -d: workload container running" "$out"
ID=$(p_ inspect -f '{{.Id}}' "$C")
if wl_wait_started "$C"; then
	t_ok "podman run -d: workload filled $WL_PROCS x $WL_MIB MiB, $WL_THREADS threads each (in-container pid $VOUT)"
else
	bail "podman run -d: workload starts" "zs-workload said '$VOUT'"
fi
# 16 pages written first: a freshly started workload has a different digest,
# so "same state" after a restore cannot be a cold start.
out=$(wl_in "$C" write 16) || bail "workload writes 16 pages" "$out"
wl_verify_in "$C" || bail "workload verifies before any checkpoint" "$VOUT"
D0=$WL_DIGEST
t_ok "workload writes 16 pages, verifies before any checkpoint ($VOUT)"

# ---- 1. checkpoint / restore in place ----
out=$(p_ container checkpoint "$C" 2>&1)
rc=$?
st=$(state "$C")
if [ $rc = 0 ] && [ "$st" = exited ]; then
	t_ok "podman container checkpoint: container exited"
else
	bail "podman container checkpoint" "rc=$rc state '$st'" "$out" "$(why)"
fi
grep -Eq "(^| )checkpoint( |$)" "$R/calls.log" || t_fail "checkpoint went to $REAL_RUNTIME" "no checkpoint call in calls.log"
out=$(p_ container restore "$C" 2>&1)
rc=$?
st=$(state "$C")
if [ $rc = 0 ] && [ "$st" = running ]; then
	t_ok "podman container restore: running"
else
	bail "podman container restore" "rc=$rc state '$st'" "$out" "$(why)"
fi
grep -Eq "(^| )restore( |$)" "$R/calls.log" || t_fail "restore went to $REAL_RUNTIME" "no restore call in calls.log"
if wl_verify_in "$C" "$D0"; then
	t_ok "restored: memory verifies, same state ($VOUT)"
else
	t_fail "restored: memory verifies" "$VOUT"
fi
n=$(jq length <<<"$(store_gens "$ID")" 2>/dev/null)
if [ "${n:-0}" -ge 1 ]; then
	t_ok "remnant store keeps the first checkpoint of ${ID:0:12} ($n generation(s))"
else
	t_fail "remnant store keeps the first checkpoint" "no generation of $ID in $STORE (runtime without the remnant store?)"
fi

# ---- 2. K pages, checkpoint --export (a diff in the store), rm, restore --import ----
if wl_in "$C" write "$WL_K" >/dev/null && wl_verify_in "$C"; then
	D1=$WL_DIGEST
	t_ok "restored container writes $WL_K pages ($VOUT)"
else
	D1=
	t_fail "restored container writes $WL_K pages" "$VOUT"
fi
out=$(p_ container checkpoint --export "$R/export.tar.gz" "$C" 2>&1)
rc=$?
if [ $rc = 0 ] && [ -s "$R/export.tar.gz" ] && [ "$(state "$C")" = exited ]; then
	t_ok "podman container checkpoint --export: $(du -h "$R/export.tar.gz" | cut -f1) tarball"
else
	bail "podman container checkpoint --export" "rc=$rc state '$(state "$C")'" "$out" "$(why)"
fi
store_is_diff "checkpoint after the restore" "$ID" 2
out=$(p_ rm "$C" 2>&1)
if [ -z "$(p_ ps -aq 2>/dev/null)" ]; then
	t_ok "podman rm of the checkpointed container"
else
	t_fail "podman rm of the checkpointed container" "$out"
fi
out=$(p_ container restore --import "$R/export.tar.gz" 2>&1)
rc=$?
st=$(state "$C")
if [ $rc = 0 ] && [ "$st" = running ]; then
	t_ok "podman container restore --import: running"
else
	bail "podman container restore --import" "rc=$rc state '$st'" "$out" "$(why)"
fi
if [ -n "$D1" ] && wl_verify_in "$C" "$D1"; then
	t_ok "restored from the export: memory verifies, the state after the writes ($VOUT)"
else
	t_fail "restored from the export: memory verifies" "${VOUT:-no digest of the state after the writes}"
fi
ID2=$(p_ inspect -f '{{.Id}}' "$C")
[ "$ID2" = "$ID" ] || t_diag "restore --import gave the container a new id ${ID2:0:12} (was ${ID:0:12})"

# ---- 3. again after the imported restore: K pages, checkpoint (a diff), restore ----
if wl_in "$C" write "$WL_K" >/dev/null && wl_verify_in "$C"; then
	D2=$WL_DIGEST
	t_ok "imported container writes $WL_K pages ($VOUT)"
else
	D2=
	t_fail "imported container writes $WL_K pages" "$VOUT"
fi
out=$(p_ container checkpoint "$C" 2>&1)
rc=$?
if [ $rc = 0 ] && [ "$(state "$C")" = exited ]; then
	t_ok "podman container checkpoint of the imported container"
	store_is_diff "checkpoint after restore --import" "$ID2" 3
else
	t_fail "podman container checkpoint of the imported container" "rc=$rc state '$(state "$C")'" "$out" "$(why)"
fi
out=$(p_ container restore "$C" 2>&1)
rc=$?
st=$(state "$C")
if [ $rc = 0 ] && [ "$st" = running ] && [ -n "$D2" ] && wl_verify_in "$C" "$D2"; then
	t_ok "podman container restore: memory verifies ($VOUT)"
else
	t_fail "podman container restore after the third checkpoint" "rc=$rc state '$st'" "${VOUT:-}" "$out" "$(why)"
fi

# ---- 4. export, rm, import on a "node" without the store ----
# The exported tarball must restore by itself: the store is moved away (as
# if the import ran on another node), then the import restores and verifies.
if wl_in "$C" write "$WL_K" >/dev/null && wl_verify_in "$C"; then
	D3=$WL_DIGEST
else
	D3=
	t_fail "container writes $WL_K pages before the last export" "$VOUT"
fi
out=$(p_ container checkpoint --export "$R/export2.tar.gz" "$C" 2>&1)
rc=$?
if [ $rc = 0 ] && [ -s "$R/export2.tar.gz" ]; then
	store_is_diff "checkpoint --export after three restores" "$ID2" 4
	p_ rm "$C" >/dev/null 2>&1
	"$REAL_RUNTIME" --remnant-root "$STORE" remnant list >/dev/null 2>&1 # waits for the store's keeping
	mv "$STORE" "$STORE.away"
	out=$(p_ container restore --import "$R/export2.tar.gz" 2>&1)
	rc=$?
	st=$(state "$C")
	if [ $rc = 0 ] && [ "$st" = running ] && [ -n "$D3" ] && wl_verify_in "$C" "$D3"; then
		t_ok "restore --import without the store (another node): memory verifies ($VOUT)"
	else
		t_fail "restore --import without the store (another node)" "rc=$rc state '$st'" "${VOUT:-}" "$out" "$(why)"
	fi
	"$REAL_RUNTIME" --remnant-root "$STORE" remnant list >/dev/null 2>&1
	rm -rf "$STORE"
	mv "$STORE.away" "$STORE"
else
	t_fail "podman container checkpoint --export after three restores" "rc=$rc" "$out" "$(why)"
fi

# ---- 5. --leave-running, then --pre-checkpoint / --with-previous ----
if [ "$(state "$C")" = running ]; then
	wl_in "$C" write "$WL_K" >/dev/null
	out=$(p_ container checkpoint --leave-running "$C" 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ "$(state "$C")" = running ] && wl_verify_in "$C"; then
		t_ok "podman container checkpoint --leave-running: still running, memory verifies ($VOUT)"
	else
		t_fail "podman container checkpoint --leave-running" "rc=$rc state '$(state "$C")'" "${VOUT:-}" "$out" "$(why)"
	fi
	wl_in "$C" write "$WL_K" >/dev/null
	out=$(p_ container checkpoint --pre-checkpoint "$C" 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ "$(state "$C")" = running ]; then
		t_ok "podman container checkpoint --pre-checkpoint: still running"
	else
		t_fail "podman container checkpoint --pre-checkpoint" "rc=$rc state '$(state "$C")'" "$out" "$(why)"
	fi
	if wl_in "$C" write "$WL_K" >/dev/null && wl_verify_in "$C"; then D4=$WL_DIGEST; else D4=; fi
	out=$(p_ container checkpoint --with-previous "$C" 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ "$(state "$C")" = exited ]; then
		t_ok "podman container checkpoint --with-previous: exited"
	else
		t_fail "podman container checkpoint --with-previous" "rc=$rc state '$(state "$C")'" "$out" "$(why)"
	fi
	out=$(p_ container restore "$C" 2>&1)
	rc=$?
	st=$(state "$C")
	if [ $rc = 0 ] && [ "$st" = running ] && [ -n "$D4" ] && wl_verify_in "$C" "$D4"; then
		t_ok "restore after --with-previous: memory verifies ($VOUT)"
	else
		t_fail "restore after --with-previous" "rc=$rc state '$st'" "${VOUT:-}" "$out" "$(why)"
	fi
else
	t_fail "--leave-running, --pre-checkpoint, --with-previous" "container $C is not running"
fi

# ---- 6. a second container from the same export (restore --import --name) ----
if [ -s "$R/export2.tar.gz" ]; then
	out=$(p_ container restore --import "$R/export2.tar.gz" --name zw2 2>&1)
	rc=$?
	st=$(state zw2)
	if [ $rc = 0 ] && [ "$st" = running ] && [ -n "$D3" ] && wl_verify_in zw2 "$D3" && v2=$VOUT &&
		wl_verify_in "$C" "$D4"; then
		t_ok "restore --import --name zw2 next to $C: both verify (zw2 $v2)"
	else
		t_fail "restore --import --name zw2 next to $C" "rc=$rc state '$st'" "${VOUT:-}" "$out" "$(why)"
	fi
	p_ rm -f -t 0 zw2 >/dev/null 2>&1
fi

# ---- 7. plain workloads with the stdio conmon gives them ----
# shellcheck disable=SC2016 # expanded in the container
COUNTER='i=0; while :; do i=$((i+1)); echo $i >/count.new; mv /count.new /count; echo count=$i; sleep 0.2; done'
count_of() { p_ exec "$1" cat /count 2>/dev/null; }
# wait_count C N: the counter of C reaches N
wait_count() {
	local _
	for _ in $(seq 100); do
		[ "$(count_of "$1")" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# plain_counter NAME FLAGS...: run the counter with FLAGS, checkpoint,
# restore; it goes on from its count and logs the next one.
plain_counter() {
	local c=$1 out rc last st before
	shift
	out=$(p_ run "$@" --name "$c" "${RUNOPTS[@]}" "$IMG" sh -c "$COUNTER" 2>&1)
	if ! wait_count "$c" 3; then
		t_fail "plain counter ($*): runs" "$out" "$(p_ logs "$c" 2>&1 | tail -3)"
		return 1
	fi
	before=$(count_of "$c")
	out=$(p_ container checkpoint "$c" 2>&1)
	rc=$?
	if [ $rc != 0 ] || [ "$(state "$c")" != exited ]; then
		t_fail "plain counter ($*): podman container checkpoint" "rc=$rc state '$(state "$c")'" "$out" "$(why)"
		return 1
	fi
	out=$(p_ container restore "$c" 2>&1)
	rc=$?
	st=$(state "$c")
	last=$(p_ exec "$c" cat /count 2>/dev/null)
	if [ $rc = 0 ] && [ "$st" = running ] && [ "${last:-0}" -ge "$before" ] && wait_count "$c" $((last + 3)); then
		t_ok "plain counter ($*): checkpoint at $before, restore, counts on from $last"
	else
		t_fail "plain counter ($*): restore" "rc=$rc state '$st' count '$(count_of "$c")' after $last" "$out" "$(why)"
		return 1
	fi
	case " $* " in *" -t "*) ;; *)
		p_ logs "$c" 2>&1 | grep -qx "count=$((last + 2))" ||
			t_fail "plain counter ($*): logs go on after the restore" "$(p_ logs "$c" 2>&1 | tail -5)" ;;
	esac
	p_ rm -f -t 0 "$c" >/dev/null 2>&1
}
# (a failed one is removed too: the last test counts what is left)
for args in "zp1 -d" "zp2 -d -i" "zp3 -d -t"; do
	# shellcheck disable=SC2086
	plain_counter $args || p_ rm -f -t 0 "${args%% *}" >/dev/null 2>&1
done

# the memory workload, its init left on conmon's stdio (no redirections)
# shellcheck disable=SC2016
WL_INIT_PLAIN='zs-workload -d /wl -m "$0" -p "$1" -t "$2" >/wl/.start; exec sleep 100000000'
out=$(p_ run -d --name zp4 "${RUNOPTS[@]}" "$IMG" sh -c "$WL_INIT_PLAIN" "$WL_MIB" "$WL_CHILDREN" "$WL_THREADS" 2>&1)
if wl_wait_started zp4 && wl_in zp4 write 16 >/dev/null && wl_verify_in zp4; then
	D5=$WL_DIGEST
	out=$(p_ container checkpoint zp4 2>&1) && out=$(p_ container restore zp4 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ "$(state zp4)" = running ] && wl_verify_in zp4 "$D5"; then
		t_ok "plain memory workload on conmon's stdio: checkpoint, restore, memory verifies ($VOUT)"
	else
		t_fail "plain memory workload on conmon's stdio: checkpoint, restore" "rc=$rc state '$(state zp4)'" "${VOUT:-}" "$out" "$(why)"
	fi
else
	t_fail "plain memory workload on conmon's stdio: starts" "$out" "${VOUT:-}"
fi
p_ rm -f -t 0 zp4 >/dev/null 2>&1

rt_root=$(grep -o -- '--root[= ][^ ]*' "$R/calls.log" | head -n1 | cut -c8-)
out=$(p_ rm -f -t 0 "$C" 2>&1)
if [ -z "$(p_ ps -aq 2>/dev/null)" ] && ! "$REAL_RUNTIME" ${rt_root:+--root "$rt_root"} list -q 2>/dev/null | grep -qx "$ID2"; then
	t_ok "podman rm -f: no container left, none in the runtime's state (root ${rt_root:-default})"
else
	t_fail "podman rm -f: no container left" "$out"
fi

t_done
