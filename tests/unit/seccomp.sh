#!/bin/sh
# Real-kernel tests of lib/seccomp.c: profiles loaded in child processes,
# actions, errno, arguments, flags, ENOSYS stub, parse errors.
# Built by `make cgroup-tests` (part of `make all`).
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/tests/r2/seccomp/seccomp_test
if [ ! -x "$bin" ]; then
	echo "not ok 1 - $bin missing (run make cgroup-tests)"
	exit 1
fi
exec "$bin"
