#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make demo: memory tracking that starts at restore, on a plain process.
#
# A 256 MiB workload is dumped in full (what every checkpoint costs with
# stock tools here), restored with --track-mem, writes a few pages, and is
# dumped again with the restored image as parent: the second image holds only
# what changed. Then diff + parent are restored and every page is checked.
#
#   MIB=256 PAGES=100 scripts/demo.sh      (ZS_KEEP=1 keeps the images)

. "$(dirname "$0")/../tests/criu/lib.sh"

MIB=${MIB:-256}
PAGES=${PAGES:-100}
step=0
say() {
	step=$((step + 1))
	printf '[%d/7] %s\n' "$step" "$*"
}
fail() {
	echo "FAIL: $*"
	[ -n "${2:-}" ] && zs_log "$2" "$3" 15 | sed 's/^/    /'
	echo "RESULT: FAIL"
	exit 1
}
# verify: every page of the workload; V = its report, WL_DIGEST = the state.
verify() {
	wl_verify "$W" >"$ZS_T/.v"
	local rc=$?
	V=$(cat "$ZS_T/.v")
	return $rc
}
mb() { echo "scale=1; $1 / 1000000" | bc | sed 's/^\./0./'; }

[ -x "$CRIU" ] || { echo "demo: $CRIU missing: run make" >&2; exit 1; }
zs_setup demo
W=$ZS_T/wl
echo "zanshin demo: memory tracking that starts at restore ($("$CRIU" --version | head -n1), kernel $(uname -r))"
echo "scratch directory: $ZS_T"

say "starting a $MIB MiB workload (every page filled with a known pattern)"
wl_start "$W" "$MIB" || fail "workload did not start: $(cat "$W/.start")"
pid=$(wl_pid "$W")
verify || fail "fresh workload does not verify: $V"
d_full=$WL_DIGEST
echo "      pid $pid, $V"

say "full dump (what every checkpoint costs today)"
zs_dump full "$ZS_T/full" "$pid" || fail "criu dump failed" full dump
full_secs=$ZS_SECS full_bytes=$(img_bytes "$ZS_T/full") full_pages=$(img_pages "$ZS_T/full")
echo "      $(mb "$full_bytes") MB, $full_pages pages, $(printf '%.2f' "$full_secs") s"

say "restore with --track-mem (tracking starts from the restored memory)"
zs_restore full "$ZS_T/full" --track-mem || fail "criu restore --track-mem failed" full restore
restore_secs=$ZS_SECS
verify || fail "restored workload does not verify: $V"
[ "$WL_DIGEST" = "$d_full" ] || fail "restored state is not the dumped one"
echo "      $(printf '%.2f' "$restore_secs") s; every page verified: $V; keeper: $(zs_our_keepers | tr '\n' ' ')"

say "the workload writes $PAGES pages ($(printf "%.2f" "$(echo "scale=4; 100 * $PAGES / ($MIB * 256)" | bc)")% of its memory)"
out=$(wl_cmd "$W" write "$PAGES") || fail "write failed: $out"
verify || fail "workload does not verify after writing: $V"
d_diff=$WL_DIGEST

say "dump with the restored image as parent (--track-mem --prev-images-dir ../full)"
zs_dump diff "$ZS_T/diff" "$pid" --track-mem --prev-images-dir ../full || fail "diff dump failed" diff dump
diff_secs=$ZS_SECS diff_bytes=$(img_bytes "$ZS_T/diff") diff_pages=$(img_pages "$ZS_T/diff")
echo "      $(mb "$diff_bytes") MB, $diff_pages pages, $(printf '%.2f' "$diff_secs") s"

say "restore diff + parent, then check every page"
zs_restore diff "$ZS_T/diff" --track-mem || fail "restore of the diff failed" diff restore
verify
rc=$?
echo "      $V"
[ $rc = 0 ] || fail "restored memory is wrong"
[ "$WL_DIGEST" = "$d_diff" ] || fail "restored state is not the dumped one (digest $WL_DIGEST, want $d_diff)"

say "summary"
printf '      %-14s %14s %14s\n' "" "full dump" "diff dump"
printf '      %-14s %11s MB %11s MB\n' "image size" "$(mb "$full_bytes")" "$(mb "$diff_bytes")"
printf '      %-14s %14s %14s\n' "pages stored" "$full_pages" "$diff_pages"
printf '      %-14s %12.2f s %12.2f s\n' "dump time" "$full_secs" "$diff_secs"
printf "      diff is %.2f%% of the full image\n" "$(echo "scale=4; 100 * $diff_bytes / $full_bytes" | bc)"
echo "RESULT: PASS"
