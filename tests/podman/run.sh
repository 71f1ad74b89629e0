#!/bin/bash
# Podman 4.3 with the runtime under test (`podman --runtime`):
#
#   RUNTIME=build/bin/zanshin tests/podman/run.sh     (TAP on stdout)
#
# Everything lives in a temporary --root/--runroot/--tmpdir (vfs storage,
# cgroupfs, file events, no network), so it neither sees nor touches the
# machine's own Podman state. Loads the locally built OCI tar
# (tests/lib/oci-image.sh), then: run (output, exit code), run -d, exec
# (output, exit code, --user, --env, --workdir), pause/unpause, stop, rm.
# The rlimits are given explicitly: the sandbox refuses raising them (see
# MACHINE.md).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/oci-image.sh"
RUNTIME=${RUNTIME:-$top/build/bin/zanshin}
case $RUNTIME in /*) ;; *) RUNTIME=$top/$RUNTIME ;; esac

R=$(mktemp -d /tmp/zanshin-podman.XXXXXX)
chmod 0711 "$R"
# The runtime is called through a logging wrapper (same basename), so the
# test can prove which runtime containerd/Podman really ran, and with what.
REAL_RUNTIME=$RUNTIME
mkdir -p "$R/bin"
RUNTIME=$R/bin/$(basename "$REAL_RUNTIME")
printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$R/calls.log" "$REAL_RUNTIME" >"$RUNTIME"
chmod 0755 "$RUNTIME"
P=(podman --root "$R/root" --runroot "$R/runroot" --tmpdir "$R/tmp" --storage-driver vfs
	--cgroup-manager cgroupfs --events-backend file --runtime "$RUNTIME")
p_() { timeout 90 "${P[@]}" "$@"; }
# /sys/fs/cgroup is a tmpfs here, and controllers listed in /proc/cgroups but
# not mounted (net_cls, perf_event, ...) get plain directories created in it
# by tools that mkdir -p every controller. Remove any that appeared during
# the run (never a mount point, never one that existed before).
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
	local c
	if [ -d "$R/root" ]; then
		for c in $(p_ ps -aq 2>/dev/null); do p_ rm -f -t 0 "$c" >/dev/null 2>&1; done
	fi
	# conmon processes of our containers (their command line names our dir).
	for c in $(pgrep -f "conmon .*$R/" 2>/dev/null); do kill -9 "$c" 2>/dev/null; done
	grep -F " $R/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$R"
	cleanup_stray_cgroup_dirs
	# conmon's cgroup parent (cgroupfs manager), if this test created it.
	local d
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
t_diag "runtime under test: $REAL_RUNTIME"

IMG=$OCI_IMAGE_REF
tarball=$(oci_image_tar) || bail "build OCI image tar" "tests/lib/oci-image.sh failed"
out=$(p_ load -i "$tarball" 2>&1)
if p_ images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -qx "$IMG"; then
	t_ok "podman load -i of the local OCI tar ($IMG)"
else
	bail "podman load -i of the local OCI tar" "$out"
fi

out=$(p_ run --rm "${RUNOPTS[@]}" "$IMG" sh -c 'echo hello-$((6*7)); echo pid=$$; ulimit -n' 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -qx hello-42 <<<"$out" && grep -qx pid=1 <<<"$out" && grep -qx 1024 <<<"$out"; then
	t_ok "podman run: output, pid 1, nofile limit 1024"
else
	t_fail "podman run: output, pid 1, nofile limit 1024" "rc=$rc" "$out"
fi
p_ run --rm "${RUNOPTS[@]}" "$IMG" sh -c 'exit 9' >/dev/null 2>&1
rc=$?
if [ $rc -eq 9 ]; then t_ok "podman run: exit code 9 propagated"; else t_fail "podman run: exit code 9 propagated" "got $rc"; fi

out=$(p_ run -d --name zt1 "${RUNOPTS[@]}" "$IMG" sh -c 'trap "exit 0" TERM; sleep 1000 & wait' 2>&1)
st=$(p_ inspect -f '{{.State.Status}}' zt1 2>&1)
if [ "$st" = running ]; then
	t_ok "podman run -d: running"
else
	bail "podman run -d: running" "state '$st'" "$out"
fi
pid=$(p_ inspect -f '{{.State.Pid}}' zt1 2>/dev/null)

out=$(p_ exec zt1 sh -c 'echo exec-$((40+2))' 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ "$out" = exec-42 ]; then t_ok "podman exec: output"; else t_fail "podman exec: output" "rc=$rc" "$out"; fi
p_ exec zt1 sh -c 'exit 4' >/dev/null 2>&1
rc=$?
if [ $rc -eq 4 ]; then t_ok "podman exec: exit code 4 propagated"; else t_fail "podman exec: exit code 4 propagated" "got $rc"; fi
out=$(p_ exec --user 65534:65534 --env ZT=val-1 --workdir /tmp zt1 sh -c 'echo "$(id -u):$(id -g) $ZT $(pwd)"' 2>&1)
if [ "$out" = "65534:65534 val-1 /tmp" ]; then
	t_ok "podman exec --user --env --workdir"
else
	t_fail "podman exec --user --env --workdir" "got '$out'"
fi

out=$(p_ pause zt1 2>&1)
st=$(p_ inspect -f '{{.State.Status}}' zt1 2>&1)
if [ "$st" = paused ]; then t_ok "podman pause"; else t_fail "podman pause" "state '$st'" "$out"; fi
out=$(p_ unpause zt1 2>&1)
st=$(p_ inspect -f '{{.State.Status}}' zt1 2>&1)
if [ "$st" = running ]; then t_ok "podman unpause"; else t_fail "podman unpause" "state '$st'" "$out"; fi

out=$(p_ stop -t 10 zt1 2>&1)
rc=$?
st=$(p_ inspect -f '{{.State.Status}} {{.State.ExitCode}}' zt1 2>&1)
if [ $rc -eq 0 ] && [ "$st" = "exited 0" ] && ! kill -0 "$pid" 2>/dev/null; then
	t_ok "podman stop: exited 0 (SIGTERM handled), process gone"
else
	t_fail "podman stop" "rc=$rc state '$st' pid $pid" "$out"
fi
out=$(p_ rm zt1 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$(p_ ps -aq 2>/dev/null)" ]; then
	t_ok "podman rm: no container left"
else
	t_fail "podman rm" "rc=$rc" "$out"
fi

# Every verb went through the runtime under test.
missing=
for v in create start exec pause resume kill delete; do
	grep -Eq "(^| )$v( |$)" "$R/calls.log" 2>/dev/null || missing="$missing $v"
done
if [ -z "$missing" ]; then
	t_ok "all of: create start exec pause resume kill delete went to $REAL_RUNTIME"
else
	t_fail "verbs called on the runtime under test" "never called:$missing" "$(sort "$R/calls.log" | cut -c1-160 | uniq | head -30)"
fi

t_done
