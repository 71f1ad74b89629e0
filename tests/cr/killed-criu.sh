#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# CRIU itself SIGKILLed in the middle of a checkpoint (issue 16's soak
# found it): a CRIU that fails puts the tasks back as they were, a killed
# one does not — they may hold its parasite or run from the code it poked
# at their instruction pointer, and the workload was seen dead-but-"running"
# or answering nothing. The runtime learns how CRIU ended (criu-patches
# 0040: libcriu keeps the swrk wait status) and kills such a container,
# naming why. After every kill, at many points of the dump, exactly one of:
#   - the checkpoint had finished: its image restores with the memory the
#     container had;
#   - the container runs on with its memory verified (never a broken one);
#   - the runtime killed it and said "CRIU was killed"; the image it made
#     (when complete) or the last checkpoint restores, memory verified
#     against the digest that checkpoint was taken at.
# KILLED_CRIU_DELAYS="ms ..." overrides the points (after CRIU starts).
#
# Then CRIU SIGKILLed in the middle of a restore (the soak's kill-criu-
# restore; a kill early in the restore once left the restore's root task,
# pid 1 of the new pid namespace, asleep on CRIU's futex for ever, holding
# the container's stdio: a test reading that stdout hung). After each kill
# either the restore had finished (memory verified) or it failed saying
# so, nothing it started is left (the container's stdout reaches end of
# file: no process holds it), and a retry restores the image exactly.
# KILLED_CRIU_RESTORE_DELAYS="ms ..." overrides those points.
. "$(dirname "$0")/lib.sh"
CR_MIB=16
cr_setup killed-criu

cr_node A
mkdir -p "$CR_T/A/img"
t_run A
t_ckpt "full checkpoint" A "$CR_T/A/img/base" --track-mem || { t_done; exit; }
t_rest "restore with tracking" A "$CR_T/A/img/base" --track-mem || { t_done; exit; }
t_wl_verify "restored" A || { t_done; exit; }
base_digest=$WL_DIGEST

# criu_child PID: the CRIU the runtime PID runs (waits up to 10 s for it)
criu_child() {
	local i p
	for ((i = 0; i < 2000; i++)); do
		for p in $(pgrep -P "$1"); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = criu ] && { echo "$p"; return 0; }
		done
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.005
	done
	return 1
}

# kill_criu_of PID MS: SIGKILL the CRIU the runtime PID runs MS ms after it
# started, then wait for the runtime: $landed (yes/no), $rc its exit code.
kill_criu_of() {
	local victim
	victim=$(criu_child "$1")
	sleep "$(printf '%d.%03d' $(($2 / 1000)) $(($2 % 1000)))"
	landed=no
	[ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null && landed=yes
	wait "$1"
	rc=$?
}

# rebase: a fresh tracked baseline in img/base (the container runs on it)
rebase() {
	rm -rf "$CR_T/A/img/base"
	cr_checkpoint A "$CR_T/A/img/base" --track-mem || return 1
	cr_gone A
	cr_restore A "$CR_T/A/img/base" --track-mem || return 1
	t_wl_verify "$1: a new baseline" A "$2"
}

n=0
want=$base_digest
for d in ${KILLED_CRIU_DELAYS:-0 50 100 200}; do
	n=$((n + 1))
	t_wl_write "$d ms: before the checkpoint" A 600 || break
	t_wl_verify "$d ms: before the checkpoint" A || break
	want=$WL_DIGEST
	rm -rf "$CR_T/A/img/g$n"
	"$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$CR_T/A/store" checkpoint --image-path "$CR_T/A/img/g$n" \
		--track-mem --parent-path ../base "$CR_CID" >"$CR_T/ck.out" 2>&1 </dev/null &
	pid=$!
	kill_criu_of "$pid" "$d"
	msg=$(grep -v '^ *$' "$CR_T/ck.out" | tail -n 2)
	cr_gone A >/dev/null 2>&1 # a finished or refused checkpoint: the container is gone or runs
	st=$(cr_status A)
	t_diag "$d ms: kill $landed, the runtime exited $rc, the container is '${st:-gone}'"
	if [ $rc = 0 ]; then
		# too late: the checkpoint finished
		cr_restore A "$CR_T/A/img/g$n" --track-mem &&
			t_wl_verify "$d ms: the kill came after the checkpoint; its image restores" A "$want" || break
	elif [ "$st" = running ]; then
		t_wl_verify "$d ms: CRIU killed, the container runs on" A "$want" || break
		rebase "$d ms" "$want" || break
		continue
	elif grep -q "CRIU was killed by signal 9" "$CR_T/ck.out"; then
		t_ok "$d ms: CRIU killed while it held the container: killed, and said so ($(grep -o 'CRIU was killed[^;]*' "$CR_T/ck.out" | head -n1))"
		z A delete -f "$CR_CID" >/dev/null 2>&1
		cr_gone A
		if cr_restore A "$CR_T/A/img/g$n" --track-mem; then
			t_wl_verify "$d ms: the image CRIU had completed restores" A "$want" || break
		else
			cr_restore A "$CR_T/A/img/base" --track-mem &&
				t_wl_verify "$d ms: the last checkpoint restores, with its own memory" A "$base_digest" || break
			want=$base_digest
		fi
	else
		t_fail "$d ms: CRIU killed: the container runs, or is killed with a reason" "rc $rc, status '${st:-gone}'" "$msg"
		break
	fi
	rebase "$d ms" "$want" || break
	base_digest=$want
done

# ---- CRIU killed in a restore ----
rm -rf "$CR_T/A/img/r"
t_ckpt "before the restores" A "$CR_T/A/img/r" --track-mem --parent-path ../base || { t_done; exit; }
cr_gone A
for d in ${KILLED_CRIU_RESTORE_DELAYS:-0 20 50 100 150 250}; do
	cr_pipes
	out_reader=${CR_BG[-1]}
	"$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$CR_T/A/store" restore -d --image-path "$CR_T/A/img/r" \
		--bundle "$CR_T/A/bundle" --track-mem "$CR_CID" <&"$CR_IN" >&"$CR_OUT" 2>"$CR_T/rs.out" &
	pid=$!
	kill_criu_of "$pid" "$d"
	st=$(cr_status A)
	t_diag "restore, $d ms: kill $landed, the runtime exited $rc, the container is '${st:-gone}'"
	if [ $rc = 0 ] && [ "$st" = running ]; then
		t_wl_verify "restore, $d ms: the kill came after the restore" A "$want" || break
	elif [ $rc = 0 ]; then
		t_fail "restore, $d ms: the runtime exited 0, the container is '${st:-gone}'" "$(tail -n 3 "$CR_T/rs.out")"
		break
	else
		if grep -q '[a-z]' "$CR_T/rs.out"; then
			t_ok "restore, $d ms: the failed restore said why ($(grep -v '^ *$' "$CR_T/rs.out" | tail -n 1 | cut -c1-160))"
		else
			t_fail "restore, $d ms: the failed restore said why" "rc $rc, no message"
		fi
		cr_pipes_close
		for ((i = 0; i < 100; i++)); do kill -0 "$out_reader" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$out_reader" 2>/dev/null; then
			holders=$(for f in /proc/[0-9]*/fd/*; do
				[ "$(readlink "$f" 2>/dev/null)" = "$(readlink "/proc/$out_reader/fd/0")" ] && echo "${f#/proc/}"
			done | cut -d/ -f1 | sort -u | grep -vx "$out_reader" | while read -r h; do
				echo "$h($(cat "/proc/$h/comm" 2>/dev/null), ppid $(awk '/^PPid:/ {print $2}' "/proc/$h/status" 2>/dev/null))"
			done | tr '\n' ' ')
			t_fail "restore, $d ms: nothing of the failed restore is left" "the container's stdout is still held open by: ${holders:-?}"
			for h in $holders; do kill -KILL "${h%%(*}" 2>/dev/null; done
		else
			t_ok "restore, $d ms: nothing of the failed restore is left (its stdout reached end of file)"
		fi
		yards=$(grep -c " $CR_T/A/img/r/.criu.cgyard" /proc/self/mountinfo)
		if [ "$yards" = 0 ] && ! compgen -G "$CR_T/A/img/r/.criu.cgyard.*" >/dev/null; then
			t_ok "restore, $d ms: no cgroup yard of CRIU's is left in the image directory"
		else
			t_fail "restore, $d ms: no cgroup yard of CRIU's is left in the image directory" \
				"$yards mounts: $(grep -o " $CR_T/A/img/r/.criu.cgyard[^ ]*" /proc/self/mountinfo | head -n 3)"
			grep -o " $CR_T/A/img/r/.criu.cgyard[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l
		fi
		z A delete -f "$CR_CID" >/dev/null 2>&1
		cr_gone A
		t_rest "restore, $d ms: the retry" A "$CR_T/A/img/r" --track-mem || break
		t_wl_verify "restore, $d ms: the retry" A "$want" || break
	fi
	rm -rf "$CR_T/A/img/r"
	t_ckpt "restore, $d ms: the next image" A "$CR_T/A/img/r" --track-mem || break
	cr_gone A
done
cr_delete A
t_done
