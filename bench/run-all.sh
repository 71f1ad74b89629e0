#!/bin/bash
# Runs every benchmark script bench/*.sh (except this one), in name order.
# Each writes its own results under bench/results/. `make bench` calls this.
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
	if ! bash "$b"; then
		failed+=("$name")
		echo "=== bench/$name FAILED"
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed benchmarks: ${failed[*]}"
	exit 1
fi
echo "all benchmarks done; results in bench/results/"
