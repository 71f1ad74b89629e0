#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 18 item 5, the second half, as the attack: a restore whose CRIU
# never returns (the issue's crafted image made CRIU's restorer hit a BUG
# and wait forever) must time out, kill CRIU and everything it started, and
# leave nothing mounted: a killed CRIU left its cgroup yard (a tmpfs with
# every cgroup hierarchy under it, 10-11 mounts) on the host.
#   1. a CRIU that never answers (--criu: a script whose child and itself
#      sleep): restore --timeout 3 fails in time, both sleeps are gone;
#   2. the real CRIU, stopped (SIGSTOP) by the container's prestart hook,
#      which runs while CRIU waits for it with its cgroup yard mounted:
#      restore fails at the timeout, CRIU and the half-restored init are
#      gone, the yard is unmounted and removed, no container is left;
#      the same image then restores and its memory verifies.
# runc 1.1.5 has no timeout: it waits forever in both cases.
. "$(dirname "$0")/../cr/lib.sh"
CR_MIB=32
cr_setup restore-timeout
cr_node A
A=$CR_T/A
MARK=$$$RANDOM

t_run A
t_wl_verify "base" A
WANT=$WL_DIGEST
mkdir -p "$A/img"
t_ckpt "base" A "$A/img/base"
cr_gone A || t_fail "base: container gone after the checkpoint" "status $(cr_status A)"

# 1. a CRIU that never answers
cat >"$CR_T/criu-hang" <<EOF
#!/bin/sh
sleep 3600.$MARK &
exec sleep 3601.$MARK
EOF
chmod 0755 "$CR_T/criu-hang"
t0=$SECONDS
cr_pipes
CR_ERR=$("$ZANSHIN" --root "$A/state" --remnant-root "$A/store" --criu "$CR_T/criu-hang" restore -d --timeout 3 \
	--image-path "$A/img/base" --bundle "$A/bundle" "$CR_CID" <&"$CR_IN" 2>&1 >&"$CR_OUT")
rc=$? dt=$((SECONDS - t0))
if [ $rc -ne 0 ] && [ $dt -ge 3 ] && [ $dt -le 20 ] && grep -q "did not finish within 3 s" <<<"$CR_ERR"; then
	t_ok "hanging CRIU: restore fails after the timeout (${dt}s, exit $rc)"
else t_fail "hanging CRIU: restore fails after the timeout" "exit $rc after ${dt}s" "$CR_ERR"; fi
sleep 0.5
if pgrep -f "sleep 360[01]\.$MARK" >/dev/null; then
	t_fail "hanging CRIU: it and its child are killed" "$(pgrep -af "sleep 360[01]\.$MARK")"
	pkill -KILL -f "sleep 360[01]\.$MARK"
else t_ok "hanging CRIU: it and its child are killed"; fi
if [ -z "$(cr_status A)" ]; then t_ok "hanging CRIU: no container left"; else
	t_fail "hanging CRIU: no container left" "status $(cr_status A)"
	cr_delete A
fi

# 2. the real CRIU stopped while it waits for the prestart hook
cat >"$CR_T/stop-criu" <<EOF
#!/bin/sh
# the state on stdin has the pid of the half-restored init
sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' >"$CR_T/hook.init"
for p in \$PPID \$(awk '/^PPid:/ {print \$2}' /proc/\$PPID/status); do
	for c in \$(cat /proc/\$p/task/*/children 2>/dev/null); do
		[ "\$(cat /proc/\$c/comm 2>/dev/null)" = criu ] || continue
		echo "\$c" >"$CR_T/hook.criu"
		grep -F '/.criu.cgyard.' /proc/self/mountinfo >"$CR_T/hook.yard"
		kill -STOP "\$c"
		exit 0
	done
done
exit 0
EOF
chmod 0755 "$CR_T/stop-criu"
cp "$A/bundle/config.json" "$CR_T/config.plain"
jq --arg h "$CR_T/stop-criu" '.hooks = {prestart: [{path: $h}]}' "$CR_T/config.plain" >"$A/bundle/config.json"
t0=$SECONDS
cr_restore A "$A/img/base" --timeout 5
rc=$? dt=$((SECONDS - t0))
if [ $rc -ne 0 ] && [ $dt -ge 5 ] && [ $dt -le 30 ] && grep -q "did not finish within 5 s" <<<"$CR_ERR"; then
	t_ok "stopped CRIU: restore fails after the timeout (${dt}s)"
else t_fail "stopped CRIU: restore fails after the timeout" "exit $rc after ${dt}s" "$CR_ERR"; fi
yard=$(wc -l <"$CR_T/hook.yard" 2>/dev/null || echo 0)
if [ -s "$CR_T/hook.criu" ] && [ "$yard" -ge 2 ]; then
	t_ok "stopped CRIU: the hook stopped CRIU $(cat "$CR_T/hook.criu") with its cgroup yard mounted ($yard mounts)"
else t_fail "stopped CRIU: the hook stopped CRIU with its yard mounted" "criu '$(cat "$CR_T/hook.criu" 2>/dev/null)', $yard yard mounts"; fi
sleep 0.5
left=$(grep -F "$A/img/base/.criu.cgyard." /proc/self/mountinfo)
if [ -z "$left" ] && [ -z "$(ls -d "$A"/img/base/.criu.cgyard.* 2>/dev/null)" ]; then
	t_ok "stopped CRIU: its cgroup yard is unmounted and removed"
else
	t_fail "stopped CRIU: its cgroup yard is unmounted and removed" "$left" "$(ls -da "$A"/img/base/.criu.* 2>/dev/null)"
	grep -F "$A/img/base/.criu.cgyard." /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
fi
alive=""
for f in hook.criu hook.init; do
	p=$(cat "$CR_T/$f" 2>/dev/null)
	[ -n "$p" ] && [ -d "/proc/$p" ] && [ "$(awk '/^State:/ {print $2}' "/proc/$p/status")" != Z ] && alive="$alive $f=$p"
done
if [ -z "$alive" ]; then t_ok "stopped CRIU: CRIU and the half-restored init are killed"; else
	t_fail "stopped CRIU: CRIU and the half-restored init are killed" "alive:$alive"
	for p in $alive; do kill -KILL "${p#*=}"; done
fi
if [ -z "$(cr_status A)" ]; then t_ok "stopped CRIU: no container left"; else
	t_fail "stopped CRIU: no container left" "status $(cr_status A)"
	cr_delete A
fi

# the image and the node are fine: the same restore without the hook
cp "$CR_T/config.plain" "$A/bundle/config.json"
t_rest "after the timeouts" A "$A/img/base" && t_wl_verify "after the timeouts" A "$WANT"
cr_delete A
t_done
