#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The man pages cannot drift from the binaries (issue 14, coordinator
# completeness item 2): every flag `zanshin-api --help` lists is defined in
# zanshin-api(8)'s OPTIONS (a line starting with **--flag**) and every flag
# defined there is in --help; the same for zanshind and zanshind(8).  And
# zanshin-api(8) states the scheduler's cost and weights, every policy and
# every --move-mode orderer.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib/tap.sh"
help_flags() { "$1" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }
# the flags an OPTIONS section defines: those on lines that start with one
man_flags() {
	sed -n '/^# OPTIONS/,/^# [A-Z]/p' "$1" | grep '^\*\*--' | grep -o -- '\*\*--[a-z][a-z0-9-]*\*\*' | tr -d '*' | sort -u
}
for b in zanshin-api zanshind; do
	bin=$TOP/build/bin/$b man=$TOP/docs/man/$b.8.md
	[ -x "$bin" ] || { echo "Bail out! $bin missing: run make"; exit 1; }
	h=$(help_flags "$bin")
	m=$(man_flags "$man")
	t_check "$b: --help lists flags ($(wc -l <<<"$h"))" test "$(wc -l <<<"$h")" -gt 5
	missing=$(comm -23 <(echo "$h") <(echo "$m") | tr '\n' ' ')
	t_check "$b: every flag of --help is in $b(8)${missing:+ (missing: $missing)}" test -z "$missing"
	extra=$(comm -13 <(echo "$h") <(echo "$m") | tr '\n' ' ')
	t_check "$b: every flag of $b(8) is in --help${extra:+ (not in --help: $extra)}" test -z "$extra"
done
man=$TOP/docs/man/zanshin-api.8.md
t_check "zanshin-api(8): the cost with its weights" grep -q 'cost(N) = k(C_N + M_N) - l(P_N + B_N) - m L_N' "$man"
for w in evacuate drain return-home none agent-stop admin stop-copy pre-copy post-copy; do
	t_check "zanshin-api(8) names $w" grep -q "\*\*$w\*\*" "$man"
done
# the policies and modes --help accepts are those the man page names
for w in evacuate drain return-home; do
	t_check "zanshin-api --help names the policy $w" sh -c '"$1" --help | grep -q -- "$2"' _ "$TOP/build/bin/zanshin-api" "$w"
done
t_done
