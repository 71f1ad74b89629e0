#!/bin/bash
# The build lays down what the issues promise: patched criu, libcriu, headers,
# and refuses a tarball whose SHA-256 differs.
. "$(dirname "$0")/../lib/tap.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
b=$top/build
t_check "build/bin/criu runs" "$b/bin/criu" --version
t_check "libcriu.so present" test -e "$b/lib/libcriu.so"
t_check "criu.h present" test -f "$b/include/criu/criu.h"
t_check "rpc.pb-c.h present" test -f "$b/include/criu/rpc.pb-c.h"

# A tarball with a different hash is refused (run on a copy of the tree).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/scripts" "$tmp/criu-patches" "$tmp/build/src"
cp "$top/scripts/criu-build.sh" "$tmp/scripts/"
cp "$top"/criu-patches/series "$top"/criu-patches/*.patch "$tmp/criu-patches/"
printf 'not criu' >"$tmp/build/src/criu_4.2.1.orig.tar.xz"
if out=$("$tmp/scripts/criu-build.sh" patched 2>&1); then
	t_fail "tarball with wrong SHA-256 refused" "build succeeded: $out"
elif echo "$out" | grep -q "does not match pinned"; then
	t_ok "tarball with wrong SHA-256 refused"
else
	t_fail "tarball with wrong SHA-256 refused" "unexpected error: $out"
fi

# A patch that does not apply stops the build and names the patch.
cp "$b/src/criu_4.2.1.orig.tar.xz" "$tmp/build/src/"
printf -- '--- a/Makefile\n+++ b/Makefile\n@@ -1,1 +1,1 @@\n-this line is not there\n+nor this\n' >"$tmp/criu-patches/9999-broken.patch"
echo 9999-broken.patch >>"$tmp/criu-patches/series"
if out=$("$tmp/scripts/criu-build.sh" patched 2>&1); then
	t_fail "non-applying patch stops the build" "build succeeded"
elif echo "$out" | grep -q "9999-broken.patch does not apply"; then
	t_ok "non-applying patch stops the build"
else
	t_fail "non-applying patch stops the build" "$out"
fi
t_done
