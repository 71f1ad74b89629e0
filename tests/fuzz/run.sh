#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Fuzz the parsers of untrusted input for a short while (issue 18 item 6,
# issue 16 item 3): build the libFuzzer targets (make fuzz: clang, ASan,
# UBSan; mk/fuzz.mk), make seed corpora (a real image our CRIU dumps of a
# sleeping process; config.json from `zanshin spec` and the suites; a
# zanshin.json; the records of a generation the store keeps of that image),
# run each for FUZZ_SECONDS (default 15). A crash, a leak, a sanitizer report or an
# input that takes more than 5 s is a failure; the input is kept in
# build/test-logs/fuzz/. TAP on stdout. FUZZ_PARALLEL=1 runs the targets
# at once (the long runs of docs/testing.md); FUZZ_CORPUS=DIR keeps each
# target's grown corpus in DIR/NAME (seeded as above when empty).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
SECS=${FUZZ_SECONDS:-15}
out=$top/build/test-logs/fuzz

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
t_ok "make fuzz builds $(cd "$top/build/fuzz" && ls -- *_fuzz | tr '\n' ' ')"

T=$(mktemp -d /tmp/zs-fuzz.XXXXXX)
# the targets' scratch directories (tests/fuzz/*_fuzz.c): in one of ours,
# removed here also when a target dies without running its atexit
SHM=$(mktemp -d /dev/shm/zs-fuzz-run.XXXXXX)
export ZS_FUZZ_SCRATCH=$SHM
trap 'kill $sp 2>/dev/null; rm -rf "$T" "$SHM"' EXIT
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

# the other targets' seeds: what the runtime itself writes and reads
mkdir -p "$T/c" "$T/s" "$T/m"
"$top/build/bin/zanshin" spec --bundle "$T/c" >/dev/null 2>&1
(. "$top/tests/cr/lib.sh" && cr_config 64 /zs-fuzz >"$T/c/cr.json") 2>/dev/null
printf '%s' '{"track_mem": true, "restore_timeout": 60, "remnant": {"root": "/var/lib/zanshin", "max_age": 604800, "max_bytes": 10737418240, "max_chain": 8, "tmp_grace": 600, "keep_rootfs_max_bytes": 1073741824}}' >"$T/s/full.json"
printf '%s' '{}' >"$T/s/empty.json"
if [ -f "$T/img/inventory.img" ] &&
	"$top/build/bin/zanshin" --remnant-root "$T/store" remnant import fz "$T/img" >/dev/null 2>&1; then
	g=$(ls -d "$T"/store/containers/fz/generations/0* | head -n1)
	{ printf '\x00' && cat "$g/manifest.json"; } >"$T/m/manifest"
	{ printf '\x01' && cat "$g/lineage.json"; } >"$T/m/lineage"
	t_ok "seed records from a stored generation"
else
	t_fail "seed records from a stored generation" "zanshin remnant import of the dumped image failed"
fi

# the agent's peer requests (docs/agent.md, "Protocol"): whole connections
# as a source sends them, frames with their raw data
mkdir -p "$T/a"
/usr/bin/python3 - "$T/a" <<'PY'
import json, struct, sys, os
d = sys.argv[1]
def fr(obj, data=b""):
    b = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(b)) + b + data
dg = "ab" * 32
cfg, tar, core, pages = b'{"ociVersion":"1.0.2"}', b"\0" * 512, b"core", b"\x11" * 4096
offer = {"type": "offer", "move": "m20261207T012655-23dd0cec", "container": "zs-cr-1", "mode": "stop-copy",
         "bundle_digest": dg, "rootfs_digest": "cd" * 32, "baseline": "0123456789abcdef"}
full = (fr(offer)
        + fr({"type": "bundle", "digest": dg, "rootfs_digest": "cd" * 32, "config_size": len(cfg), "size": len(tar),
              "reuse_rootfs": False}, cfg + tar)
        + fr({"type": "image", "image_id": "0123456789abcdef", "files": [
            {"name": "core-1.img", "size": len(core), "digest": dg}, {"name": "pages-1.img", "size": len(pages), "digest": dg}]})
        + fr({"type": "file", "name": "core-1.img", "size": len(core)}, core)
        + fr({"type": "file", "name": "pages-1.img", "size": len(pages)}, pages)
        + fr({"type": "commit"}))
diff = (fr(dict(offer, mode="post-copy"))
        + fr({"type": "bundle", "digest": dg, "rootfs_digest": "cd" * 32, "config_size": len(cfg), "size": 0,
              "reuse_rootfs": True}, cfg)
        + fr({"type": "image", "image_id": "fedcba9876543210", "parent_image_id": "0123456789abcdef",
              "files": [{"name": "pagemap-1.img", "size": 4, "digest": dg}]})
        + fr({"type": "file", "name": "pagemap-1.img", "size": 4}, b"pmap")
        + fr({"type": "commit"}) + fr({"type": "ps", "size": 8}, b"\0" * 8))
after = (fr(offer)
         + fr({"type": "image", "image_id": "0123456789abcdef", "digests": "after", "files": [
             {"name": "core-1.img", "size": len(core)}, {"name": "pages-1.img", "size": len(pages)}]})
         + fr({"type": "file", "name": "core-1.img", "size": len(core)}, core)
         + fr({"type": "digest", "name": "core-1.img", "digest": dg})
         + fr({"type": "file", "name": "pages-1.img", "size": len(pages)}, pages)
         + fr({"type": "digest", "name": "pages-1.img", "digest": dg}) + fr({"type": "commit"}))
for name, b in (("full", full), ("digests-after", after), ("postcopy-diff", diff), ("status", fr({"type": "status", "move": offer["move"]})),
                ("error", fr({"type": "error", "error": "no space"}))):
    open(os.path.join(d, name), "wb").write(b)
PY

# fuzz TARGET CORPUS [ARGS]: one target for SECS seconds
fuzz_run() {
	local name=$1 corpus=$2
	shift 2
	if [ -n "${FUZZ_CORPUS:-}" ]; then
		mkdir -p "$FUZZ_CORPUS/$name"
		[ -n "$(ls -A "$FUZZ_CORPUS/$name")" ] || cp -a "$corpus/." "$FUZZ_CORPUS/$name/"
		corpus=$FUZZ_CORPUS/$name
	fi
	# the committed corpus (tests/fuzz/corpus/NAME: what the long runs of
	# docs/testing.md found, minimized with -merge=1) is read, never written
	local kept=$top/tests/fuzz/corpus/${name%_fuzz}
	[ -d "$kept" ] || kept=
	(cd "$T" && "$top/build/fuzz/$name" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=1024 "$@" \
		-print_final_stats=1 -artifact_prefix="$out/$name-" "$corpus" ${kept:+"$kept"} >"$out/$name.log" 2>&1)
}
fuzz_report() {
	local name=$1 rc=$2 n cov
	if [ "$rc" = 0 ]; then
		n=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$out/$name.log" | grep -oE '[0-9]+')
		cov=$(grep -oE 'DONE +cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$out/$name.log" | tail -n1 | sed 's/DONE *//')
		t_ok "$name: ${SECS}s, $n inputs ($cov), no crash, leak or sanitizer report"
	else
		t_fail "$name" "$(grep -E 'ERROR|SUMMARY|Test unit written' "$out/$name.log" | head -n 10)"
	fi
}
TARGETS=("criu_image_fuzz $T/corpus" "config_fuzz $T/c" "settings_fuzz $T/s" "manifest_fuzz $T/m"
	"agent_request_fuzz $T/a -max_len=65536")
declare -A pids=()
for t in "${TARGETS[@]}"; do
	# shellcheck disable=SC2086 # NAME CORPUS ARGS
	if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
		fuzz_run $t &
		pids[${t%% *}]=$!
	else
		fuzz_run $t
		fuzz_report "${t%% *}" $?
	fi
done
for name in "${!pids[@]}"; do
	wait "${pids[$name]}"
	fuzz_report "$name" $?
done
left=$(ls -A "$SHM")
if [ -z "$left" ]; then t_ok "the targets removed their scratch directories"; else
	t_fail "the targets removed their scratch directories" "left in $SHM: $left"
fi
t_done
