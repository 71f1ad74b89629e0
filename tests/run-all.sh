#!/bin/bash
# Runs every test suite listed in tests/suites (or those named on the command
# line) and prints a summary whose last line is
#   N passed, N failed[, N skipped]
#
# A suite is an executable that writes TAP to stdout: "ok N - name",
# "not ok N - name", "ok N - name # skip reason". bats --tap and
# tests/lib/tap.sh both speak it. A suite that exits non-zero without
# reporting any failure counts one extra failure; one that exceeds its
# timeout is killed and counts one failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logdir=$top/build/test-logs
mkdir -p "$logdir"

passed=0 failed=0 skipped=0
skips=() fails=() faillogs=()

run_suite() {
	local name=$1 timeout=$2 log=$logdir/$(echo "$1" | tr '/' '_').log
	local t0=$SECONDS rc
	echo "=== $name (timeout ${timeout}s)"
	timeout --kill-after=30 "$timeout" "tests/$name" >"$log" 2>&1 </dev/null
	rc=$?
	local p=0 f=0 s=0 line
	while IFS= read -r line; do
		case "$line" in
		"ok "*"# skip"* | "ok "*"# SKIP"*)
			s=$((s + 1))
			skips+=("$name: ${line#ok }")
			;;
		"ok "*) p=$((p + 1)) ;;
		"not ok "*)
			f=$((f + 1))
			fails+=("$name: ${line#not ok }")
			;;
		esac
	done <"$log"
	if [ $rc -ne 0 ] && [ $f -eq 0 ]; then
		f=1
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			fails+=("$name: suite timed out after ${timeout}s")
		else
			fails+=("$name: suite exited $rc without reporting a failure")
		fi
	fi
	# Show the suite's own output only when something went wrong.
	if [ $f -gt 0 ]; then
		tail -n 60 "$log" | sed 's/^/    /'
		faillogs+=("$log")
	fi
	echo "    $p passed, $f failed, $s skipped ($((SECONDS - t0))s; log $log)"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

declare -a want=("$@")
while read -r suite timeout _; do
	case "$suite" in "" | \#*) continue ;; esac
	if [ ${#want[@]} -gt 0 ]; then
		hit=0
		for w in "${want[@]}"; do [[ $suite == *"$w"* ]] && hit=1; done
		[ $hit = 1 ] || continue
	fi
	if [ ! -x "tests/$suite" ]; then
		echo "=== $suite: not found or not executable"
		failed=$((failed + 1))
		fails+=("$suite: missing")
		continue
	fi
	# TIMEOUT_SCALE=N: N times longer (a sanitized build, mk/sanitize.mk)
	run_suite "$suite" "$((${timeout:-600} * ${TIMEOUT_SCALE:-1}))"
done <tests/suites

# Skips first, failures last: a CI that keeps only the tail of the output
# still shows what failed and the end of its log.
echo
if [ ${#skips[@]} -gt 0 ]; then
	echo "Skipped (with reasons):"
	printf '  %s\n' "${skips[@]}"
fi
for log in "${faillogs[@]}"; do
	echo "End of $log:"
	grep -n -B 15 -A 15 '^not ok ' "$log" | tail -n 40 | sed 's/^/    /'
	grep -q '^not ok ' "$log" || tail -n 30 "$log" | sed 's/^/    /'
done
if [ ${#fails[@]} -gt 0 ]; then
	echo "Failed:"
	printf '  %s\n' "${fails[@]}"
fi
if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
