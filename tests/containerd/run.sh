#!/bin/bash
# containerd 1.6 driving the runtime under test through its runc shim
# (io.containerd.runc.v2, `ctr run --runc-binary`):
#
#   RUNTIME=build/bin/zanshin tests/containerd/run.sh     (TAP on stdout)
#
# Starts its own containerd (own root, state, socket; CRI disabled, no
# network needed), imports the locally built OCI tar (tests/lib/oci-image.sh),
# then: run (output + exit code), detached run, exec (output + exit code),
# pause/resume (task status and the freezer cgroup), kill by signal, kill
# --all, delete; checks the runtime's state is gone. Everything it started is
# stopped and removed on exit, also on failure.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/oci-image.sh"
RUNTIME=${RUNTIME:-$top/build/bin/zanshin}
case $RUNTIME in /*) ;; *) RUNTIME=$top/$RUNTIME ;; esac
NS=zanshin-test-$$ # unique: concurrent runs must not share shim state or cgroups
SHIM_ROOT=/run/containerd/runc/$NS # the runc shim's default --root for $NS

R=$(mktemp -d /tmp/zanshin-ctd.XXXXXX)
# The runtime is called through a logging wrapper (same basename), so the
# test can prove which runtime containerd/Podman really ran, and with what.
REAL_RUNTIME=$RUNTIME
mkdir -p "$R/bin"
RUNTIME=$R/bin/$(basename "$REAL_RUNTIME")
printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$R/calls.log" "$REAL_RUNTIME" >"$RUNTIME"
chmod 0755 "$RUNTIME"
CTD_PID=
ctr_() { timeout 60 ctr -a "$R/sock" -n "$NS" "$@"; }

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
	# Shims that belong to our containerd (their command line names our socket).
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
	rm -rf "$R"
	[ -d "$SHIM_ROOT" ] && rmdir "$SHIM_ROOT" 2>/dev/null
	for c in /sys/fs/cgroup/*/"$NS"; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM

bail() { t_fail "$1" "${@:2}"; t_done; exit 1; }

[ -x "$REAL_RUNTIME" ] || bail "runtime under test" "RUNTIME=$REAL_RUNTIME is not executable (make all)"
command -v containerd >/dev/null || bail "containerd installed" "containerd missing (make deps)"
t_diag "runtime under test: $REAL_RUNTIME"

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
t_ok "containerd starts with its own root, state and socket"

IMG=$OCI_IMAGE_REF
tarball=$(oci_image_tar) || bail "build OCI image tar" "tests/lib/oci-image.sh failed"
out=$(ctr_ images import --snapshotter native "$tarball" 2>&1)
if ctr_ images ls -q | grep -qx "$IMG"; then
	t_ok "ctr images import of the local OCI tar ($IMG)"
else
	bail "ctr images import of the local OCI tar" "$out"
fi

# FIFOs of detached tasks and execs go to our directory, not /run/containerd/fifo.
mkdir -p "$R/fifo"
RUN=(run --snapshotter native --fifo-dir "$R/fifo" --runc-binary "$RUNTIME")
EXEC=(task exec --fifo-dir "$R/fifo")

# 1. foreground run: output and exit code come back through the shim.
out=$(ctr_ "${RUN[@]}" --rm "$IMG" c-run sh -c 'echo hello-$((6*7)); cat /etc/hostname >/dev/null; echo pid=$$' 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -qx 'hello-42' <<<"$out" && grep -qx 'pid=1' <<<"$out"; then
	t_ok "ctr run: output of the container, running as pid 1"
else
	t_fail "ctr run: output of the container" "rc=$rc" "$out"
fi
ctr_ "${RUN[@]}" --rm "$IMG" c-exit sh -c 'exit 7' >/dev/null 2>&1
rc=$?
if [ $rc -eq 7 ]; then t_ok "ctr run: exit code 7 propagated"; else t_fail "ctr run: exit code 7 propagated" "got $rc"; fi

# 2. detached container, exec into it.
# pid 1 ignores signals it has no handler for, so the shell traps TERM.
out=$(ctr_ "${RUN[@]}" -d "$IMG" c-bg sh -c 'trap "exit 143" TERM; sleep 1000 & wait' 2>&1)
st=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-bg" {print $3}')
if [ "$st" = RUNNING ]; then
	t_ok "ctr run -d: task RUNNING"
else
	bail "ctr run -d: task RUNNING" "status '$st'" "$out" "$(tail -20 "$R/containerd.log")"
fi
pid=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-bg" {print $2}')
if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sh ]; then
	t_ok "task pid $pid is the container's shell"
else
	t_fail "task pid is the container's shell" "pid '$pid' comm '$(cat "/proc/$pid/comm" 2>/dev/null)'"
fi

out=$(ctr_ "${EXEC[@]}" --exec-id e1 c-bg sh -c 'echo exec-$((40+2)); ls /proc | grep -c "^[0-9]"' 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -qx 'exec-42' <<<"$out"; then
	t_ok "ctr task exec: output"
else
	t_fail "ctr task exec: output" "rc=$rc" "$out"
fi
# The exec'd shell sees the container's pid namespace: sh (1), sleep, itself, ls, grep.
nprocs=$(tail -1 <<<"$out")
if [ "${nprocs:-0}" -ge 3 ] && [ "${nprocs:-99}" -le 6 ]; then
	t_ok "ctr task exec: runs in the container's pid namespace ($nprocs pids)"
else
	t_fail "ctr task exec: runs in the container's pid namespace" "saw '$nprocs' pids"
fi
ctr_ "${EXEC[@]}" --exec-id e2 c-bg sh -c 'exit 5' >/dev/null 2>&1
rc=$?
if [ $rc -eq 5 ]; then t_ok "ctr task exec: exit code 5 propagated"; else t_fail "ctr task exec: exit code 5 propagated" "got $rc"; fi

# ctr task ps: the shim asks the runtime for `ps --format json`.
out=$(ctr_ task ps c-bg 2>&1)
if grep -qw "$pid" <<<"$out" && [ "$(tail -n +2 <<<"$out" | grep -c .)" -ge 2 ]; then
	t_ok "ctr task ps: lists the container's processes (init $pid and its sleep)"
else
	t_fail "ctr task ps" "$out"
fi

# 3. pause / resume: task status and the freezer cgroup.
freezer=/sys/fs/cgroup/freezer/$NS/c-bg/freezer.state
[ -f "$freezer" ] || freezer=
out=$(ctr_ task pause c-bg 2>&1)
st=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-bg" {print $3}')
fs=$([ -n "$freezer" ] && cat "$freezer")
if [ "$st" = PAUSED ] && { [ -z "$freezer" ] || [ "$fs" = FROZEN ]; }; then
	t_ok "ctr task pause: PAUSED${freezer:+, freezer FROZEN}"
else
	t_fail "ctr task pause" "status '$st' freezer '$fs'" "$out"
fi
out=$(ctr_ task resume c-bg 2>&1)
st=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-bg" {print $3}')
fs=$([ -n "$freezer" ] && cat "$freezer")
if [ "$st" = RUNNING ] && { [ -z "$freezer" ] || [ "$fs" = THAWED ]; }; then
	t_ok "ctr task resume: RUNNING${freezer:+, freezer THAWED}"
else
	t_fail "ctr task resume" "status '$st' freezer '$fs'" "$out"
fi

# 4. kill --all with an extra process, then kill by signal name, delete.
ctr_ "${EXEC[@]}" -d --exec-id e3 c-bg sleep 999 >/dev/null 2>&1
out=$(ctr_ task kill -s SIGTERM c-bg 2>&1)
for _ in $(seq 50); do
	st=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-bg" {print $3}')
	[ "$st" = STOPPED ] && break
	sleep 0.1
done
if [ "$st" = STOPPED ]; then
	t_ok "ctr task kill -s SIGTERM: task STOPPED"
else
	t_fail "ctr task kill -s SIGTERM: task STOPPED" "status '$st'" "$out"
fi
if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
	t_ok "container process $pid is gone"
else
	t_fail "container process $pid is gone" "still alive"
fi
out=$(ctr_ task delete c-bg 2>&1)
rc=$?
ctr_ containers delete c-bg >/dev/null 2>&1
if [ $rc -eq 0 ] && ! ctr_ task ls -q | grep -qx c-bg && ! ctr_ containers ls -q | grep -qx c-bg; then
	t_ok "ctr task delete + containers delete"
else
	t_fail "ctr task delete + containers delete" "rc=$rc" "$out"
fi
if ! "$RUNTIME" --root "$SHIM_ROOT" list -q 2>/dev/null | grep -qx c-bg && [ ! -e "$SHIM_ROOT/c-bg" ]; then
	t_ok "runtime state of c-bg removed"
else
	t_fail "runtime state of c-bg removed" "$(ls -la "$SHIM_ROOT" 2>&1)"
fi
if [ ! -d "/sys/fs/cgroup/memory/$NS/c-bg" ] && [ ! -d "/sys/fs/cgroup/pids/$NS/c-bg" ]; then
	t_ok "cgroup of c-bg removed"
else
	t_fail "cgroup of c-bg removed" "/sys/fs/cgroup/*/$NS/c-bg still there"
fi

# 5. kill --all reaches every process of the container.
ctr_ "${RUN[@]}" -d "$IMG" c-all sh -c 'sleep 1001 & sleep 1002 & wait' >/dev/null 2>&1
sleep 0.5
ctr_ "${EXEC[@]}" -d --exec-id e4 c-all sleep 1003 >/dev/null 2>&1
sleep 0.3
before=$(pgrep -f '^sleep 100[123]$' | wc -l)
out=$(ctr_ task kill -a -s SIGKILL c-all 2>&1)
for _ in $(seq 50); do
	left=$(pgrep -f '^sleep 100[123]$' | wc -l)
	[ "$left" -eq 0 ] && break
	sleep 0.1
done
if [ "$before" -ge 3 ] && [ "$left" -eq 0 ]; then
	t_ok "ctr task kill --all: all 3 sleeps killed"
else
	t_fail "ctr task kill --all" "before: $before, left: $left" "$out"
fi
ctr_ task delete -f c-all >/dev/null 2>&1
ctr_ containers delete c-all >/dev/null 2>&1

# Every verb went through the runtime under test.
missing=
for v in create start exec pause resume kill delete ps; do
	grep -Eq "(^| )$v( |$)" "$R/calls.log" 2>/dev/null || missing="$missing $v"
done
if [ -z "$missing" ]; then
	t_ok "all of: create start exec pause resume kill delete ps went to $REAL_RUNTIME"
else
	t_fail "verbs called on the runtime under test" "never called:$missing" "$(sort "$R/calls.log" | cut -c1-160 | uniq | head -30)"
fi

t_done
