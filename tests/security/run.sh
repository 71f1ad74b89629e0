#!/bin/bash
# The security suite (issue 18): one file per attack, each written as the
# attack itself (a process in the container, a racer, a crafted bundle or
# image, a planted symlink). *.bats files run with bats (they may load
# ../runtime/helpers.bash); *.sh files are TAP scripts of their own (they
# may source ../cr/lib.sh). All run against $RUNTIME (default
# build/bin/zanshin); the output is one TAP stream ("ok N - file: test").
#   tests/security/run.sh [FILE...]    FILE with its extension; default: all
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export RUNTIME=${RUNTIME:-$top/build/bin/zanshin}
case $RUNTIME in /*) ;; *) RUNTIME=$top/$RUNTIME ;; esac
export ZANSHIN=$RUNTIME
PER_FILE_TIMEOUT=${PER_FILE_TIMEOUT:-120}

n=0 failed=0
"$top/tests/lib/rootfs.sh" busybox dir >/dev/null || exit 1

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
	for f in "$top"/tests/security/*.bats "$top"/tests/security/*.sh; do
		[ -e "$f" ] || continue
		case $(basename "$f") in run.sh | lib.sh) continue ;; esac
		files+=("$(basename "$f")")
	done
fi
echo "# runtime under test: $RUNTIME"
for f in "${files[@]}"; do
	case $f in
	*.bats) cmd=(bats --tap "$f") ;;
	*) cmd=("./$f") ;;
	esac
	out=$(cd "$top/tests/security" && timeout --kill-after=10 "$PER_FILE_TIMEOUT" "${cmd[@]}" 2>&1 </dev/null)
	rc=$?
	reported=0
	while IFS= read -r line; do
		case $line in
		"ok "*)
			n=$((n + 1)) reported=1
			echo "ok $n - $f: $(sed -E 's/^ok [0-9]+ (- )?//' <<<"$line")"
			;;
		"not ok "*)
			n=$((n + 1)) failed=$((failed + 1)) reported=1
			echo "not ok $n - $f: $(sed -E 's/^not ok [0-9]+ (- )?//' <<<"$line")"
			;;
		"1.."*) ;;
		*) echo "# $line" ;;
		esac
	done <<<"$out"
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		n=$((n + 1)) failed=$((failed + 1))
		echo "not ok $n - $f: timed out after ${PER_FILE_TIMEOUT}s"
	elif [ $rc -ne 0 ] && [ $reported = 0 ]; then
		n=$((n + 1)) failed=$((failed + 1))
		echo "not ok $n - $f: exited $rc without a TAP line"
	fi
done
echo "1..$n"
[ $failed -eq 0 ]
