# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Helpers for the container-level checkpoint/restore suites (issue 4, "How
# it is proven"): a busybox container whose init starts our memory workload
# (zs-workload, built static into the rootfs), run by build/bin/zanshin with
# its stdio on pipes, as runc's checkpoint.bats does. (A container started on
# the host's /dev/null checkpoints too: its init gets the container's
# /dev/null, as with runc — tests/runtime/stdio.bats; a host file or a tty
# it does not own is refused at checkpoint with its name.)
#
# A "node" N is a directory $CR_T/N holding state/ (--root), store/
# (--remnant-root), bundle/ and img/ (image directories). The workload's
# command directory is /wl in the container = $CR_T/N/bundle/rootfs/wl.
#
#   ZANSHIN=path   runtime under test (default build/bin/zanshin)
#   CR_KEEP=1      keep the scratch directory
#
# Sourced; tests/lib/tap.sh gives the TAP helpers.

CR_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ZANSHIN=${ZANSHIN:-$CR_TOP/build/bin/zanshin}
case $ZANSHIN in /*) ;; *) ZANSHIN=$CR_TOP/$ZANSHIN ;; esac
CR_CID=${CR_CID:-zs-cr-$$}
PAGE=4096
# shellcheck source=../lib/tap.sh
. "$CR_TOP/tests/lib/tap.sh"
# shellcheck source=../lib/rootfs.sh
. "$CR_TOP/tests/lib/rootfs.sh"

cr_die() {
	echo "$*" >&2
	echo "Bail out! $*"
	exit 1
}

# cr_setup NAME: scratch directory $CR_T, the container rootfs, cleanup on exit.
cr_setup() {
	[ "$(id -u)" = 0 ] || cr_die "must run as root"
	[ -x "$ZANSHIN" ] || cr_die "$ZANSHIN missing: run make"
	CR_NAME=$1
	CR_T=$(mktemp -d "${CR_TMP:-/tmp}/zs-cr-$1.XXXXXX") || cr_die "mktemp failed"
	chmod 0755 "$CR_T"
	CR_CG=/zanshin-cr-test/$(basename "$CR_T")
	CR_BG=()
	trap cr_cleanup EXIT
	trap 'exit 130' INT TERM
	cr_rootfs "$CR_T/rootfs" || cr_die "cannot build the container rootfs"
}

# cr_rootfs DIR: the busybox rootfs plus a static zs-workload (built from
# tests/workload/ as tests/containerd/wl-image.sh does) and an empty /wl.
cr_rootfs() {
	local dir=$1
	cp -a "$(rootfs_dir busybox)" "$dir" || return 1
	${CC:-cc} -static -O2 -g -Wall -Wextra -pthread -o "$dir/bin/zs-workload" \
		"$CR_TOP"/tests/workload/*.c >"$CR_T/cc.log" 2>&1 || { cat "$CR_T/cc.log" >&2; return 1; }
	mkdir -p "$dir/wl"
}

cr_cleanup() {
	local n id p c
	[ -n "${CR_T:-}" ] || return 0
	cd / || true
	for n in "$CR_T"/*/; do
		[ -d "$n/state" ] || continue
		for id in $("$ZANSHIN" --root "$n/state" list -q 2>/dev/null); do
			"$ZANSHIN" --root "$n/state" delete -f "$id" >/dev/null 2>&1
		done
	done
	# the processes holding the other ends of the containers' stdio pipes
	for p in "${CR_BG[@]}"; do kill "$p" 2>/dev/null; done
	# anything still running from our bundles (a failed delete)
	for p in /proc/[0-9]*; do
		case "$(readlink "$p/root" 2>/dev/null)" in "$CR_T"/*) kill -KILL "${p#/proc/}" 2>/dev/null ;; esac
	done
	grep -F " $CR_T/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	for c in /sys/fs/cgroup/*"$CR_CG" /sys/fs/cgroup/*/*"$CR_CG"; do
		[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	if [ "${_t_failed:-0}" -gt 0 ]; then
		rm -rf "$CR_TOP/build/test-logs/cr/$CR_NAME"
		mkdir -p "$CR_TOP/build/test-logs/cr/$CR_NAME"
		find "$CR_T" -name '*.log' ! -path '*/rootfs/*' -size -20M -print0 2>/dev/null |
			while IFS= read -r -d '' f; do
				cp "$f" "$CR_TOP/build/test-logs/cr/$CR_NAME/$(echo "${f#"$CR_T"/}" | tr / _)"
			done
		echo "# logs of this run: build/test-logs/cr/$CR_NAME" >&2
	fi
	if [ "${CR_KEEP:-0}" = 1 ]; then
		echo "# kept $CR_T" >&2
	else
		rm -rf "$CR_T"
	fi
}

# z NODE ARGS...: the runtime with that node's state root and remnant store.
z() {
	local n=$1
	shift
	"$ZANSHIN" --root "$CR_T/$n/state" --remnant-root "$CR_T/$n/store" "$@"
}

# cr_settings JSON: the runtime's zanshin.json ($CFG, $ZANSHIN_CONFIG) for
# this test, and the store's keeping done inline (ZANSHIN_STORE_SYNC=1).
cr_settings() {
	export ZANSHIN_STORE_SYNC=1
	CFG=$CR_T/zanshin.json
	printf '%s\n' "$1" >"$CFG"
	export ZANSHIN_CONFIG=$CFG
}

# cr_node NODE: create a node's directories and its bundle (a copy of the rootfs).
cr_node() {
	local d=$CR_T/$1
	mkdir -p "$d/state" "$d/store" "$d/img" "$d/bundle"
	cp -a "$CR_T/rootfs" "$d/bundle/rootfs"
	# a cgroup per node: a node's checkpoint must not touch another's container
	cr_config "${CR_MIB:-256}" "$CR_CG/$1" >"$d/bundle/config.json"
}

# cr_config MIB CGROUP: the container's config.json. init starts the workload,
# which fills MIB MiB and daemonizes (own session, reparented to init); init
# then sleeps with the stdio it was given (the pipes).
cr_config() {
	jq -n --arg cg "$2" --arg mib "$1" '{
		ociVersion: "1.0.2",
		process: {terminal: false, user: {uid: 0, gid: 0},
			args: ["sh", "-c", ("zs-workload -d /wl -m " + $mib + " </dev/null >/wl/.start 2>&1; exec sleep 100000000")],
			cwd: "/", env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
			capabilities: (["CAP_KILL"] as $c | {bounding: $c, effective: $c, permitted: $c}),
			noNewPrivileges: true},
		root: {path: "rootfs", readonly: false},
		hostname: "cr",
		mounts: [
			{destination: "/proc", type: "proc", source: "proc"},
			{destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"]},
			{destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]}],
		linux: {
			cgroupsPath: $cg,
			namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}, {type: "network"}],
			maskedPaths: ["/proc/kcore", "/proc/keys", "/sys/firmware"],
			readonlyPaths: ["/proc/sys", "/proc/sysrq-trigger"]}
	}'
}

# cr_pipes: fresh pipes for a container's stdio: $CR_IN (read end, its
# writer is a sleep) and $CR_OUT (write end, its reader is a cat into
# $CR_T/stdout.log). The previous call's pipes are closed first
# (cr_pipes_close): a container still running keeps its own copies.
# Call it in the main shell, not in $(...): the helpers would be lost to
# cleanup.
cr_pipes() {
	cr_pipes_close
	# the writer ends with the test's shell ($$) even when its pid was
	# lost (cr_pipes called in a subshell, a test killed by its timeout)
	exec {CR_IN}< <(exec >/dev/null 2>&1; while kill -0 $$; do sleep 2; done)
	CR_IN_PID=$!
	CR_BG+=($!)
	exec {CR_OUT}> >(exec cat >>"$CR_T/stdout.log" 2>/dev/null)
	CR_BG+=($!)
}

# cr_pipes_close: close the shell's ends of the last cr_pipes and stop its
# stdin writer (a container's stdin then reads end of file; none of these
# containers reads it). Its stdout reader ends by itself when the last
# writer (the container) closes. CR_BG keeps only the helpers still alive.
cr_pipes_close() {
	local p live=()
	[ -n "${CR_IN:-}" ] && exec {CR_IN}<&-
	[ -n "${CR_OUT:-}" ] && exec {CR_OUT}>&-
	[ -n "${CR_IN_PID:-}" ] && kill "$CR_IN_PID" 2>/dev/null
	CR_IN='' CR_OUT='' CR_IN_PID=''
	for p in "${CR_BG[@]}"; do kill -0 "$p" 2>/dev/null && live+=("$p"); done
	CR_BG=("${live[@]}")
}

# cr_run NODE [ID]: run the container detached with stdio on pipes and wait
# until the workload has filled its memory.
cr_run() {
	local n=$1 id=${2:-$CR_CID} i
	cr_pipes
	rm -f "$CR_T/$n/bundle/rootfs/wl"/{pid,cmd,ack,result,.start}
	echo 0 >"$CR_T/.seq"
	# the runtime's stderr is the container's too: a pipe, not a file
	z "$n" run -d --bundle "$CR_T/$n/bundle" "$id" <&"$CR_IN" >&"$CR_OUT" 2>&"$CR_OUT" ||
		{ echo "run failed: $(tail -n 5 "$CR_T/stdout.log")"; return 1; }
	for ((i = 0; i < 600; i++)); do
		[ -s "$CR_T/$n/bundle/rootfs/wl/pid" ] && return 0
		sleep 0.1
	done
	echo "workload did not start: $(cat "$CR_T/$n/bundle/rootfs/wl/.start" 2>/dev/null)"
	return 1
}

# t_run NODE: cr_run that must succeed; if it fails, it is reported and the
# test file ends (nothing else can run without the container).
t_run() {
	local out
	if ! out=$(cr_run "$1"); then
		t_fail "run" "$out"
		t_done
		exit
	fi
}

# cr_restore NODE IMGDIR [ARGS...]: restore detached with new stdio pipes.
# Output (errors) in $CR_ERR.
cr_restore() {
	local n=$1 img=$2
	shift 2
	cr_pipes
	CR_ERR=$(z "$n" restore -d --image-path "$img" --bundle "$CR_T/$n/bundle" "$@" "$CR_CID" \
		<&"$CR_IN" 2>&1 >&"$CR_OUT")
}

# cr_checkpoint NODE IMGDIR [ARGS...]: output (errors) in $CR_ERR.
cr_checkpoint() {
	local n=$1 img=$2
	shift 2
	CR_ERR=$(z "$n" checkpoint --image-path "$img" "$@" "$CR_CID" 2>&1 </dev/null)
}

# wl_host_pid NODE: host pid of the workload's process 0 in that node's container.
wl_host_pid() {
	local init p ns want
	init=$(z "$1" state "$CR_CID" 2>/dev/null | jq -r .pid)
	[ -n "$init" ] && [ "$init" != null ] || return 1
	ns=$(readlink "/proc/$init/ns/pid") || return 1
	want=$(cat "$CR_T/$1/bundle/rootfs/wl/pid")
	for p in $(pgrep -x zs-workload); do
		[ "$(readlink "/proc/$p/ns/pid")" = "$ns" ] || continue
		[ "$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status")" = "$want" ] && { echo "$p"; return 0; }
	done
	return 1
}

# wl_dir NODE: the workload's command directory (tests/agent/lib.sh has its own).
wl_dir() { echo "$CR_T/$1/bundle/rootfs/wl"; }

# wl_do NODE OP [ARG]: one workload command; prints the first result line; 0 on OK/PASS.
wl_do() {
	local d pid i seq
	d=$(wl_dir "$1")
	seq=$(($(cat "$CR_T/.seq" 2>/dev/null || echo 0) + 1))
	echo "$seq" >"$CR_T/.seq"
	echo "$seq $2 ${3:-}" >"$d/cmd.new" && mv -f "$d/cmd.new" "$d/cmd"
	pid=$(wl_host_pid "$1") || { echo "workload not found on node $1"; return 1; }
	kill -USR1 "$pid" || { echo "cannot signal workload $pid"; return 1; }
	for ((i = 0; i < 3000; i++)); do
		[ "$(cat "$d/ack" 2>/dev/null)" = "$seq" ] && break
		kill -0 "$pid" 2>/dev/null || { echo "workload $pid died during '$2'"; return 1; }
		sleep 0.02
	done
	[ "$(cat "$d/ack" 2>/dev/null)" = "$seq" ] || { echo "no answer to '$2'"; return 1; }
	head -n1 "$d/result"
	head -n1 "$d/result" | grep -qE "^$seq (OK|PASS) "
}

# t_wl_verify NAME NODE [DIGEST]: every page of the workload checks (and the
# state is the one with DIGEST). Sets WL_DIGEST.
t_wl_verify() {
	local out
	if ! out=$(wl_do "$2" verify); then
		t_fail "$1: memory verifies" "$out" "$(head -n 30 "$CR_T/$2/bundle/rootfs/wl/result" 2>/dev/null)"
		return 1
	fi
	WL_DIGEST=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")
	if [ -n "${3:-}" ] && [ "$WL_DIGEST" != "$3" ]; then
		t_fail "$1: memory verifies" "pages consistent but digest $WL_DIGEST != $3: another state was restored"
		return 1
	fi
	t_ok "$1: memory verifies (${out#* })"
}

# t_wl_write NAME NODE K
t_wl_write() {
	local out
	if out=$(wl_do "$2" write "$3"); then t_ok "$1: workload wrote $3 pages"; else
		t_fail "$1: workload wrote $3 pages" "$out"
		return 1
	fi
}

# img_json DIR: zanshin image info --format json
img_json() { "$ZANSHIN" image info "$1" --format json 2>/dev/null; }
img_field() { img_json "$1" | jq -r ".$2 | if . == null then empty else . end"; }

# img_own_pages DIR: pages stored in the image directory itself (pages-*.img).
img_own_pages() {
	local sum=0 f
	for f in "$1"/pages-*.img; do
		[ -f "$f" ] && sum=$((sum + $(stat -c %s "$f")))
	done
	echo $((sum / PAGE))
}

img_bytes() { du -sb --exclude='*.log' "$1" | cut -f1; }

# tree_sum DIR...: one checksum of every file (name, mode, content) under the
# directories; logs and stats-restore (CRIU writes it at every restore)
# excluded. Proves nothing stored changed.
tree_sum() {
	local d
	for d in "$@"; do
		[ -e "$d" ] || { echo "absent $d"; continue; }
		(cd "$d" && find . \( -type f -o -type l -o -type d \) ! -name '*.log' ! -name stats-restore -printf '%p %y %m %s\n' | sort &&
			find . -type f ! -name '*.log' ! -name stats-restore -print0 | sort -z | xargs -0r sha256sum)
	done | sha256sum | cut -c1-16
}

# t_range NAME VALUE MIN MAX
t_range() {
	local name=$1 v=$2 lo=$3 hi=${4:-}
	if [[ ! $v =~ ^[0-9]+$ ]]; then
		t_fail "$name" "value '$v' is not a number"
		return 1
	fi
	if [ "$v" -lt "$lo" ] || { [ -n "$hi" ] && [ "$v" -gt "$hi" ]; }; then
		t_fail "$name" "$v is outside [$lo, ${hi:-inf}]"
		return 1
	fi
	t_ok "$name ($v in [$lo, ${hi:-inf}])"
}

# cr_status NODE: the container's status ('' when it does not exist).
cr_status() { z "$1" state "$CR_CID" 2>/dev/null | jq -r '.status // empty'; }

# cr_gone NODE: wait until the container is gone from that node (checkpoint
# without --leave-running deletes it) and its processes are reaped.
cr_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -z "$(cr_status "$1")" ] && return 0
		sleep 0.1
	done
	return 1
}

# cr_delete NODE: remove the container (after a failed or --leave-running step).
cr_delete() { z "$1" delete -f "$CR_CID" >/dev/null 2>&1; cr_gone "$1"; }

# t_ckpt NAME NODE IMGDIR [ARGS...]: a checkpoint that must succeed.
t_ckpt() {
	local name=$1
	shift
	if cr_checkpoint "$@"; then
		t_ok "$name: checkpoint ${*:3} ($(img_own_pages "$2") pages stored)"
		if [ -n "$CR_ERR" ]; then t_diag "checkpoint said: $CR_ERR"; fi
	else
		t_fail "$name: checkpoint ${*:3}" "$CR_ERR"
		return 1
	fi
}

# t_rest NAME NODE IMGDIR [ARGS...]: a restore that must succeed.
t_rest() {
	local name=$1
	shift
	if cr_restore "$@"; then
		t_ok "$name: restore ${*:3}"
		if [ -n "$CR_ERR" ]; then t_diag "restore said: $CR_ERR"; fi
	else
		t_fail "$name: restore ${*:3}" "$CR_ERR"
		return 1
	fi
}

# ---- shared by the lazy-restore tests (lazy*.sh, templates.sh, image-verify.sh)

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	while ((n-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# flip FILE OFFSET: invert one byte.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# criu_with TEXT: pids of the criu processes whose command line holds TEXT.
criu_with() {
	local p
	for p in $(pgrep -x criu); do
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$1" && echo "$p"
	done
}

# lazy_server IMGDIR: pid of the `criu lazy-pages` serving IMGDIR.
lazy_server() { criu_with "lazy-pages --images-dir $1 " | head -n1 | grep .; }

# lazy_server_all IMGDIR: every criu lazy-pages process for IMGDIR (the
# daemon and, while it starts, its parent).
lazy_server_all() { criu_with "lazy-pages --images-dir $1 "; }

# lazy_filled NODE: CRIU's mark that every image page of the workload is in.
lazy_filled() {
	local p ns st
	p=$(wl_host_pid "$1") || return 1
	ns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
	st=$(awk '{print $22}' "/proc/$p/stat")
	[ -e "/run/criu/track/$ns-$p-$st.lazy-filled" ]
}
