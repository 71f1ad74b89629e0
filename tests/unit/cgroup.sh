#!/bin/sh
# Real-kernel tests of lib/cgroup*.c (needs root): limits, freezer, update,
# stats, OOM events, kill --all, destroy, BPF device filter.  Built by
# `make cgroup-tests` (part of `make all`).
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/tests/r2/cgroup/cgroup_test
if [ ! -x "$bin" ]; then
	echo "not ok 1 - $bin missing (run make cgroup-tests)"
	exit 1
fi
exec "$bin"
