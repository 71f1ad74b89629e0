#!/bin/bash
# Runs zanshin's own runtime tests, tests/runtime/*.bats (one file per
# feature), against $RUNTIME (default build/bin/zanshin; RUNTIME=/usr/sbin/runc
# for comparison) and prints one TAP stream ("ok N - file: test").
#   tests/runtime/run.sh [FILE...]    FILE without .bats; default: all
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export RUNTIME=${RUNTIME:-$top/build/bin/zanshin}
case $RUNTIME in /*) ;; *) RUNTIME=$top/$RUNTIME ;; esac
export RECVTTY=$top/build/tests/recvtty
PER_FILE_TIMEOUT=${PER_FILE_TIMEOUT:-60}
# Stop starting files after this long (tests/suites gives the suite 330 s);
# the rest are reported as skips.
BUDGET=${RUNTIME_TESTS_BUDGET:-260}

n=0 failed=0
mkdir -p "$top/build/tests"
if [ ! -x "$RECVTTY" ] || [ "$top/tests/runc-integration/recvtty.c" -nt "$RECVTTY" ]; then
	cc -O2 -Wall -o "$RECVTTY" "$top/tests/runc-integration/recvtty.c" || {
		echo "not ok 1 - build console socket helper (recvtty)"
		echo "1..1"
		exit 1
	}
fi
# Build the rootfs once, before bats runs files (and tests) in parallel.
"$top/tests/lib/rootfs.sh" busybox dir >/dev/null || exit 1

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
	for f in "$top"/tests/runtime/*.bats; do files+=("$(basename "$f" .bats)"); done
fi
echo "# runtime under test: $RUNTIME"
for f in "${files[@]}"; do
	if [ $SECONDS -ge "$BUDGET" ]; then
		n=$((n + 1))
		echo "ok $n - $f: whole file # skip time budget of ${BUDGET}s used up"
		continue
	fi
	out=$(cd "$top/tests/runtime" && timeout --kill-after=10 "$PER_FILE_TIMEOUT" bats --tap "$f.bats" 2>&1 </dev/null)
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*)
			n=$((n + 1))
			echo "ok $n - $f: $(sed -E 's/^ok [0-9]+ //' <<<"$line")"
			;;
		"not ok "*)
			n=$((n + 1)) failed=$((failed + 1))
			echo "not ok $n - $f: $(sed -E 's/^not ok [0-9]+ //' <<<"$line")"
			;;
		"1.."*) ;;
		*) echo "# $line" ;;
		esac
	done <<<"$out"
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		n=$((n + 1)) failed=$((failed + 1))
		echo "not ok $n - $f: timed out after ${PER_FILE_TIMEOUT}s"
	fi
done
# The per-test cgroups live under one parent; remove it when empty.
for d in /sys/fs/cgroup/*/zanshin-rt-test; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
echo "1..$n"
[ $failed -eq 0 ]
