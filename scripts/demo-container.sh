#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make demo, the main job: a container checkpointed, restored with memory
# tracking, and checkpointed again as a small diff, all with build/bin/zanshin
# (runc's command line) and our CRIU.
#
# The container (busybox + our memory workload, built static) fills MIB MiB
# with a verifiable pattern. It is checkpointed in full (what every move
# costs with runc + CRIU), restored with --track-mem, writes PAGES pages, and
# is checkpointed with --parent-path: the second image holds only what
# changed. Then it is restored from diff + parent and every page is checked.
# The node's remnant store is listed at the end.
#
#   MIB=256 PAGES=100 scripts/demo-container.sh      (CR_KEEP=1 keeps it all)

. "$(dirname "$0")/../tests/cr/lib.sh"

MIB=${MIB:-256}
PAGES=${PAGES:-100}
CR_MIB=$MIB
step=0
say() {
	step=$((step + 1))
	printf '[%d/8] %s\n' "$step" "$*"
}
fail() {
	echo "FAIL: $*"
	echo "RESULT: FAIL"
	exit 1
}
# t_ok/t_fail are the test helpers' hooks; here they print.
t_ok() { :; }
t_fail() { echo "      $1: ${*:2}"; }
mb() { echo "scale=1; $1 / 1000000" | bc | sed 's/^\./0./'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b - a) / 1e9}'; }
verify() { # NAME [DIGEST]
	V=$(wl_do A verify) || fail "$1: the workload's memory does not verify: $V"
	WL_DIGEST=$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$V")
	[ -z "${2:-}" ] || [ "$WL_DIGEST" = "$2" ] || fail "$1: restored state is not the checkpointed one"
	V=${V#* }
}

cr_setup demo
cr_node A
IMG=$CR_T/A/img
echo "zanshin demo: a container checkpointed, restored with tracking, checkpointed again as a diff"
echo "runtime: $("$ZANSHIN" --version | head -n1); CRIU: $("$CR_TOP/build/bin/criu" --version | head -n1); kernel $(uname -r)"
echo "scratch directory: $CR_T"

say "zanshin run -d: busybox container, the workload fills $MIB MiB with a known pattern"
out=$(cr_run A) || fail "$out"
verify "fresh container"
echo "      container $CR_CID, $V"

say "zanshin checkpoint (full: what every move costs with runc + CRIU)"
t0=$(date +%s%N)
cr_checkpoint A "$IMG/full" || fail "checkpoint: $CR_ERR"
t1=$(date +%s%N)
cr_gone A || fail "the container is still there after its checkpoint"
full_bytes=$(img_bytes "$IMG/full") full_pages=$(img_own_pages "$IMG/full") full_secs=$(secs "$t0" "$t1")
echo "      $(mb "$full_bytes") MB, $full_pages pages, $full_secs s"

say "zanshin restore --track-mem (tracking starts from the restored memory)"
t0=$(date +%s%N)
cr_restore A "$IMG/full" --track-mem || fail "restore: $CR_ERR"
t1=$(date +%s%N)
verify "restore" ""
echo "      $(secs "$t0" "$t1") s; every page verified: $V"
echo "      state: $(jq -c '{image_id, tracking}' "$CR_T/A/state/$CR_CID/state.json")"

say "the workload writes $PAGES pages ($(printf "%.2f" "$(echo "scale=4; 100 * $PAGES / ($MIB * 256)" | bc)")% of its memory)"
out=$(wl_do A write "$PAGES") || fail "write: $out"
verify "after writing"
d_diff=$WL_DIGEST

say "zanshin checkpoint --track-mem --parent-path ../full (the diff)"
t0=$(date +%s%N)
cr_checkpoint A "$IMG/diff" --track-mem --parent-path ../full || fail "diff checkpoint: $CR_ERR"
t1=$(date +%s%N)
cr_gone A || fail "the container is still there after its checkpoint"
diff_bytes=$(img_bytes "$IMG/diff") diff_pages=$(img_own_pages "$IMG/diff") diff_secs=$(secs "$t0" "$t1")
echo "      $(mb "$diff_bytes") MB, $diff_pages pages, $diff_secs s; $(img_field "$IMG/diff" parent_pages) pages left in the parent"

say "zanshin restore from diff + parent, then check every page"
cr_restore A "$IMG/diff" --track-mem || fail "restore of the diff: $CR_ERR"
verify "restore of the diff" "$d_diff"
echo "      $V"

say "the node's remnant store (zanshin remnant list)"
z A remnant list | sed 's/^/      /'
z A remnant verify "$CR_CID" >/dev/null 2>&1 && echo "      newest generation verifies against its manifest" ||
	fail "remnant verify failed"

say "summary"
printf '      %-14s %14s %14s\n' "" "full" "diff"
printf '      %-14s %11s MB %11s MB\n' "image size" "$(mb "$full_bytes")" "$(mb "$diff_bytes")"
printf '      %-14s %14s %14s\n' "pages stored" "$full_pages" "$diff_pages"
printf '      %-14s %12s s %12s s\n' "checkpoint" "$full_secs" "$diff_secs"
printf "      diff is %.2f%% of the full image\n" "$(echo "scale=4; 100 * $diff_bytes / $full_bytes" | bc)"
echo "RESULT: PASS"
