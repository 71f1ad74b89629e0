#!/bin/bash
# Runs every benchmark script bench/*.sh (except this one), in name order.
# Each writes its own results under bench/results/ (the harness ones also
# regenerate bench/results/README.md). `make bench` calls this;
# `make bench-quick` calls it with BENCH_QUICK=1: every script in its quick
# mode (fewer runs, smaller sizes), the older scripts with small RUNS/MIB.
#   bench/run-all.sh [PATTERN...]   only scripts whose name contains a PATTERN
set -u
here=$(cd "$(dirname "$0")" && pwd)
failed=()
for b in "$here"/*.sh; do
	name=$(basename "$b")
	[ "$name" = run-all.sh ] && continue
	if [ $# -gt 0 ]; then
		hit=0
		for p in "$@"; do [[ $name == *"$p"* ]] && hit=1; done
		[ $hit = 1 ] || continue
	fi
	echo "=== bench/$name"
	env=()
	if [ "${BENCH_QUICK:-0}" = 1 ]; then
		case $name in
		criu-track.sh) env=(RUNS=3 MIB=256) ;;
		runtime-run.sh) env=(RUNS=20 ROUNDS=2 WARMUP=1) ;;
		esac
	fi
	if ! env "${env[@]}" bash "$b"; then
		failed+=("$name")
		echo "=== bench/$name FAILED"
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed benchmarks: ${failed[*]}"
	exit 1
fi
echo "all benchmarks done; results in bench/results/"
