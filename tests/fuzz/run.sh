#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Fuzz the CRIU image readers (issue 18 item 6) for a short while: build
# the libFuzzer target (make fuzz: clang, ASan, UBSan), make a seed corpus
# from a real image (our CRIU dumps a sleeping process), run it for
# FUZZ_SECONDS (default 20). A crash, a leak, a sanitizer report or an
# input that takes more than 5 s is a failure; the input is kept in
# build/test-logs/fuzz/. TAP on stdout.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
SECS=${FUZZ_SECONDS:-20}
out=$top/build/test-logs/fuzz
bin=$top/build/fuzz/criu_image_fuzz

if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
	t_skip "criu_image_fuzz" "clang is not installed (apt-get install clang): no libFuzzer"
	t_done
	exit
fi
if ! log=$(make -C "$top" fuzz 2>&1); then
	t_fail "make fuzz" "$log"
	t_done
	exit
fi
t_ok "make fuzz builds $(basename "$bin")"

T=$(mktemp -d /tmp/zs-fuzz.XXXXXX)
trap 'kill $sp 2>/dev/null; rm -rf "$T"' EXIT
# a real image: our CRIU dumps a sleep (its own session, stdio on /dev/null)
setsid sleep 1000 </dev/null >/dev/null 2>&1 &
sp=$!
sleep 0.2
mkdir -p "$T/img" "$T/corpus"
if "$top/build/bin/criu" dump -t "$sp" -D "$T/img" -o dump.log -v1 >/dev/null 2>&1; then
	i=0
	for f in inventory core-$sp pstree ids-$sp pagemap-$sp seccomp; do
		[ -f "$T/img/$f.img" ] && { printf "\\x$(printf %02x $i)" && cat "$T/img/$f.img"; } >"$T/corpus/$f"
		i=$((i + 1))
	done
	t_ok "seed corpus from a real image ($(ls "$T/corpus" | tr '\n' ' '))"
else
	kill "$sp" 2>/dev/null
	t_fail "seed corpus from a real image" "$(tail -n 5 "$T/img/dump.log" 2>/dev/null)"
fi
mkdir -p "$out"
if (cd "$T" && "$bin" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$out/" "$T/corpus" >"$out/criu_image_fuzz.log" 2>&1); then
	t_ok "criu_image_fuzz: ${SECS}s, $(grep -oE 'stat::number_of_executed_units: [0-9]+' "$out/criu_image_fuzz.log" | grep -oE '[0-9]+') inputs, no crash, leak or sanitizer report"
else
	t_fail "criu_image_fuzz" "$(grep -E 'ERROR|SUMMARY|Test unit written' "$out/criu_image_fuzz.log" | head -n 10)"
fi
t_done
