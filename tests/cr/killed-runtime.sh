#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The runtime killed (SIGKILL) in the middle of a checkpoint or a restore:
# nothing the user has is lost (issue 16's soak found both cases).
#   1. killed after CRIU finished an automatic diff (the container's
#      processes are gone) and before the runtime kept it: the store keeps
#      the dump as a generation at its next gc, and it restores with the
#      memory the container had at the checkpoint;
#   2. killed during a restore: `delete -f` removes what is left, and the
#      Bundle's rootfs (bound under the state directory during a restore)
#      is not touched; a retry restores;
#   3. a state directory with a rootfs still bound in it (what a killed
#      restore leaves): `delete -f` leaves the rootfs alone;
#   4. killed after CRIU finished a full checkpoint into a reused
#      --image-path (dumped into a sibling directory): the next restore
#      from that path completes the checkpoint, the newest state restores.
. "$(dirname "$0")/lib.sh"
CR_MIB=64
cr_setup killed

cr_node A
t_run A
t_wl_verify "fresh" A || { t_done; exit; }
mkdir -p "$CR_T/A/img"
t_ckpt "full checkpoint" A "$CR_T/A/img/g0" || { t_done; exit; }
cr_gone A
t_rest "restore with tracking" A "$CR_T/A/img/g0" --track-mem || { t_done; exit; }
t_wl_write "after the restore" A 2000
t_wl_verify "before the killed checkpoint" A || { t_done; exit; }
want=$WL_DIGEST

# 1. an automatic diff (tracked, baseline in the store, no --parent-path):
# the runtime is killed as soon as the post-dump mark appears
z A remnant list "$CR_CID" --format json >/dev/null 2>&1
"$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$CR_T/A/store" checkpoint --image-path "$CR_T/A/img/g1" "$CR_CID" \
	>"$CR_T/ck.out" 2>&1 </dev/null &
pid=$!
for ((i = 0; i < 3000; i++)); do
	compgen -G "$CR_T/A/store/containers/*/generations/.tmp-dump-*/.zanshin-dumped" >/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.002
done
sleep 0.01 # the mark is written just before the answer: let the answer go
if kill -KILL "$pid" 2>/dev/null; then
	wait "$pid" 2>/dev/null
	t_ok "1: runtime killed after CRIU's post-dump ($i polls)"
	for ((i = 0; i < 100; i++)); do [ "$(cr_status A)" != running ] && break; sleep 0.1; done
	if [ "$(cr_status A)" = running ]; then
		t_skip "1: the dump's generation is kept" "CRIU resumed the container (the kill came before its post-dump answer): nothing to recover this time"
	else
		out=$(z A remnant gc 2>&1)
		if grep -q "kept generation" <<<"$out"; then t_ok "1: gc keeps the finished dump as a generation"; else
			t_fail "1: gc keeps the finished dump as a generation" "$out" "$(ls -la "$CR_T"/A/store/containers/*/generations/)"
		fi
		newest=$(z A remnant list "$CR_CID" --format json | jq -r 'sort_by(.name) | last | .name')
		t_check "1: the kept generation verifies" z A remnant verify "$CR_CID" "$newest"
		z A delete -f "$CR_CID" >/dev/null 2>&1
		rm -rf "$CR_T/A/img/g1"
		t_check "1: export the kept generation" z A remnant export "$CR_CID" "$newest" "$CR_T/A/img/g1"
		t_rest "1: restore it" A "$CR_T/A/img/g1" --track-mem &&
			t_wl_verify "1: the memory of the killed checkpoint" A "$want"
	fi
else
	wait "$pid"
	t_skip "1: runtime killed after CRIU's post-dump" "the checkpoint ended before the mark was seen: $(tail -n1 "$CR_T/ck.out")"
	cr_restore A "$CR_T/A/img/g1" --track-mem
fi
[ "$(cr_status A)" = running ] || { t_fail "the container runs on A" "status $(cr_status A)"; t_done; exit; }

# 2. a restore killed while it runs: delete -f, the rootfs stays, a retry works
t_wl_verify "2: before" A || { t_done; exit; }
want=$WL_DIGEST
t_ckpt "2: checkpoint" A "$CR_T/A/img/g2" || { t_done; exit; }
cr_gone A
files=$(find "$CR_T/A/bundle/rootfs" | wc -l)
cr_pipes
"$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$CR_T/A/store" restore -d --image-path "$CR_T/A/img/g2" \
	--bundle "$CR_T/A/bundle" "$CR_CID" <&"$CR_IN" >&"$CR_OUT" 2> >(exec cat >"$CR_T/rs.out") &
pid=$!
for ((i = 0; i < 2000; i++)); do
	[ -d "$CR_T/A/state/$CR_CID/criu-root" ] && grep -q " $CR_T/A/state/$CR_CID/criu-root " /proc/self/mountinfo && break
	sleep 0.002
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
sleep 1
# CRIU goes on when its runtime dies (as runc's): whatever it restored
# is a container the runtime knows (state.json is written before the
# tasks run), never an unknown copy beside a retried restore
for ((i = 0; i < 50; i++)); do pgrep -f "criu.*restore" >/dev/null || break; sleep 0.1; done
rooted=$(for p in /proc/[0-9]*; do case "$(readlink "$p/root" 2>/dev/null)" in "$CR_T/A/"*) echo "${p#/proc/}" ;; esac; done)
st=$(cr_status A)
if [ -n "$rooted" ] && [ "$st" != running ]; then
	t_fail "2: what runs after the killed restore is known to the runtime" "processes $rooted, status '${st:-none}'"
else
	t_ok "2: what runs after the killed restore is known to the runtime (status '${st:-none}', ${rooted:+processes}${rooted:-no process})"
fi
t_check "2: delete -f after the killed restore" z A delete -f "$CR_CID"
t_range "2: the Bundle's rootfs is whole (files)" "$(find "$CR_T/A/bundle/rootfs" | wc -l)" "$files" "$files"
[ -d "$CR_T/A/state/$CR_CID" ] && t_fail "2: the state directory is gone" "$(ls -la "$CR_T/A/state/$CR_CID")" ||
	t_ok "2: the state directory is gone"
t_rest "2: the retry restores" A "$CR_T/A/img/g2" --track-mem && t_wl_verify "2: memory after the retry" A "$want"
cr_delete A

# 4. a full checkpoint into a reused --image-path (CRIU dumps into a
# sibling, swapped in when complete): the runtime killed after CRIU
# finished; the next restore from that path completes the checkpoint and
# brings back the newest state, not the image the directory held before
t_rest "4: restore untracked (a full checkpoint next)" A "$CR_T/A/img/g2" --no-track-mem ||
	t_rest "4: restore untracked (a full checkpoint next)" A "$CR_T/A/img/g2"
t_wl_write "4: after the restore" A 1500
t_wl_verify "4: before the killed checkpoint" A && want=$WL_DIGEST
"$ZANSHIN" --root "$CR_T/A/state" --remnant-root "$CR_T/A/store" checkpoint --image-path "$CR_T/A/img/g2" "$CR_CID" \
	>"$CR_T/ck4.out" 2>&1 </dev/null &
pid=$!
for ((i = 0; i < 3000; i++)); do
	compgen -G "$CR_T/A/img/.g2.zanshin-dump-*/.zanshin-dumped" >/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.002
done
sleep 0.01
if kill -KILL "$pid" 2>/dev/null; then
	wait "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do [ "$(cr_status A)" != running ] && break; sleep 0.1; done
	if [ "$(cr_status A)" = running ]; then
		t_skip "4: the killed checkpoint completes at the next restore" "CRIU resumed the container (the kill came before its post-dump answer)"
	else
		z A delete -f "$CR_CID" >/dev/null 2>&1
		t_rest "4: restore from the directory the killed checkpoint wrote to" A "$CR_T/A/img/g2" &&
			t_wl_verify "4: the newest state (the killed checkpoint's), not the older image" A "$want"
		compgen -G "$CR_T/A/img/.g2.zanshin-dump-*" >/dev/null && t_fail "4: no sibling left" "$(ls -a "$CR_T/A/img")" ||
			t_ok "4: no sibling left"
	fi
else
	wait "$pid"
	t_skip "4: the killed checkpoint completes at the next restore" "the checkpoint ended before the mark was seen"
fi
cr_delete A

# 3. a rootfs bound in a state directory without state.json
mkdir -p "$CR_T/A/state/zs-left-$$/criu-root"
mount --bind "$CR_T/A/bundle/rootfs" "$CR_T/A/state/zs-left-$$/criu-root"
files=$(find "$CR_T/A/bundle/rootfs" | wc -l)
t_check "3: delete -f of a state directory with a rootfs bound in it" z A delete -f "zs-left-$$"
t_range "3: the rootfs bound there is whole (files)" "$(find "$CR_T/A/bundle/rootfs" | wc -l)" "$files" "$files"
grep -q " $CR_T/A/state/zs-left-$$/criu-root " /proc/self/mountinfo && umount -l "$CR_T/A/state/zs-left-$$/criu-root"
t_done
