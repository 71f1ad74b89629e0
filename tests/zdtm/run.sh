#!/bin/bash
# Regression suite for the patched CRIU (issue 2), TAP on stdout:
#   1. libcriu: page server setter return value, lazy pages setter (end to end)
#   2. dump/restore of a process owned by another uid (prlimit() is denied
#      here; patch 0003 reads /proc/PID/limits instead)
#   3. a subset of CRIU's own zdtm suite (tests/zdtm/tests.txt), run from a
#      copy of the patched tree build/criu-4.2.1 (scripts/criu-build.sh may
#      re-extract the tree while we run), plain and with
#      --pre 2 (pre-dumps need memory tracking, which this kernel only has
#      through the wp-async backend of patches 0010+).
#
#   tests/zdtm/run.sh [REGEX]    only zdtm tests matching REGEX (parts 1, 2 always run)
#
# Logs: build/test-logs/zdtm/.  Needs root and a built tree (make).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"

filter=${1:-.}
here=$top/tests/zdtm
stock=$top/build/stock/bin/criu
tree=$top/build/criu-4.2.1
logs=$top/build/test-logs/zdtm
work=$top/build/zdtm
ztree=$work/tree
criu=$ztree/criu/criu
export PATH=/usr/bin:$PATH # zdtm needs Debian's python3 (python3-protobuf)

rm -rf "$logs" "$work"
mkdir -p "$logs" "$work"

# Copies the patched tree, once it is completely built (build/bin/criu is
# installed from it last), so that a concurrent rebuild cannot change it
# under the tests.
copy_tree() {
	local i
	for i in $(seq 24); do
		if [ -f "$tree/.zanshin-series" ] && cmp -s "$tree/criu/criu" "$top/build/bin/criu"; then
			rm -rf "$ztree"
			cp -a "$tree" "$ztree" 2>/dev/null &&
				cmp -s "$ztree/criu/criu" "$top/build/bin/criu" &&
				cmp -s "$ztree/.zanshin-series" "$tree/.zanshin-series" && return 0
		fi
		sleep 5
	done
	return 1
}

if [ ! -x "$top/build/bin/criu" ] || [ ! -e "$top/build/lib/libcriu.so" ] || ! copy_tree; then
	t_fail "patched CRIU is built" "no complete build in build/bin/criu, build/lib/libcriu.so, $tree; run make"
	t_done
	exit 1
fi
t_diag "CRIU under test: $(cat "$ztree/.zanshin-series") ($(grep -vc '^#' "$top/criu-patches/series") patches)"

# Waits until /proc/$1 is gone (pid 1 here reaps orphans slowly); 0 if gone.
wait_gone() {
	local i
	for i in $(seq 100); do
		[ -e "/proc/$1" ] || return 0
		sleep 0.1
	done
	return 1
}

# ---- 1. libcriu ------------------------------------------------------------
libcriu_tests() {
	local bin=$work/libcriu-test out line
	# Built against the installed headers and library; run with a private
	# copy of the library, which a concurrent rebuild cannot replace.
	mkdir -p "$work/lib"
	cp "$top/build/lib/libcriu.so.2.0" "$work/lib/libcriu.so.2"
	if ! out=$(gcc -O2 -Wall -Werror -o "$bin" "$here/libcriu-test.c" -I"$top/build/include/criu" \
		-L"$top/build/lib" -lcriu -lprotobuf-c -Wl,-rpath,"$work/lib" 2>&1); then
		t_fail "libcriu test builds against build/include/criu and build/lib" "$out"
		return
	fi
	mkdir -p "$work/libcriu"
	CRIU=$criu timeout 300 "$bin" "$work/libcriu" >"$logs/libcriu.tap" 2>&1
	while IFS= read -r line; do
		case "$line" in
		"ok "*) t_ok "libcriu: ${line#* - }" ;;
		"not ok "*) t_fail "libcriu: ${line#* - }" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$logs/libcriu.tap"
	grep -q '^1\.\.3$' "$logs/libcriu.tap" ||
		t_fail "libcriu test ran to the end" "$(tail -5 "$logs/libcriu.tap")"
	cp -r "$work/libcriu" "$logs/" 2>/dev/null
}

# ---- 2. another uid (prlimit denied) --------------------------------------
# Starts `sleep` as uid 65534 with unusual limits; sets $victim.
start_victim() {
	setpriv --reuid 65534 --regid 65534 --clear-groups \
		setsid sh -c 'ulimit -Sn 777; ulimit -Hn 1999; ulimit -Sc 4096; ulimit -Ss 4321; exec sleep 1000' \
		</dev/null >/dev/null 2>&1 &
	victim=$!
	for _ in $(seq 50); do
		[ "$(cat "/proc/$victim/comm" 2>/dev/null)" = sleep ] && return 0
		sleep 0.1
	done
	return 1
}

other_uid_tests() {
	local d=$work/uid img=$work/uid/img before after uid victim
	mkdir -p "$img"

	if [ -x "$stock" ]; then
		start_victim || { t_fail "other uid: start a process as uid 65534"; return; }
		if "$stock" dump -t "$victim" -D "$img" -o stock-dump.log -v4 --leave-running; then
			t_skip "other uid: stock CRIU fails to dump it (prlimit denied)" \
				"this host allows prlimit() on another uid's task"
		elif grep -q "Can't get rlimit" "$img/stock-dump.log"; then
			t_ok "other uid: stock CRIU fails to dump it (prlimit denied)"
		else
			t_fail "other uid: stock CRIU fails to dump it (prlimit denied)" \
				"stock dump failed for another reason:" "$(grep Error "$img/stock-dump.log" | tail -5)"
		fi
		cp "$img/stock-dump.log" "$logs/"
		{ kill -9 "$victim" && wait "$victim"; } 2>/dev/null
		rm -rf "$img" && mkdir -p "$img"
	else
		t_skip "other uid: stock CRIU fails to dump it (prlimit denied)" \
			"stock CRIU not built (make criu-stock)"
	fi

	start_victim || { t_fail "other uid: start a process as uid 65534"; return; }
	before=$(cat "/proc/$victim/limits")
	if ! "$criu" dump -t "$victim" -D "$img" -o dump.log -v4; then
		t_fail "other uid: patched CRIU dumps it" "$(grep Error "$img/dump.log" | tail -5)"
		{ kill -9 "$victim" && wait "$victim"; } 2>/dev/null
		cp "$img"/*.log "$logs/" 2>/dev/null
		return
	fi
	{ wait "$victim"; } 2>/dev/null
	if grep -q "prlimit on $victim denied, reading /proc/$victim/limits" "$img/dump.log"; then
		t_ok "other uid: patched CRIU dumps it, limits read from /proc/PID/limits"
	else
		t_skip "other uid: patched CRIU dumps it, limits read from /proc/PID/limits" \
			"prlimit() was allowed on this host; the fallback was not needed"
	fi

	if ! wait_gone "$victim"; then
		t_fail "other uid: restore" "pid $victim still exists after the dump"
		return
	fi
	if ! "$criu" restore -D "$img" -d -o restore.log -v4; then
		t_fail "other uid: restore" "$(grep Error "$img/restore.log" | tail -5)"
		cp "$img"/*.log "$logs/" 2>/dev/null
		return
	fi
	cp "$img"/*.log "$logs/" 2>/dev/null
	after=$(cat "/proc/$victim/limits" 2>/dev/null)
	uid=$(awk '/^Uid:/ {print $2 "," $3}' "/proc/$victim/status" 2>/dev/null)
	if [ "$(cat "/proc/$victim/comm" 2>/dev/null)" != sleep ] || [ "$uid" != 65534,65534 ]; then
		t_fail "other uid: restored process runs as uid 65534" "comm/uid after restore: $(cat "/proc/$victim/comm" 2>/dev/null) $uid"
	else
		t_ok "other uid: restored process runs as uid 65534"
	fi
	if [ -n "$after" ] && [ "$before" = "$after" ] && grep -q '^Max open files *777 *1999 ' <<<"$after"; then
		t_ok "other uid: restored process has the same limits"
	else
		t_fail "other uid: restored process has the same limits" "before:" "$before" "after:" "$after"
	fi
	kill -9 "$victim" 2>/dev/null
}

# ---- 3. zdtm ----------------------------------------------------------------
# Prints the reason when "$1 $2 $3" (test flavor mode) is excluded.
excluded() {
	awk -v t="$1" -v f="$2" -v m="$3" '
		/^[ \t]*(#|$)/ { next }
		{
			reason = $0; sub(/^[^#]*#[ \t]*/, "", reason)
			if ($1 != t) next
			if ($2 != "*" && $2 != f && $2 != "") next
			if ($3 != "*" && $3 != m && $3 != "" && $3 != "#") next
			print reason; exit
		}' "$here/excluded.txt"
}

build_zdtm() {
	local out
	# zdtm.py builds every test program when libzdtmtst.a is missing; build
	# only the library and the programs we run, which is much faster.
	local static trans
	static=$(awk '!/^#/ && $1 ~ /^zdtm\/static\// {sub("zdtm/static/", "", $1); print $1}' "$here/tests.txt")
	trans=$(awk '!/^#/ && $1 ~ /^zdtm\/transition\// {sub("zdtm/transition/", "", $1); print $1}' "$here/tests.txt")
	# shellcheck disable=SC2086
	if ! out=$( (env -u MAKEFLAGS make -C "$ztree/test/zdtm/lib" -j2 &&
		env -u MAKEFLAGS make -C "$ztree/test/zdtm/static" -j2 $static &&
		env -u MAKEFLAGS make -C "$ztree/test/zdtm/transition" -j2 $trans &&
		env -u MAKEFLAGS make -C "$ztree/test" umount2 zdtm_ct) 2>&1); then
		t_fail "zdtm test programs build" "$(tail -20 <<<"$out")"
		return 1
	fi
	echo "$out" >"$logs/zdtm-build.log"
}

run_zdtm_one() {
	local t=$1 f=$2 m=$3 name log rc why
	name="$t ($f)"
	args=(run -t "$t" -f "$f" --criu-bin "$criu")
	if [ "$m" = pre ]; then
		name="$name --pre 2"
		args+=(--pre 2)
	fi
	why=$(excluded "$t" "$f" "$m")
	if [ -n "$why" ]; then
		t_skip "zdtm $name" "excluded: $why"
		return
	fi
	log=$logs/$(echo "$t.$f.$m" | tr '/' '_').log
	(cd "$ztree/test" && timeout --kill-after=10 180 ./zdtm.py "${args[@]}") >"$log" 2>&1 </dev/null
	rc=$?
	if grep -q "^Tracking memory is not available" "$log"; then
		t_fail "zdtm $name" "zdtm: Tracking memory is not available (criu check --feature mem_dirty_track fails)"
	elif [ $rc -eq 0 ] && grep -q "Test $t PASS" "$log"; then
		t_ok "zdtm $name"
	elif [ $rc -eq 0 ] && why=$(grep -m1 -o "Skipping $t (.*)" "$log"); then
		t_skip "zdtm $name" "zdtm: $why"
	else
		t_fail "zdtm $name" "exit $rc, log $log:" "$(grep -E 'Error|FAIL|Traceback|rror:' "$log" | grep -v 'RLIMIT_NOFILE for self' | tail -12)"
	fi
}

zdtm_tests() {
	local t flavors modes f m
	build_zdtm || return
	while read -r t flavors modes; do
		case "$t" in "" | "#"*) continue ;; esac
		grep -qE -- "$filter" <<<"$t" || continue
		for m in ${modes//,/ }; do
			for f in ${flavors//,/ }; do
				run_zdtm_one "$t" "$f" "$m"
			done
		done
	done <"$here/tests.txt"
	# zdtm removes the images of passed tests; keep what failed in the logs.
	if [ -d "$ztree/test/dump" ]; then
		cp -r "$ztree/test/dump" "$logs/zdtm-dump" 2>/dev/null
		rm -rf "$ztree/test/dump"
	fi
}

libcriu_tests
other_uid_tests
zdtm_tests
t_done
