#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# After `make check SANITIZE=...`: every ASan/UBSan report the sanitized
# binaries wrote under DIR (build/test-logs/sanitizers; tests/sanitize/
# defaults.c) since the run began, printed; exit 1 when there is one.
dir=${1:?usage: report.sh DIR}
mark=$dir/.check-start
n=0
for f in "$dir"/san.*; do
	[ -f "$f" ] || continue
	[ -e "$mark" ] && [ ! "$f" -nt "$mark" ] && continue
	n=$((n + 1))
	echo "=== sanitizer report $f"
	head -n 60 "$f"
done
if [ $n -gt 0 ]; then
	echo "sanitizers: $n report(s) in $dir"
	exit 1
fi
echo "sanitizers: no reports in $dir"
