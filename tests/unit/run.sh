#!/bin/sh
# C unit tests for pure logic (lib/json, lib/error, config parsing, IDs).
# The binaries are built by `make runtime-unit` into build/tests/unit/.
here=$(cd "$(dirname "$0")/../.." && pwd)
bin="$here/build/tests/unit"
n=0
fail=0
for t in "$bin"/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	# Renumber each program's TAP lines into one stream.
	out=$("$t" 2>&1) || fail=1
	echo "$out" | grep -E '^(not )?ok ' | while IFS= read -r line; do
		echo "$line"
	done
	n=$((n + $(echo "$out" | grep -cE '^(not )?ok ')))
done
if [ "$n" -eq 0 ]; then
	echo "not ok 1 - unit test binaries missing under $bin (run make runtime-unit)"
	exit 1
fi
exit $fail
