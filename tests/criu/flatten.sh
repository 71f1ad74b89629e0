#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# zanshin image info / check / flatten (lib/criu_image*.c): a chain of 8
# diffs made by restore --track-mem + dump --prev-images-dir; the diffs 2, 4
# and 8 deep are flattened, the flat images restored by CRIU with no parent
# and the workload checks every page against the state that was dumped.
# Then what check and flatten must refuse, and a flatten killed half-way.
. "$(dirname "$0")/lib.sh"
zs_setup flatten
ZS=${ZANSHIN:-$ZS_TOP/build/bin/zanshin}
MIB=64
K=300
BIG=${ZS_FLATTEN_BIG_MIB:-512}

# crit_pages IMGDIR WHAT: over every pagemap*.img, the pages of all entries
# (all), of PE_PARENT ones (parent) or of PE_PRESENT ones (present).
crit_pages() {
	local f sum=0 n cond
	case "$2" in
	all) cond=True ;;
	parent) cond="e.get('flags', 0) & 1" ;;
	present) cond="e.get('flags', 0) & 4" ;;
	esac
	for f in "$1"/pagemap-*.img; do
		n=$(zs_crit decode -i "$f" | /usr/bin/python3 -c "
import json, sys
j = json.load(sys.stdin)
print(sum(e.get('nr_pages', 0) for e in j['entries'][1:] if $cond))") || return 1
		sum=$((sum + n))
	done
	echo "$sum"
}

# info_field DIR KEY: a field of `zanshin image info --format json`.
info_field() {
	"$ZS" image info "$1" --format json | /usr/bin/python3 -c "
import json, sys
v = json.load(sys.stdin).get('$2')
print('null' if v is None else str(v).lower() if isinstance(v, bool) else v)"
}

# inventory_minus_parent DIR: the decoded inventory without parent_image_id.
inventory_minus_parent() {
	zs_crit decode -i "$1/inventory.img" | /usr/bin/python3 -c "
import json, sys
e = json.load(sys.stdin)['entries'][0]
e.pop('parent_image_id', None)
print(json.dumps(e, sort_keys=True))"
}

# t_refused NAME REGEX CMD...: CMD fails and its error matches REGEX.
t_refused() {
	local name=$1 re=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		t_fail "$name" "$* succeeded; it must be refused" "$out"
		return 1
	fi
	if ! grep -qE "$re" <<<"$out"; then
		t_fail "$name" "error does not match /$re/:" "$out"
		return 1
	fi
	t_ok "$name ($(head -n1 <<<"$out" | sed "s|$ZS_T/||g" | cut -c1-160))"
}

# ---- the chain ----
I=$ZS_T/img
W=$ZS_T/wl
declare -A DIG

make_chain() {
	local pid prev=base n
	wl_start "$W" $MIB 1 || { t_fail "chain: start" "$(cat "$W/.start")"; return 1; }
	pid=$(wl_pid "$W")
	wl_verify "$W" >/dev/null || { t_fail "chain: fresh verify" "$(cat "$W/result")"; return 1; }
	DIG[base]=$WL_DIGEST
	t_dump "base" "$I/base" "$pid" || return 1
	for n in 1 2 3 4 5 6 7 8; do
		zs_restore "r$n" "$I/$prev" --track-mem || { t_fail "chain: restore $prev" "$(zs_log "r$n" restore)"; return 1; }
		wl_write "$W" $K
		# new mappings on odd hops: the ancestors' entries differ in layout
		[ $((n % 2)) = 1 ] && wl_cmd "$W" "mmap-new 1" >/dev/null
		wl_verify "$W" >/dev/null || { t_fail "chain: verify before d$n" "$(cat "$W/result")"; return 1; }
		DIG[d$n]=$WL_DIGEST
		zs_dump "d$n" "$I/d$n" "$pid" --track-mem --prev-images-dir "../$prev" ||
			{ t_fail "chain: dump d$n" "$(zs_log "d$n" dump)"; return 1; }
		prev=d$n
	done
	t_range "chain: d8 is a diff" "$(img_pages "$I/d8")" $((2 * K)) $((2 * (K + 256 + 256)))
}

info_and_check() {
	local v
	t_check "check: full image" "$ZS" image check "$I/base"
	t_check "check: diff image" "$ZS" image check "$I/d3"
	v="$(info_field "$I/base" full) $(info_field "$I/base" parent_image_id) $(info_field "$I/base" parent)"
	[ "$v" = "true null null" ] && t_ok "info: base is full, no parent id, no link" ||
		t_fail "info: base is full, no parent id, no link" "got: $v"
	v="$(info_field "$I/d3" full) $(info_field "$I/d3" parent)"
	[ "$v" = "false ../d2" ] && t_ok "info: d3 is a diff on ../d2" || t_fail "info: d3 is a diff on ../d2" "got: $v"
	[ "$(info_field "$I/d3" parent_image_id)" = "$(img_id "$I/d2")" ] &&
		[ "$(info_field "$I/d3" image_id)" = "$(img_id "$I/d3")" ] &&
		t_ok "info: d3's image ids are the ones crit decodes" ||
		t_fail "info: d3's image ids are the ones crit decodes" "$("$ZS" image info "$I/d3")"
	[ "$(info_field "$I/d3" pages)" = "$(crit_pages "$I/d3" present)" ] &&
		[ "$(info_field "$I/d3" parent_pages)" = "$(crit_pages "$I/d3" parent)" ] &&
		[ "$(info_field "$I/d3" pages)" = "$(img_pages "$I/d3")" ] &&
		t_ok "info: d3 page counts = crit's = pages files ($(info_field "$I/d3" pages) here, $(info_field "$I/d3" parent_pages) in the parent)" ||
		t_fail "info: d3 page counts" "$("$ZS" image info "$I/d3")" "crit: $(crit_pages "$I/d3" present) / $(crit_pages "$I/d3" parent)"
}

# flatten_and_restore N: flatten dN, look at it, restore it, verify.
flatten_and_restore() {
	local n=$1 F=$ZS_T/flat/f$1 out all
	mkdir -p "$ZS_T/flat"
	if ! out=$("$ZS" image flatten "$I/d$n" "$F" 2>&1); then
		t_fail "flatten d$n" "$out"
		return 1
	fi
	t_ok "flatten d$n ($(sed "s|$ZS_T/||g" <<<"$out"))"
	all=$(crit_pages "$I/d$n" all)
	[ -n "$all" ] && [ "$(img_pages "$F")" = "$all" ] && [ "$(crit_pages "$F" present)" = "$all" ] &&
		[ "$(crit_pages "$F" parent)" = 0 ] &&
		t_ok "flat d$n: every page of the process stored ($all pages = d$n's pagemaps), none in a parent" ||
		t_fail "flat d$n: page counts" "pages files $(img_pages "$F"), present $(crit_pages "$F" present)," \
			"in parent $(crit_pages "$F" parent), d$n's pagemaps cover $all"
	[ ! -e "$F/parent" ] && [ "$(img_id "$F")" = "$(img_id "$I/d$n")" ] && [ -z "$(img_parent_id "$F")" ] &&
		[ "$(inventory_minus_parent "$F")" = "$(inventory_minus_parent "$I/d$n")" ] &&
		t_ok "flat d$n: no parent link, inventory = d$n's with image_id kept, parent_image_id dropped" ||
		t_fail "flat d$n: inventory" "$(inventory_minus_parent "$F")" "vs d$n: $(inventory_minus_parent "$I/d$n")"
	t_check "flat d$n: image check" "$ZS" image check "$F"
	t_restore "flat-d$n" "$F" || return 1
	t_verify "flat d$n: restored without its chain" "$W" "${DIG[d$n]}"
	wl_stop "$W"
}

flatten_full() {
	local F=$ZS_T/flat/fbase
	mkdir -p "$ZS_T/flat"
	# the image files byte for byte, plus the manifest zanshin writes for it
	"$ZS" image flatten "$I/base" "$F" >/dev/null 2>&1 &&
		[ "$(img_sum "$F" ! -name manifest.json ! -name lineage.json ! -name manifest.blocks)" = "$(img_sum "$I/base")" ] &&
		"$ZS" image check "$F" | grep -q "1 image(s) verified against their manifests" &&
		t_ok "flatten of a full image is a byte-exact copy, with a manifest that verifies" ||
		t_fail "flatten of a full image is a byte-exact copy" "$(diff -r "$I/base" "$F" 2>&1 | head -5)"
}

# deep_chain N DIR: N image directories DIR/c0..c(N-1), each a diff on the
# previous by `parent` link and lineage ids, holding only an inventory.
deep_chain() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import os, struct, sys
n, top = int(sys.argv[1]), sys.argv[2]
def field(num, s):
    b = s.encode()
    tag = (num << 3) | 2
    tag = bytes([tag]) if tag < 128 else bytes([(tag & 0x7f) | 0x80, tag >> 7])
    return tag + bytes([len(b)]) + b
for i in range(n):
    d = os.path.join(top, 'c%d' % i)
    os.makedirs(d)
    msg = b'\x08\x02' + field(15, 'id%d' % i) + (field(16, 'id%d' % (i - 1)) if i else b'')
    with open(os.path.join(d, 'inventory.img'), 'wb') as f:
        f.write(struct.pack('<II', 0x58313116, len(msg)) + msg)
    if i:
        os.symlink('../c%d' % (i - 1), os.path.join(d, 'parent'))
PY
}

refusals() {
	local C=$ZS_T/bad out last id
	mkdir -p "$C"
	cp -a "$I/base" "$C/trunc"
	truncate -s -4096 "$(ls "$C"/trunc/pages-*.img | head -n1)"
	t_refused "check refuses a truncated pages file" "pages-[0-9]+\.img: .*truncated" "$ZS" image check "$C/trunc"
	cp -a "$I/base" "$C/magic"
	printf '\xef\xbe\xad\xde' | dd of="$(ls "$C"/magic/core-*.img | head -n1)" bs=1 seek=4 conv=notrunc status=none
	t_refused "check refuses a bad magic, printing none of the file" "core-[0-9]+\.img: bad magic \(not a CRIU core image\)\"$" "$ZS" image check "$C/magic"
	cp -a "$I/base" "$C/junk"
	printf 'JUNKJUNK' >"$C/junk/what-is-this.img"
	t_refused "check refuses an unknown image file" "what-is-this\.img: .*magic" "$ZS" image check "$C/junk"
	cp -a "$I/base" "$C/version"
	# inventory.img: magic, entry length, then field 1 (img_version): 08 02
	[ "$(od -An -tx1 -j8 -N2 "$C/version/inventory.img" | tr -d ' ')" = 0802 ] ||
		t_diag "inventory.img does not start with img_version 2 where expected"
	printf '\x03' | dd of="$C/version/inventory.img" bs=1 seek=9 conv=notrunc status=none
	t_refused "check refuses an unknown img_version" "inventory\.img: unknown CRIU version: img_version 3" \
		"$ZS" image check "$C/version"
	t_refused "info refuses a truncated pagemap" "pagemap-[0-9]+\.img: truncated entry" \
		bash -c "cp -a '$I/d1' '$C/tpm' && truncate -s -3 \$(ls '$C'/tpm/pagemap-*.img | head -n1) && '$ZS' image info '$C/tpm'"

	cp -a "$I/d2" "$C/d2-missing"
	ln -sfn ../no-such-image "$C/d2-missing/parent"
	t_refused "flatten refuses a missing parent, naming it" "d2-missing/parent -> \.\./no-such-image: missing parent" \
		"$ZS" image flatten "$C/d2-missing" "$C/out-missing"
	[ ! -e "$C/out-missing" ] && t_ok "no OUT after a refused flatten" || t_fail "no OUT after a refused flatten"
	cp -a "$I/d2" "$C/d2-other"
	ln -sfn "$I/d5" "$C/d2-other/parent"
	t_refused "flatten refuses a parent of another lineage" "is not the parent_image_id" \
		"$ZS" image flatten "$C/d2-other" "$C/out-other"
	cp -a "$I/d2" "$C/d2-loop"
	ln -sfn . "$C/d2-loop/parent"
	t_refused "flatten refuses a parent loop" "loop|not the parent_image_id" "$ZS" image flatten "$C/d2-loop" "$C/out-loop"
	deep_chain 65 "$C/deep"
	t_check "flatten takes a chain of 64 images" "$ZS" image flatten "$C/deep/c63" "$C/out-64"
	t_refused "flatten refuses a chain of 65 images" "chain deeper than 64 images" \
		"$ZS" image flatten "$C/deep/c64" "$C/out-65"
	mkdir -p "$C/exists"
	t_refused "flatten refuses an existing OUT" "exists" "$ZS" image flatten "$I/d2" "$C/exists"

	# A failure half-way (the base pages of the last pagemap are short):
	# the first pagemap's pages are written by then, and OUT goes away.
	mkdir -p "$C/half"
	cp -a "$I/base" "$I/d1" "$C/half/"
	last=$(ls "$C/half/d1"/pagemap-*.img | tail -n1)
	id=$(zs_img_get "$last" "e['pages_id']")
	truncate -s -8192 "$C/half/base/pages-$id.img"
	t_refused "flatten fails on a short ancestor pages file" "d1/parent/pages-$id\.img: truncated" \
		"$ZS" image flatten "$C/half/d1" "$C/half/out"
	[ -z "$(ls -A "$C/half" | grep -v '^base$\|^d1$')" ] && t_ok "failed flatten: no OUT, no temporary left" ||
		t_fail "failed flatten: no OUT, no temporary left" "$(ls -a "$C/half")"
}

big_image() {
	local BW=$ZS_T/big/wl B=$ZS_T/big pid out mbs fp i
	wl_start "$BW" "$BIG" || { t_fail "big: start" "$(cat "$BW/.start")"; return; }
	pid=$(wl_pid "$BW")
	t_dump "big base" "$B/base" "$pid" || return
	zs_restore big-r "$B/base" --track-mem || { t_fail "big: restore" "$(zs_log big-r restore)"; return; }
	wl_write "$BW" 2000
	wl_verify "$BW" >/dev/null
	DIG[big]=$WL_DIGEST
	t_dump "big d1" "$B/d1" "$pid" --track-mem --prev-images-dir ../base || return
	sync
	out=$("$ZS" image flatten "$B/d1" "$B/flat" 2>&1) || { t_fail "big: flatten" "$out"; return; }
	mbs=$(sed -n 's/.*(\([0-9]*\) MB\/s).*/\1/p' <<<"$out")
	t_ok "big: flatten a $BIG MiB diff chain ($(sed "s|$ZS_T/||g" <<<"$out"))"
	t_diag "flatten throughput: $mbs MB/s (page cache warm, fsync included)"
	t_restore "big-flat" "$B/flat" || return
	t_verify "big: flat image restored" "$BW" "${DIG[big]}"
	wl_stop "$BW"

	# kill -9 half-way: the temporary may stay, OUT never appears.
	"$ZS" image flatten "$B/d1" "$B/killed" >/dev/null 2>&1 &
	fp=$!
	for ((i = 0; i < 2000; i++)); do
		[ -n "$(find "$B" -maxdepth 2 -path "$B/.killed.flatten-$fp/pages-*" -size +1M 2>/dev/null)" ] && break
		sleep 0.005
	done
	kill -KILL "$fp" 2>/dev/null
	wait "$fp" 2>/dev/null
	if [ -e "$B/killed" ]; then
		t_fail "flatten killed with SIGKILL half-way leaves no OUT" "$B/killed exists"
	elif [ -d "$B/.killed.flatten-$fp" ]; then
		t_ok "flatten killed with SIGKILL half-way leaves no OUT (temporary .killed.flatten-$fp left: $(du -sm "$B/.killed.flatten-$fp" | cut -f1) MB)"
	else
		t_skip "flatten killed with SIGKILL half-way leaves no OUT" "flatten finished before the kill"
	fi
	rm -rf "$B"
}

[ -x "$ZS" ] || zs_die "$ZS missing: run make"
if make_chain; then
	info_and_check
	flatten_full
	for n in 2 4 8; do
		flatten_and_restore $n
		zs_kill_ours
	done
	refusals
fi
zs_kill_ours
big_image
t_done
