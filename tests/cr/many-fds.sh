#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A restore must not depend on how many descriptors its caller has open
# (the soak, seed 778: the container lost at step 155, docs/soak.md).
#
# CRIU inherits the runtime's inheritable descriptors; its own service fds
# then sit just above them, and the restored init moves them below a base
# of 128. With ~100-120 descriptors inherited, the old and new places
# overlapped and one service fd was overwritten or closed before it was
# moved: "Can't open self: Bad file descriptor" in the init, or "Unable to
# read the /proc/self link" in its children, for every image
# (criu-patches/0032-servicefd-first-move-cannot-clobber-a-service-fd.patch).
#
# One checkpoint of a container with a forked process (two tasks below
# init), then restores of that image with the caller's descriptors 3..N-1
# open, N from 90 to 140 (with the old CRIU, 17 of N=110..126 failed on
# this machine; the runtime opens a few fds of its own before CRIU starts):
# each restore must succeed with the checkpoint's memory. A restore that
# hangs (the old CRIU did) is killed by --timeout 60.
#
# Then: CRIU and what it leaves running get none of the caller's
# descriptors (lib/cr_fds.c), checked through a CRIU wrapper that lists
# the descriptors it starts with.
#
#   ZS_TEST_CRIU=PATH   restore with that CRIU (to see the old one fail)
. "$(dirname "$0")/lib.sh"
CR_MIB=16
LO=${MANY_FDS_LO:-90}
HI=${MANY_FDS_HI:-140}
criu_arg=()
[ -n "${ZS_TEST_CRIU:-}" ] && criu_arg=(--criu "$ZS_TEST_CRIU")
cr_setup many-fds

# with_fds N CMD...: CMD with every descriptor from 3 to N-1 open.
with_fds() {
	local n=$1 f
	shift
	(
		for ((f = 3; f < n; f++)); do
			[ -e "/proc/self/fd/$f" ] || eval "exec $f</dev/null"
		done
		exec "$@"
	)
}

cr_node A
t_run A
out=$(wl_do A fork) || t_fail "fork in the workload" "$out"
t_wl_verify "before the checkpoint" A || { t_done; exit; }
d=$WL_DIGEST
t_ckpt "full checkpoint" A "$CR_T/A/img/0" || { t_done; exit; }
cr_gone A

bad=()
for ((n = LO; n <= HI; n++)); do
	cr_pipes
	if ! CR_ERR=$(with_fds "$n" "$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$CR_T/A/store" "${criu_arg[@]}" \
		restore -d --timeout 60 --image-path "$CR_T/A/img/0" --bundle "$CR_T/A/bundle" "$CR_CID" \
		<&"$CR_IN" 2>&1 >&"$CR_OUT"); then
		err=$(grep -m 2 'Error' <<<"$CR_ERR" | tr '\n' ' ')
		bad+=("$n: ${err:-$(head -n 3 <<<"$CR_ERR")}")
		cp "$CR_T/A/img/0/restore.log" "$CR_T/A/restore-fds-$n.log" 2>/dev/null
		cr_delete A
		continue
	fi
	if ! out=$(wl_do A verify) || [ "$(sed -n 's/.* digest=\([0-9a-f]*\).*/\1/p' <<<"$out")" != "$d" ]; then
		bad+=("$n: restored, but the memory does not verify with digest $d: $out")
	fi
	cr_delete A || bad+=("$n: delete -f left the container")
	# close the stdio pipes of this restore in the shell (the next has its own)
	cr_pipes_close
done
if [ ${#bad[@]} -eq 0 ]; then
	t_ok "restores with descriptors 3..N-1 of the caller open, N=$LO..$HI: all restore with the checkpoint's memory"
else
	t_fail "restores with descriptors 3..N-1 of the caller open, N=$LO..$HI" "${bad[@]}"
fi

# The caller's descriptors stay the caller's (as with runc): a restore
# with tracking and a checkpoint, each run with 120 inheritable
# descriptors open on a marker file, through a CRIU wrapper that lists
# the descriptors CRIU starts with; afterwards no process (CRIU's
# tracking keeper, the container) holds the marker.
MARK=$CR_T/caller-fd-marker
: >"$MARK"
printf '#!/bin/sh\nls -l /proc/self/fd/ >"%s/criu-fds.$$" 2>&1\nexec "%s" "$@"\n' \
	"$CR_T" "${ZS_TEST_CRIU:-$CR_TOP/build/bin/criu}" >"$CR_T/criu-wrap"
chmod 0755 "$CR_T/criu-wrap"
# with_marks CMD...: CMD with descriptors 3..122 open on the marker
with_marks() {
	(
		for ((f = 3; f < 123; f++)); do
			[ -e "/proc/self/fd/$f" ] || eval "exec $f<\"\$MARK\""
		done
		exec "$@"
	)
}
# holders: the processes (other than this shell) holding the marker open
holders() {
	local p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] && continue
		ls -l "$p/fd" 2>/dev/null | grep -qF "$MARK" && echo "${p#/proc/} ($(cat "$p/comm" 2>/dev/null))"
	done
}
cr_pipes
if CR_ERR=$(with_marks "$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$CR_T/A/store" --criu "$CR_T/criu-wrap" \
	restore -d --track-mem --image-path "$CR_T/A/img/0" --bundle "$CR_T/A/bundle" "$CR_CID" \
	<&"$CR_IN" 2>&1 >&"$CR_OUT"); then
	t_wl_verify "restore with 120 inherited descriptors" A "$d"
	h=$(holders)
	if [ -z "$h" ]; then t_ok "after the restore no process holds the caller's descriptors"; else
		t_fail "after the restore no process holds the caller's descriptors" "$h"
	fi
	if CR_ERR=$(with_marks "$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$CR_T/A/store" \
		--criu "$CR_T/criu-wrap" checkpoint --image-path "$CR_T/A/img/1" "$CR_CID" 2>&1 </dev/null); then
		t_ok "checkpoint with 120 inherited descriptors"
	else
		t_fail "checkpoint with 120 inherited descriptors" "$CR_ERR"
	fi
	n=$(find "$CR_T" -maxdepth 1 -name 'criu-fds.*' | wc -l)
	leak=$(grep -lF "$MARK" "$CR_T"/criu-fds.* 2>/dev/null)
	if [ "$n" -ge 2 ] && [ -z "$leak" ]; then
		t_ok "CRIU got none of the caller's descriptors ($n CRIU runs listed)"
	else
		t_fail "CRIU got none of the caller's descriptors ($n CRIU runs listed)" \
			"$(for f in $leak; do echo "$f: $(grep -cF "$MARK" "$f") of the caller's"; done)"
	fi
else
	t_fail "restore with 120 inherited descriptors" "$CR_ERR"
fi
cr_delete A
t_done
