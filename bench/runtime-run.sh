#!/bin/bash
# Runtime start-up cost, side by side in one run:
#   run   `RT run` of a busybox container executing /bin/true
#   exec  `RT exec` of /bin/true into a running container
# each RUNS times sequentially (hyperfine -N, in ROUNDS rounds with the
# runtimes' order rotating, WARMUP runs before each), for zanshin
# (build/bin/zanshin), Debian's crun 1.8.1 and Debian's runc 1.1.5. Reports
# the median per container and the ratios, and writes
#   bench/results/runtime-run.md  and  bench/results/runtime-run.json
# Environment: RUNS (100), ROUNDS (4), WARMUP (3), ZANSHIN (build/bin/zanshin),
# CRUN (/usr/bin/crun), RUNC (/usr/sbin/runc), OUT (bench/results).
set -eu
# crun 1.8.1 refuses to run on a hybrid cgroup host whose cgroup2 hierarchy
# has any controller ("cgroups in hybrid mode not supported"); this machine's
# has hugetlb. So the whole benchmark -- all three runtimes alike -- runs in
# a private mount namespace where that cgroup.controllers file reads empty.
# The v1 hierarchies, which all three use, are untouched.
CTRL=/sys/fs/cgroup/unified/cgroup.controllers
if [ -z "${ZS_BENCH_NS:-}" ] && [ -n "$(cat "$CTRL" 2>/dev/null)" ]; then
	export ZS_BENCH_NS="$CTRL reads empty in the benchmark's mount namespace (crun 1.8.1 needs it)"
	exec unshare -m --propagation private -- bash -c 'mount --bind /dev/null "$1" && shift && exec bash "$@"' \
		_ "$CTRL" "$0" "$@"
fi
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/rootfs.sh"
RUNS=${RUNS:-100}
ROUNDS=${ROUNDS:-4}
WARMUP=${WARMUP:-3}
ZANSHIN=${ZANSHIN:-$top/build/bin/zanshin}
CRUN=${CRUN:-/usr/bin/crun}
RUNC=${RUNC:-/usr/sbin/runc}
OUT=${OUT:-$top/bench/results}

for b in "$ZANSHIN" "$CRUN" "$RUNC"; do
	[ -x "$b" ] || { echo "runtime-run: $b is not executable (make all / make deps)" >&2; exit 1; }
done
command -v hyperfine >/dev/null || { echo "runtime-run: hyperfine missing (make deps)" >&2; exit 1; }

W=$(mktemp -d /tmp/zanshin-bench.XXXXXX)
names=(zanshin crun runc)
bins=("$ZANSHIN" "$CRUN" "$RUNC")
cleanup() {
	local i
	for i in 0 1 2; do
		"${bins[$i]}" --root "$W/state-${names[$i]}" delete -f bench-exec >/dev/null 2>&1 || true
		"${bins[$i]}" --root "$W/state-${names[$i]}" delete -f bench-run >/dev/null 2>&1 || true
	done
	rm -rf "$W"
	for d in /sys/fs/cgroup/*/zanshin-bench; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}
trap cleanup EXIT

# One bundle per (runtime, purpose), all from the same busybox rootfs and the
# same minimal config (namespaces pid/ipc/uts/mount/net, no terminal).
mkbundle() { # DIR CGROUP ARGS_JSON
	mkdir -p "$1"
	cp -a "$(rootfs_dir busybox)" "$1/rootfs"
	jq -n --arg cg "$2" --argjson args "$3" '{
		ociVersion: "1.0.2",
		process: {terminal: false, user: {uid: 0, gid: 0}, args: $args, cwd: "/",
			env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
			capabilities: (["CAP_KILL"] as $c | {bounding: $c, effective: $c, permitted: $c}),
			noNewPrivileges: true},
		root: {path: "rootfs", readonly: true},
		hostname: "bench",
		mounts: [
			{destination: "/proc", type: "proc", source: "proc"},
			{destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"]},
			{destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
			{destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]}],
		linux: {cgroupsPath: $cg,
			namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}, {type: "network"}],
			maskedPaths: ["/proc/kcore", "/proc/keys", "/sys/firmware"],
			readonlyPaths: ["/proc/sys", "/proc/sysrq-trigger"]}
	}' >"$1/config.json"
}

cmds_run=() cmds_exec=()
for i in 0 1 2; do
	n=${names[$i]} b=${bins[$i]}
	mkbundle "$W/run-$n" "/zanshin-bench/run-$n" '["/bin/true"]'
	mkbundle "$W/exec-$n" "/zanshin-bench/exec-$n" '["sleep", "100000"]'
	# Sanity: every runtime must actually run the container.
	"$b" --root "$W/state-$n" run --bundle "$W/run-$n" bench-run </dev/null >/dev/null 2>"$W/err" ||
		{ echo "runtime-run: $n cannot run the benchmark container: $(cat "$W/err")" >&2; exit 1; }
	"$b" --root "$W/state-$n" run -d --bundle "$W/exec-$n" bench-exec </dev/null >/dev/null 2>"$W/err" ||
		{ echo "runtime-run: $n cannot start the exec container: $(cat "$W/err")" >&2; exit 1; }
	cmds_run+=("$b --root $W/state-$n run --bundle $W/run-$n bench-run")
	cmds_exec+=("$b --root $W/state-$n exec bench-exec /bin/true")
done

# ROUNDS rounds of RUNS/ROUNDS runs per runtime, the order of the runtimes
# rotating each round, so that load from elsewhere on the machine does not
# fall on one runtime only. The times of all rounds are merged afterwards.
bench() { # KIND CMD_ZANSHIN CMD_CRUN CMD_RUNC
	local kind=$1 r i j per=$(((RUNS + ROUNDS - 1) / ROUNDS)) args
	shift
	local cmds=("$@")
	for ((r = 0; r < ROUNDS; r++)); do
		args=()
		for ((j = 0; j < 3; j++)); do
			i=$(((j + r) % 3))
			args+=(-n "${names[$i]}" "${cmds[$i]}")
		done
		hyperfine -N --runs "$per" --warmup "$WARMUP" --style basic \
			--export-json "$W/$kind.$r.json" "${args[@]}" >&2
	done
	jq -s '{results: (map(.results[]) | group_by(.command)
		| map({command: .[0].command, times: (map(.times[]) | sort)}))}' "$W/$kind".*.json >"$W/$kind.json"
}
bench run "${cmds_run[@]}"
bench exec "${cmds_exec[@]}"

mkdir -p "$OUT"
ver() { "$1" --version 2>/dev/null | head -1; }
jq -n --slurpfile run "$W/run.json" --slurpfile exec "$W/exec.json" \
	--arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--arg kernel "$(uname -srm)" --arg nproc "$(nproc)" \
	--arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
	--arg ns "${ZS_BENCH_NS:-none}" \
	--arg date "$(date -u +%FT%TZ)" --arg runs "$RUNS" --arg warmup "$WARMUP" \
	--arg vz "$(ver "$ZANSHIN")" --arg vc "$(ver "$CRUN")" --arg vr "$(ver "$RUNC")" \
	--arg cmd "RUNS=$RUNS ROUNDS=$ROUNDS WARMUP=$WARMUP bench/runtime-run.sh (hyperfine -N, $ROUNDS rounds of $(((RUNS + ROUNDS - 1) / ROUNDS)) runs per runtime, order rotating, --warmup $WARMUP each)" '
	def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def summary($r): $r[0].results | map({key: .command, value: (.times as $t | ($t | add / length) as $m | {
		median_ms: ($t | median * 1000), mean_ms: ($m * 1000), min_ms: ($t | min * 1000),
		max_ms: ($t | max * 1000), stddev_ms: (($t | map((. - $m) * (. - $m)) | add / length | sqrt) * 1000),
		runs: ($t | length)})}) | from_entries;
	{date: $date, command: $cmd, cgroup_note: $ns,
	 machine: {kernel: $kernel, nproc: ($nproc | tonumber), cpu: $cpu, loadavg_at_end: $load},
	 versions: {zanshin: $vz, crun: $vc, runc: $vr},
	 run: summary($run), exec: summary($exec)}
	| .ratios = {
		run_zanshin_vs_crun: (.run.zanshin.median_ms / .run.crun.median_ms),
		run_zanshin_vs_runc: (.run.zanshin.median_ms / .run.runc.median_ms),
		exec_zanshin_vs_crun: (.exec.zanshin.median_ms / .exec.crun.median_ms),
		exec_zanshin_vs_runc: (.exec.zanshin.median_ms / .exec.runc.median_ms)}' >"$OUT/runtime-run.json"

j=$OUT/runtime-run.json
f() { jq -r "$1" "$j"; }
{
	echo "# Runtime start-up: run and exec of /bin/true"
	echo
	echo "Generated by \`bench/runtime-run.sh\` on $(f .date); do not edit by hand."
	echo
	echo "- command: \`$(f .command)\`"
	echo "- machine: $(f .machine.kernel), $(f .machine.nproc) CPUs, $(f .machine.cpu); load average at the end: $(f .machine.loadavg_at_end)"
	echo "- zanshin: $(f .versions.zanshin); crun: $(f .versions.crun); runc: $(f .versions.runc)"
	echo "- run: \`RT --root S run --bundle B bench-run\` with process /bin/true (busybox rootfs,"
	echo "  pid/ipc/uts/mount/net namespaces, cgroup, no terminal), sequentially"
	echo "- exec: \`RT --root S exec bench-exec /bin/true\` into a running container, sequentially"
	echo "- cgroups: v1 (hybrid host); note: $(f .cgroup_note)"
	echo
	echo "| runtime | run median (ms) | exec median (ms) | run min–max (ms) | exec min–max (ms) |"
	echo "|---|---:|---:|---:|---:|"
	for n in zanshin crun runc; do
		printf '| %s | %.2f | %.2f | %.2f–%.2f | %.2f–%.2f |\n' "$n" \
			"$(f ".run.$n.median_ms")" "$(f ".exec.$n.median_ms")" \
			"$(f ".run.$n.min_ms")" "$(f ".run.$n.max_ms")" "$(f ".exec.$n.min_ms")" "$(f ".exec.$n.max_ms")"
	done
	echo
	printf 'Ratios of medians: run zanshin/crun %.2f, zanshin/runc %.2f; exec zanshin/crun %.2f, zanshin/runc %.2f.\n' \
		"$(f .ratios.run_zanshin_vs_crun)" "$(f .ratios.run_zanshin_vs_runc)" \
		"$(f .ratios.exec_zanshin_vs_crun)" "$(f .ratios.exec_zanshin_vs_runc)"
	echo
	echo "Goal (issue 3): zanshin's median at most crun's and well under runc's, for both."
} >"$OUT/runtime-run.md"
cat "$OUT/runtime-run.md"
