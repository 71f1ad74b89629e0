# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Helpers for the CRIU-level suites, the demo and the CRIU benchmarks:
# drive zs-workload, dump/restore it with CRIU, count pages, read images
# with crit, and clean up every process a run created.
#
#   CRIU=path        CRIU under test (default build/bin/criu, the patched one)
#   ZS_KEEP=1        keep the scratch directory of a run
#   ZS_TMP=dir       where scratch directories go (default /tmp)

ZS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CRIU=${CRIU:-$ZS_TOP/build/bin/criu}
STOCK_CRIU=${STOCK_CRIU:-$ZS_TOP/build/stock/bin/criu}
WL=${WL:-$ZS_TOP/build/bin/zs-workload}
CRIU_SRC=${CRIU_SRC:-$ZS_TOP/build/criu-4.2.1}
PAGE=4096
# shellcheck source=../lib/tap.sh
. "$ZS_TOP/tests/lib/tap.sh"
# Marks processes of this run (criu-keeper inherits criu's environment).
ZS_RUN_ID=${ZS_RUN_ID:-zs-$$-$RANDOM}
export ZS_RUN_ID

zs_die() {
	echo "$*" >&2
	exit 1
}

# zs_setup NAME: scratch directory $ZS_T, cleanup on exit.
zs_setup() {
	[ "$(id -u)" = 0 ] || zs_die "must run as root (CRIU)"
	[ -x "$WL" ] || zs_die "$WL missing: run make"
	ZS_NAME=$1
	ZS_T=$(mktemp -d "${ZS_TMP:-/tmp}/zs-$1.XXXXXX") || zs_die "mktemp failed"
	mkdir -p "$ZS_T/logs"
	trap zs_cleanup EXIT
	trap 'exit 130' INT TERM
}

# Every process whose cwd is under the scratch directory is ours: the
# workload trees (restored ones too, whatever their pids).
zs_kill_ours() {
	local p cwd
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case "$cwd" in "$ZS_T"/*) kill -KILL "${p#/proc/}" 2>/dev/null ;; esac
	done
}

# Keepers created by this run: a keeper is forked by "criu restore", so its
# command line names our image directory (under $ZS_T); one forked by a
# libcriu/RPC restore carries ZS_RUN_ID in its environment. Keepers of other
# runs (parallel suites) are never touched.
zs_our_keepers() {
	local p
	for p in $(pgrep -x criu-keeper); do
		if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF "$ZS_T/" ||
			tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qx "ZS_RUN_ID=$ZS_RUN_ID"; then
			echo "$p"
		fi
	done
}

# zs_keepers_of IMGDIR: keepers left by a restore of that image.
zs_keepers_of() {
	local p
	for p in $(pgrep -x criu-keeper); do
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "-D $1 " && echo "$p"
	done
}

zs_cleanup() {
	local i p
	[ -n "${ZS_T:-}" ] || return 0
	zs_kill_ours
	# Keepers exit by themselves once their tasks are gone; give them a moment.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -z "$(zs_our_keepers)" ] && break
		sleep 0.3
	done
	for p in $(zs_our_keepers); do
		echo "# cleanup: criu-keeper $p outlived its tasks; killing it" >&2
		kill -KILL "$p" 2>/dev/null
	done
	# Keep CRIU's logs of a run with failures for whoever reads the report.
	if [ "${_t_failed:-0}" -gt 0 ] && [ -d "$ZS_T/logs" ]; then
		rm -rf "$ZS_TOP/build/test-logs/criu/$ZS_NAME"
		mkdir -p "$ZS_TOP/build/test-logs/criu"
		cp -a "$ZS_T/logs" "$ZS_TOP/build/test-logs/criu/$ZS_NAME" &&
			echo "# CRIU logs of this run: build/test-logs/criu/$ZS_NAME" >&2
	fi
	if [ "${ZS_KEEP:-0}" = 1 ]; then
		echo "# kept $ZS_T" >&2
	else
		rm -rf "$ZS_T"
	fi
}

# ---- the workload ----

# wl_start DIR MIB [CHILDREN] [THREADS] [SEED]: start a tree working in DIR.
wl_start() {
	local dir=$1
	mkdir -p "$dir"
	rm -f "$dir"/{cmd,ack,result,pid,.seq}
	echo 0 >"$dir/.seq"
	"$WL" -d "$dir" -m "$2" -p "${3:-0}" -t "${4:-0}" -s "${5:-1}" >"$dir/.start" 2>&1 ||
		{ cat "$dir/.start" >&2; return 1; }
}

wl_pid() { cat "$1/pid"; }

# wl_cmd DIR OP [ARG]: run one command; result text on stdout; 0 if OK/PASS.
wl_cmd() {
	local dir=$1 seq pid i
	shift
	seq=$(($(cat "$dir/.seq") + 1))
	echo "$seq" >"$dir/.seq"
	echo "$seq $*" >"$dir/cmd.new" && mv -f "$dir/cmd.new" "$dir/cmd"
	pid=$(wl_pid "$dir")
	kill -USR1 "$pid" 2>/dev/null || { echo "workload $pid is not running"; return 1; }
	for ((i = 0; i < ${ZS_CMD_TIMEOUT:-300} * 10; i++)); do
		[ "$(cat "$dir/ack" 2>/dev/null)" = "$seq" ] && break
		kill -0 "$pid" 2>/dev/null || { echo "workload $pid died during '$*'"; return 1; }
		sleep 0.1
	done
	[ "$(cat "$dir/ack" 2>/dev/null)" = "$seq" ] || { echo "workload $pid: no answer to '$*'"; return 1; }
	cat "$dir/result"
	head -n1 "$dir/result" | grep -qE "^$seq (OK|PASS) "
}

# wl_verify DIR: every page checked; prints "PASS procs=N digest=D" (or the
# failure); 0 on PASS. Sets WL_DIGEST (the digest of the expected state).
wl_verify() {
	local out rc
	out=$(wl_cmd "$1" verify)
	rc=$?
	WL_DIGEST=$(head -n1 <<<"$out" | sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p')
	if [ $rc = 0 ]; then
		head -n1 <<<"$out" | cut -d' ' -f2-
	else
		echo "$out" | head -n 40
	fi
	return $rc
}

# wl_write DIR K: each process writes exactly K pages.
wl_write() { wl_cmd "$1" write "$2" >/dev/null; }

# wl_stop DIR: kill the tree (dump without --leave-running already did).
wl_stop() {
	local pid
	pid=$(cat "$1/pid" 2>/dev/null) || return 0
	kill -KILL -- "-$pid" 2>/dev/null
	kill -KILL "$pid" 2>/dev/null
	wl_wait_gone "$pid"
}

wl_wait_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# ---- CRIU ----

# zs_dump NAME IMGDIR PID [ARGS...]: dump with $CRIU; log in $ZS_T/logs/NAME.dump.log.
# Sets ZS_SECS to the wall time of the dump.
# ZS_ACTION=pre-dump makes it a pre-dump.
# Unless --leave-running, waits until the dumped tree's pids are free again
# (reaped), so that a restore can reuse them.
zs_dump() {
	local name=$1 img=$2 pid=$3 t0 rc tree p
	shift 3
	mkdir -p "$img"
	tree=$(pgrep -s "$pid")
	t0=$(date +%s.%N)
	"${ZS_CRIU:-$CRIU}" "${ZS_ACTION:-dump}" -t "$pid" -D "$img" -o "$ZS_T/logs/$name.dump.log" -v4 "$@" \
		2>"$ZS_T/logs/$name.dump.err"
	rc=$?
	ZS_SECS=$(echo "$(date +%s.%N) - $t0" | bc)
	if [ $rc = 0 ] && [ "${ZS_ACTION:-dump}" = dump ] && [[ " $* " != *" --leave-running "* ]]; then
		for p in $tree; do wl_wait_gone "$p"; done
	fi
	return $rc
}

# zs_restore NAME IMGDIR [ARGS...]: restore detached; log in $ZS_T/logs/NAME.restore.log.
zs_restore() {
	local name=$1 img=$2 t0 rc
	shift 2
	t0=$(date +%s.%N)
	mkdir -p "$ZS_T/work"
	"${ZS_CRIU:-$CRIU}" restore -D "$img" -W "$ZS_T/work" -d -o "$ZS_T/logs/$name.restore.log" -v4 "$@" \
		2>"$ZS_T/logs/$name.restore.err"
	rc=$?
	ZS_SECS=$(echo "$(date +%s.%N) - $t0" | bc)
	return $rc
}

# zs_first_error NAME OP: the first error of a CRIU log that matters (not
# the RLIMIT_NOFILE one this sandbox always gives, see MACHINE.md).
zs_first_error() {
	cat "$ZS_T/logs/$1.$2.err" "$ZS_T/logs/$1.$2.log" 2>/dev/null | grep 'Error' | grep -v RLIMIT_NOFILE |
		head -n1 | cut -c1-200
}

# zs_log NAME OP: the last lines of a CRIU log, for a diagnostic.
zs_log() {
	cat "$ZS_T/logs/$1.$2.err" 2>/dev/null
	tail -n "${3:-25}" "$ZS_T/logs/$1.$2.log" 2>/dev/null
}

# img_pages DIR: pages stored in this image itself (pages-*.img / 4096).
img_pages() {
	local sum=0 f
	for f in "$1"/pages-*.img; do
		[ -f "$f" ] && sum=$((sum + $(stat -c %s "$f")))
	done
	echo $((sum / PAGE))
}

# img_bytes DIR: total size of the image files.
img_bytes() { du -sb --exclude='*.log' "$1" | cut -f1; }

# img_sum DIR: a checksum of every file of an image (to prove it untouched).
# (CRIU's logs and stats files are not part of an image: zs_image_log_file)
# img_sum DIR [FIND-TESTS...]
img_sum() {
	local d=$1
	shift
	(cd "$d" 2>/dev/null && find . -type f ! -name '*.log' ! -name 'stats-dump' ! -name 'stats-restore' "$@" | sort | xargs -r sha256sum | sha256sum | cut -c1-16)
}

# ---- crit, from the CRIU build tree with Debian's python3-protobuf ----

zs_crit_setup() {
	local sum dest
	[ -d "$CRIU_SRC/images" ] || { echo "crit: no CRIU tree at $CRIU_SRC" >&2; return 1; }
	sum=$(cat "$CRIU_SRC"/images/*.proto "$CRIU_SRC/criu/include/magic.h" | sha256sum | cut -c1-16)
	dest=$ZS_TOP/build/crit-py/$sum
	if [ ! -f "$dest/.done" ]; then
		rm -rf "$dest.tmp" && mkdir -p "$dest.tmp" || return 1
		cp -r "$CRIU_SRC/lib/pycriu" "$CRIU_SRC/crit/crit" "$dest.tmp/" &&
			echo "__version__ = 'zanshin'" >"$dest.tmp/pycriu/version.py" &&
			echo "__version__ = 'zanshin'" >"$dest.tmp/crit/version.py" &&
			protoc -I="$CRIU_SRC/images" --python_out="$dest.tmp/pycriu" "$CRIU_SRC/images/rpc.proto" &&
			(cd "$CRIU_SRC/images" && protoc -I=. -I=/usr/include --python_out="$dest.tmp/pycriu/images" \
				$(ls ./*.proto | grep -v '^./rpc.proto$')) &&
			/usr/bin/python3 "$CRIU_SRC/scripts/magic-gen.py" "$CRIU_SRC/criu/include/magic.h" \
				"$dest.tmp/pycriu/images/magic.py" || { rm -rf "$dest.tmp"; return 1; }
		(
			echo "# Autogenerated. Do not edit!"
			for m in "$dest.tmp"/pycriu/images/*_pb2.py; do
				m=$(basename "$m" .py)
				[ "$m" = opts_pb2 ] || echo "from .$m import *"
			done
		) >"$dest.tmp/pycriu/images/pb.py"
		rm -rf "$dest" && mv "$dest.tmp" "$dest" && touch "$dest/.done"
	fi
	ZS_CRIT_PATH=$dest
}

# zs_crit ARGS...: e.g. zs_crit decode -i IMG/inventory.img
zs_crit() {
	[ -n "${ZS_CRIT_PATH:-}" ] || zs_crit_setup || return 1
	PYTHONPATH=$ZS_CRIT_PATH /usr/bin/python3 -m crit "$@"
}

# zs_json_get FILE.img EXPR: decode an image and evaluate a Python
# expression on it (variable e = first entry, j = the whole image).
zs_img_get() {
	local img=$1 expr=$2
	zs_crit decode -i "$img" | /usr/bin/python3 -c "
import json, sys
j = json.load(sys.stdin)
e = j['entries'][0] if j.get('entries') else {}
v = $expr
print(v if v is not None else '')"
}

# img_id IMGDIR: the image id in inventory.img (our lineage field).
img_id() { zs_img_get "$1/inventory.img" "e.get('image_id')"; }
img_parent_id() { zs_img_get "$1/inventory.img" "e.get('parent_image_id')"; }

# stats_dump IMGDIR FIELD: a field of stats-dump.img (pages_written, pages_skipped_parent, ...).
stats_dump() { zs_img_get "$1/stats-dump" "e.get('dump', {}).get('$2')"; }

# pagemap_count IMGDIR PID WHICH: pages of a task's pagemap that are stored
# here (WHICH=own) or referenced in the parent (WHICH=parent).
pagemap_count() {
	local cond
	case "$3" in
	own) cond="not x.get('in_parent')" ;;
	parent) cond="x.get('in_parent')" ;;
	esac
	zs_crit decode -i "$1/pagemap-$2.img" | /usr/bin/python3 -c "
import json, sys
j = json.load(sys.stdin)
print(sum(x.get('nr_pages', 0) for x in j['entries'][1:] if $cond))"
}

# ---- features ----

# criu_has_track_mem: 0 if $CRIU knows restore --track-mem (the patched build).
criu_has_track_mem() {
	"$CRIU" --help 2>&1 | grep -q -- '--track-mem-backend'
}

# ---- TAP steps: each reports one test line and returns its status ----

# t_dump NAME IMGDIR PID ARGS...: a dump that must succeed.
t_dump() {
	local name=$1
	if zs_dump "$@"; then
		t_ok "$name: dump ($(printf '%.2f' "$ZS_SECS") s, $(img_pages "$2") pages)"
	else
		t_fail "$name: dump" "criu dump ${*:4} failed; log:" "$(zs_log "$1" dump)"
		return 1
	fi
}

# t_predump NAME IMGDIR PID ARGS...: a pre-dump that must succeed.
t_predump() {
	local name=$1
	if ZS_ACTION=pre-dump zs_dump "$@"; then
		t_ok "$name: pre-dump ($(printf '%.2f' "$ZS_SECS") s, $(img_pages "$2") pages)"
	else
		t_fail "$name: pre-dump" "criu pre-dump ${*:4} failed; log:" "$(zs_log "$1" dump)"
		return 1
	fi
}

# t_dump_refused NAME IMGDIR PID ARGS...: a dump that must fail.
t_dump_refused() {
	local name=$1
	if zs_dump "$@"; then
		t_fail "$name: dump refused" "criu dump ${*:4} succeeded ($(img_pages "$2") pages); it must be refused"
		return 1
	fi
	t_ok "$name: dump refused ($(zs_first_error "$name" dump))"
}

# t_restore_refused NAME IMGDIR PIDS ARGS...: a restore that must fail
# before any task is created: none of PIDS may be running afterwards.
t_restore_refused() {
	local name=$1 img=$2 pids=$3 p
	shift 3
	if zs_restore "$name" "$img" "$@"; then
		t_fail "$name: restore refused" "criu restore succeeded; it must be refused"
		return 1
	fi
	for p in $pids; do
		if kill -0 "$p" 2>/dev/null; then
			t_fail "$name: restore refused" "restore failed, but pid $p exists: a task was created"
			return 1
		fi
	done
	t_ok "$name: restore refused, no task created ($(zs_first_error "$name" restore))"
}

# t_restore NAME IMGDIR ARGS...: a restore that must succeed.
t_restore() {
	local name=$1
	if zs_restore "$@"; then
		t_ok "$name: restore ($(printf '%.2f' "$ZS_SECS") s)"
	else
		t_fail "$name: restore" "criu restore ${*:3} failed; log:" "$(zs_log "$1" restore)"
		return 1
	fi
}

# t_verify NAME DIR [DIGEST]: every page checks, and the state is the
# expected one (the digest of the verify taken before the dump).
t_verify() {
	local name=$1 dir=$2 want=${3:-} out rc
	wl_verify "$dir" >"$ZS_T/.verify.out"
	rc=$?
	out=$(cat "$ZS_T/.verify.out")
	if [ $rc != 0 ]; then
		t_fail "$name: verify every page" "$out"
		return 1
	fi
	if [ -n "$want" ] && [ "$WL_DIGEST" != "$want" ]; then
		t_fail "$name: verify every page" "pages are self-consistent but the state is not the dumped one:" \
			"digest $WL_DIGEST, dumped state had $want (an older or newer image was restored)"
		return 1
	fi
	t_ok "$name: verify every page ($out)"
}

# t_range NAME VALUE MIN MAX: MIN <= VALUE <= MAX (MAX may be empty).
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

# t_log_has NAME LOGNAME OP REGEX: the CRIU log says so.
t_log_has() {
	if grep -qE "$4" "$ZS_T/logs/$2.$3.log" 2>/dev/null; then
		t_ok "$1"
	else
		t_fail "$1" "log $2.$3 lacks /$4/; last lines:" "$(zs_log "$2" "$3" 10)"
		return 1
	fi
}

# ---- layout facts from the workload's own bookkeeping ("info") ----

# wl_info DIR: refresh $ZS_T/.info
wl_info() { wl_cmd "$1" info >"$ZS_T/.info"; }

# wl_info_pids: pids of the tree, process 0 first (after wl_info).
wl_info_pids() { awk '/^proc / {print $4}' "$ZS_T/.info"; }

# wl_info_nonzero PID [KIND-REGEX]: pages holding data in PID's regions (of those kinds).
wl_info_nonzero() {
	awk -v pid="$1" -v kinds="${2:-.}" '
		/^proc / {cur = $4}
		/^  region / && cur == pid && $2 ~ kinds {sub("nonzero=", "", $5); n += $5}
		END {print n + 0}' "$ZS_T/.info"
}

# diff_breakdown IMGDIR PID: where the pages stored in an image come from:
# the workload's own regions (from wl_info) vs everything else, and how many
# of the stored pages are all zeroes.
diff_breakdown() {
	local img=$1 pid=$2 ranges
	ranges=$(awk -v pid="$pid" '/^proc / {cur = $4} /^  region / && cur == pid {print $3}' "$ZS_T/.info" | tr '\n' ' ')
	zs_crit decode -i "$img/pagemap-$pid.img" | /usr/bin/python3 -c "
import json, sys
j = json.load(sys.stdin)
pid = j['entries'][0]['pages_id']
data = open('$img/pages-%d.img' % pid, 'rb').read()
ranges = [tuple(int(x, 16) for x in r.split('-')) for r in '$ranges'.split()]
zero = b'\0' * 4096
off = 0
inside = outside = zin = zout = 0
for e in j['entries'][1:]:
    if e['flags'] & 1:
        continue
    for i in range(e['nr_pages']):
        a = e['vaddr'] + i * 4096
        z = data[(off + i) * 4096:(off + i + 1) * 4096] == zero
        if any(s <= a < t for s, t in ranges):
            inside += 1; zin += z
        else:
            outside += 1; zout += z
    off += e['nr_pages']
print('%d in the workload regions, %d elsewhere (%d of those all-zero pages)' % (inside, outside, zout))"
}
