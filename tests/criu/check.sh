#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Feature reports (issue 2 item 2): criu check, criu check --all and the RPC
# feature check say memory tracking works when either backend does; the new
# backend has its own feature name; forcing a backend the kernel lacks never
# gives a wrong diff.
. "$(dirname "$0")/lib.sh"
zs_setup check

soft_dirty=no
zcat /proc/config.gz 2>/dev/null | grep -q '^CONFIG_MEM_SOFT_DIRTY=y' && soft_dirty=yes
t_diag "kernel $(uname -r), soft-dirty: $soft_dirty"

t_check "criu check --feature mem_dirty_track" "$CRIU" check --feature mem_dirty_track
out=$("$CRIU" check --feature wp_async_track 2>&1)
[ $? = 0 ] && grep -q "supported" <<<"$out" && t_ok "criu check --feature wp_async_track ($out)" ||
	t_fail "criu check --feature wp_async_track" "$out"
out=$("$CRIU" check --all 2>&1)
if grep -q "Dirty tracking is OFF" <<<"$out"; then
	t_fail "criu check --all: no 'Dirty tracking is OFF'" "$(grep -i dirty <<<"$out")"
else
	t_ok "criu check --all: no 'Dirty tracking is OFF'"
fi
zs_crit_setup
out=$(PYTHONPATH=$ZS_CRIT_PATH /usr/bin/python3 "$(dirname "$0")/rpc-features.py" "$CRIU" 2>&1)
grep -qx "mem_track=true" <<<"$out" && t_ok "RPC feature check: mem_track" || t_fail "RPC feature check: mem_track" "$out"

if [ ! -x "$STOCK_CRIU" ]; then
	t_skip "stock CRIU: no mem_dirty_track without soft-dirty" "stock CRIU not built (make criu-stock)"
elif [ $soft_dirty = yes ]; then
	t_skip "stock CRIU: no mem_dirty_track without soft-dirty" "this kernel has soft-dirty"
else
	if "$STOCK_CRIU" check --feature mem_dirty_track >/dev/null 2>&1; then
		t_fail "stock CRIU: no mem_dirty_track without soft-dirty" "stock CRIU says it can track"
	else
		t_ok "stock CRIU: no mem_dirty_track without soft-dirty (the gap the patches close)"
	fi
	out=$(PYTHONPATH=$ZS_CRIT_PATH /usr/bin/python3 "$(dirname "$0")/rpc-features.py" "$STOCK_CRIU" 2>&1)
	grep -qx "mem_track=false" <<<"$out" && t_ok "stock CRIU: RPC mem_track=false" || t_fail "stock CRIU: RPC mem_track=false" "$out"
fi

# Forcing soft-dirty where the kernel has none: refused, or, if accepted,
# the next diff is still exact.
W=$ZS_T/wl
if wl_start "$W" 32; then
	pid=$(wl_pid "$W")
	zs_dump forced-base "$ZS_T/base" "$pid"
	if [ $soft_dirty = yes ]; then
		t_skip "forced soft-dirty backend without soft-dirty" "this kernel has soft-dirty"
	elif zs_restore forced "$ZS_T/base" --track-mem --track-mem-backend=soft-dirty; then
		wl_write "$W" 100
		wl_verify "$W" >/dev/null
		d=$WL_DIGEST
		if zs_dump forced-diff "$ZS_T/diff" "$pid" --track-mem --prev-images-dir ../base; then
			t_diag "forced soft-dirty: accepted; diff of $(img_pages "$ZS_T/diff") pages"
			t_restore forced-diff "$ZS_T/diff" && t_verify "forced soft-dirty backend: the next dump restores exactly" "$W" "$d"
		else
			t_ok "forced soft-dirty backend: restore accepted it, the diff is refused ($(zs_first_error forced-diff dump))"
		fi
	else
		t_ok "forced soft-dirty backend: restore refused ($(zs_first_error forced restore))"
	fi
	wl_stop "$W"
else
	t_fail "start workload" "$(cat "$W/.start")"
fi
# The kernel-feature cache (criu-patches 0014): kept even where /run is not
# tmpfs, valid only for this boot and this criu binary. A cache stamped
# with another boot id is stale: CRIU probes again and rewrites it.
KDAT=/run/criu-zanshin.kdat
boot=$(cat /proc/sys/kernel/random/boot_id)
"$CRIU" check >/dev/null 2>&1
if [ -f "$KDAT" ] && grep -qaF "$boot" "$KDAT"; then
	t_ok "kdat cache $KDAT kept, stamped with this boot's id ($(stat -f -c %T /run) /run)"
	"$CRIU" check -v4 -o "$ZS_T/kdat-load.log" >/dev/null 2>&1
	grep -q "Loaded kdat cache from $KDAT" "$ZS_T/kdat-load.log" && t_ok "the next criu run loads it" ||
		t_fail "the next criu run loads it" "$(head -n 12 "$ZS_T/kdat-load.log")"
	/usr/bin/python3 - "$KDAT" "$boot" <<'PY'
import os, sys
path, boot = sys.argv[1], sys.argv[2].encode()
data = open(path, "rb").read()
i = data.index(boot)
other = bytes([data[i] ^ 1]) + data[i + 1:i + len(boot)]
with open(path + ".t", "wb") as f:
    f.write(data[:i] + other + data[i + len(boot):])
os.rename(path + ".t", path)
PY
	"$CRIU" check -v4 -o "$ZS_T/kdat-stale.log" >/dev/null 2>&1
	if grep -q "Stale $KDAT" "$ZS_T/kdat-stale.log" && ! grep -q "Loaded kdat cache" "$ZS_T/kdat-stale.log" &&
		grep -qaF "$boot" "$KDAT"; then
		t_ok "a cache stamped with another boot id is stale: probed again and rewritten"
	else
		t_fail "a cache stamped with another boot id is stale" "$(head -n 12 "$ZS_T/kdat-stale.log")"
	fi
else
	t_fail "kdat cache $KDAT kept, stamped with this boot's id" "$(ls -l /run/*.kdat 2>&1)"
fi
t_done
