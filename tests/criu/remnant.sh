#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The remnant store (zanshin remnant, lib/remnant*.c) with real CRIU images
# of the memory workload: generations committed from CRIU dumps (a full one
# and diffs dumped after restore --track-mem), list/show JSON, verify and
# its refusals (flipped byte, missing file, extra file, changed manifest:
# each named, nothing modified), automatic merge past max_chain, merges of
# chains of 2, 4 and 8 restored and checked page by page, kill -9 during a
# merge, gc by age and by size, bundle save, bad settings and bad ids.
. "$(dirname "$0")/lib.sh"
zs_setup remnant
Z=$ZS_TOP/build/bin/zanshin
R=$ZS_T/store
CFG=$ZS_T/zanshin.json
export ZANSHIN_CONFIG=$CFG
MIB=64
[ -x "$Z" ] || zs_die "$Z missing: run make"

settings() { # max_chain [max_age max_bytes tmp_grace]
	printf '{"track_mem": true, "remnant": {"max_chain": %s, "max_age": %s, "max_bytes": %s, "tmp_grace": %s}}\n' \
		"$1" "${2:-604800}" "${3:-10737418240}" "${4:-600}" >"$CFG"
}
zr() { "$Z" --remnant-root "$R" remnant "$@"; }
gdir() { echo "$R/containers/$1/generations/$2"; }
names() { zr list "$1" --format json | jq -r '.[].name' | tr '\n' ' '; }
store_sum() { (cd "$R" && find . -path '*/.lock' -prune -o -type f -print | sort | xargs -r sha256sum | sha256sum | cut -c1-16); }
# the sha256-4k digest (include/zanshin/digest.h), with coreutils alone
digest_4k() { split -b 4096 --filter='sha256sum | cut -c1-64' "$1" | tr a-f A-F | tr -d '\n' | basenc --base16 -d | sha256sum | cut -c1-64; }

# commit_dump NAME ID PID PARENT-GEN [CRIU ARGS]: dump into a temporary
# directory of the store and commit it; GEN gets the generation name.
commit_dump() {
	local name=$1 id=$2 pid=$3 parent=$4 tmp out
	shift 4
	tmp=$(zr begin "$id") || { t_fail "$name: begin" "$tmp"; return 1; }
	if [ -n "$parent" ]; then
		set -- "$@" --track-mem --prev-images-dir "../$parent"
	fi
	zs_dump "$name" "$tmp" "$pid" "$@" || { t_fail "$name: dump" "$(zs_log "$name" dump)"; return 1; }
	out=$(zr commit "$id" "$tmp" --format json 2>&1) || { t_fail "$name: commit" "$out"; return 1; }
	GEN=$(jq -r .name <<<"$out")
	GEN_KIND=$(jq -r .kind <<<"$out")
	GEN_CHAIN=$(jq -r .chain_len <<<"$out")
}

# hop NAME ID PARENT-GEN K: restore PARENT with tracking, write K pages,
# dump a diff on it; GEN, DIGEST set.
hop() {
	local name=$1 id=$2 parent=$3 k=$4
	zs_restore "$name" "$(gdir "$id" "$parent")" --track-mem ||
		{ t_fail "$name: restore $parent" "$(zs_log "$name" restore)"; return 1; }
	wl_write "$W" "$k"
	wl_verify "$W" >/dev/null || { t_fail "$name: verify before dump" "$(cat "$W/result")"; return 1; }
	DIGEST=$WL_DIGEST
	commit_dump "$name" "$id" "$(wl_pid "$W")" "$parent"
}

# restore_check NAME ID GEN DIGEST: criu restores the generation, every page checks.
restore_check() {
	wl_stop "$W"
	zs_restore "$1" "$(gdir "$2" "$3")" || { t_fail "$1: restore $3" "$(zs_log "$1" restore)"; return 1; }
	t_verify "$1: $3 restored" "$W" "$4"
	wl_stop "$W"
}

# verify_fails NAME ID GEN WANT: verify refused, message names WANT, store untouched.
verify_fails() {
	local before after out
	before=$(store_sum)
	if out=$(zr verify "$2" "$3" 2>&1); then
		t_fail "$1: verify refused" "verify passed: $out"
		return
	fi
	after=$(store_sum)
	if ! grep -qF -- "$4" <<<"$out"; then
		t_fail "$1: verify refused naming $4" "$out"
	elif [ "$before" != "$after" ]; then
		t_fail "$1: verify modified nothing" "store checksum $before -> $after"
	else
		t_ok "$1: verify refused, names $4, store unchanged (${out##*msg=})"
	fi
}

# ---- commit, list, show, verify, tamper, auto-merge ----
chain_and_automerge() {
	local id=c1 g1 d=() gens=() i out n before
	W=$ZS_T/c1/wl
	settings 4
	wl_start "$W" $MIB 1 || { t_fail "c1: start" "$(cat "$W/.start")"; return; }
	wl_verify "$W" >/dev/null
	d[1]=$WL_DIGEST
	commit_dump c1-base $id "$(wl_pid "$W")" "" || return
	gens[1]=$GEN
	[ "$GEN_KIND" = full ] && t_ok "commit of a full dump: $GEN (full)" || t_fail "commit full" "kind $GEN_KIND"
	for i in 2 3 4; do
		hop "c1-d$i" $id "${gens[i - 1]}" 300 || return
		gens[i]=$GEN
		d[i]=$DIGEST
		if [ "$GEN_KIND" = diff ] && [ "$GEN_CHAIN" = "$i" ]; then
			t_ok "commit of diff $((i - 1)): $GEN (diff, chain $GEN_CHAIN)"
		else
			t_fail "commit of diff $((i - 1))" "kind $GEN_KIND chain $GEN_CHAIN"
		fi
	done
	wl_stop "$W"
	out=$(zr list --format json)
	n=$(jq '[.[] | select(.container == "c1")] | length' <<<"$out")
	if [ "$n" = 4 ] && [ "$(jq -r '.[3].parent' <<<"$out")" = "${gens[3]}" ] &&
		[ "$(jq -r '.[0].kind' <<<"$out")" = full ] && [ "$(jq -r '.[3].parent_image_id' <<<"$out")" = "$(jq -r '.[2].image_id' <<<"$out")" ]; then
		t_ok "list --format json: 4 generations, parents and image ids linked"
	else
		t_fail "list --format json" "$out"
	fi
	out=$(zr show c1 --format json)
	[ "$(jq '.generations | length' <<<"$out")" = 4 ] && [ "$(jq -r .container <<<"$out")" = c1 ] &&
		t_ok "show --format json" || t_fail "show --format json" "$out"
	zr list | grep -q "${gens[4]}" && t_ok "list (table)" || t_fail "list (table)" "$(zr list 2>&1)"
	if [ "$(stat -c %a "$R")" = 700 ] && [ "$(stat -c %a "$(gdir $id "${gens[1]}")")" = 700 ] &&
		[ "$(readlink "$(gdir $id "${gens[2]}")/parent")" = "../${gens[1]}" ]; then
		t_ok "store and generations are 0700; parent links are relative (../${gens[1]})"
	else
		t_fail "0700 and relative parent" "$(ls -la "$R" "$(gdir $id "${gens[2]}")")"
	fi
	jq -e '.format == "zanshin-manifest" and .version == 2 and .hash == "sha256-4k" and (.files | length) > 5' \
		"$(gdir $id "${gens[4]}")/manifest.json" >/dev/null &&
		jq -e '.format == "zanshin-lineage" and .version == 1 and .kind == "diff"' \
			"$(gdir $id "${gens[4]}")/lineage.json" >/dev/null &&
		t_ok "manifest.json and lineage.json carry format and version" ||
		t_fail "records" "$(cat "$(gdir $id "${gens[4]}")/lineage.json")"
	t_check "verify ${gens[4]} and its chain" zr verify $id "${gens[4]}"
	t_check "verify (table and json)" zr verify $id --format json
	# the digests, recomputed with coreutils alone (zanshin/digest.h)
	local f want got bad=""
	# (one sha256sum per block: the pages of a diff, not of the full image)
	for f in "$(gdir $id "${gens[2]}")"/pages-*.img "$(gdir $id "${gens[4]}")"/inventory.img \
		"$(gdir $id "${gens[4]}")"/pagemap-*.img; do
		want=$(jq -r --arg n "${f##*/}" '.files[] | select(.name == $n) | .hash' "${f%/*}/manifest.json")
		got=$(digest_4k "$f")
		[ "$want" = "$got" ] || bad+=" ${f##*/}: manifest $want, coreutils $got;"
	done
	[ -z "$bad" ] && t_ok "manifest digests = sha256-4k recomputed with split/sha256sum (pages of a diff, small files)" ||
		t_fail "sha256-4k digests" "$bad"

	# tampering: each refused with the file named, nothing modified
	local g=$(gdir $id "${gens[3]}") pages
	pages=$(cd "$g" && ls pages-*.img | head -n1)
	cp "$g/$pages" "$ZS_T/pages.bak"
	printf '\xff' | dd of="$g/$pages" bs=1 seek=100 count=1 conv=notrunc status=none
	verify_fails "flipped byte in $pages" $id "${gens[4]}" "$pages"
	cp "$ZS_T/pages.bak" "$g/$pages"
	# the last byte: another block, past the sixteen-block groups
	printf '\x5a' | dd of="$g/$pages" bs=1 seek=$(($(stat -c %s "$g/$pages") - 1)) count=1 conv=notrunc status=none
	verify_fails "changed last byte of $pages" $id "${gens[4]}" "$pages"
	cp "$ZS_T/pages.bak" "$g/$pages"
	mv "$g/inventory.img" "$ZS_T/inv.bak"
	verify_fails "missing inventory.img" $id "${gens[4]}" "inventory.img"
	mv "$ZS_T/inv.bak" "$g/inventory.img"
	echo x >"$g/extra-file"
	verify_fails "extra file" $id "${gens[4]}" "extra-file"
	rm -f "$g/extra-file"
	cp "$g/manifest.json" "$ZS_T/manifest.bak"
	jq '.files[0].size += 1' "$ZS_T/manifest.bak" >"$g/manifest.json"
	verify_fails "changed manifest" $id "${gens[3]}" "$(jq -r '.files[0].name' "$ZS_T/manifest.bak")"
	cp "$ZS_T/manifest.bak" "$g/manifest.json"
	t_check "verify passes again once restored" zr verify $id "${gens[4]}"
	# a generation kept by an earlier zanshin: manifest version 1, the
	# plain SHA-256 of each file; still verified (and merged, below)
	local sums='{}'
	for f in "$g"/*; do
		[ -L "$f" ] || [ "${f##*/}" = manifest.json ] && continue
		sums=$(jq --arg n "${f##*/}" --arg s "$(sha256sum <"$f" | cut -c1-64)" '. + {($n): $s}' <<<"$sums")
	done
	jq --argjson s "$sums" 'del(.hash) | .version = 1 | .files |= map({name, size, sha256: $s[.name]})' \
		"$ZS_T/manifest.bak" >"$g/manifest.json"
	t_check "a version 1 manifest (plain SHA-256 per file) verifies" zr verify $id "${gens[4]}"
	printf '\xff' | dd of="$g/$pages" bs=1 seek=100 count=1 conv=notrunc status=none
	verify_fails "version 1 manifest: flipped byte in $pages" $id "${gens[4]}" "$pages"
	cp "$ZS_T/pages.bak" "$g/$pages"
	jq '.version = 3' "$ZS_T/manifest.bak" >"$g/manifest.json"
	verify_fails "manifest version 3 (unknown)" $id "${gens[4]}" "version"
	jq '.hash = "md5"' "$ZS_T/manifest.bak" >"$g/manifest.json"
	verify_fails "manifest hash md5 (unknown)" $id "${gens[4]}" "hash"
	jq --argjson s "$sums" 'del(.hash) | .version = 1 | .files |= map({name, size, sha256: $s[.name]})' \
		"$ZS_T/manifest.bak" >"$g/manifest.json"

	# a fifth generation: chain 5 > max_chain 4, merged on commit
	hop c1-d5 $id "${gens[4]}" 300 || return
	d[5]=$DIGEST
	out=$(zr list c1 --format json)
	if [ "$GEN_KIND" = full ] && [ "$(jq length <<<"$out")" = 1 ] && [ "$(jq -r '.[0].name' <<<"$out")" = "$GEN" ] &&
		[[ "$GEN" > "${gens[4]}" ]]; then
		t_ok "chain 5 > max_chain 4: merged on commit into $GEN (full), old chain retired"
	else
		t_fail "auto-merge at chain 5" "commit gave $GEN ($GEN_KIND); list: $(names c1)"
	fi
	jq -e '.merged_from | length > 0' "$(gdir $id "$GEN")/lineage.json" >/dev/null &&
		t_ok "merged lineage: $(jq -r .merged_from "$(gdir $id "$GEN")/lineage.json")" || t_fail "merged_from" ""
	t_check "merged generation verifies" zr verify $id "$GEN"
	restore_check "auto-merged" $id "$GEN" "${d[5]}"
	# the next diff is a diff on the merged generation
	zs_restore c1-m "$(gdir $id "$GEN")" --track-mem || { t_fail "restore merged with tracking" "$(zs_log c1-m restore)"; return; }
	wl_write "$W" 100
	wl_verify "$W" >/dev/null
	local d6=$WL_DIGEST m=$GEN
	commit_dump c1-d6 $id "$(wl_pid "$W")" "$m" || return
	[ "$GEN_KIND" = diff ] && [ "$GEN_CHAIN" = 2 ] && t_ok "a diff dumped on the merged generation is committed (chain 2)" ||
		t_fail "diff on merged" "$GEN_KIND $GEN_CHAIN"
	restore_check "diff on merged" $id "$GEN" "$d6"
}

# ---- explicit merges of chains 2, 4, 8 ----
merges() {
	local id=c2 gens=() d=() i out n m
	W=$ZS_T/c2/wl
	settings 16
	wl_start "$W" $MIB || { t_fail "c2: start" "$(cat "$W/.start")"; return; }
	wl_verify "$W" >/dev/null
	d[1]=$WL_DIGEST
	commit_dump c2-base $id "$(wl_pid "$W")" "" || return
	gens[1]=$GEN
	for i in 2 3 4 5 6 7 8; do
		hop "c2-d$i" $id "${gens[i - 1]}" 200 || return
		gens[i]=$GEN
		d[i]=$DIGEST
	done
	wl_stop "$W"
	t_ok "chain of 8 generations: $(names $id)"
	for n in 2 4 8; do
		out=$(zr merge $id "${gens[n]}" --format json 2>&1) || { t_fail "merge chain $n" "$out"; continue; }
		m=$(jq -r .name <<<"$out")
		[ "$(jq -r .kind <<<"$out")" = full ] && [ "$(jq -r .image_id <<<"$out")" = "$(jq -r .image_id "$(gdir $id "${gens[n]}")/lineage.json" 2>/dev/null || jq -r .image_id "$(gdir $id "$m")/lineage.json")" ] &&
			t_ok "merge of chain $n: $m (full, same image id)" || t_fail "merge chain $n" "$out"
		t_check "merge of chain $n: verifies" zr verify $id "$m"
		restore_check "merge of chain $n" $id "$m" "${d[n]}"
		if [ $n -lt 8 ]; then
			[ -d "$(gdir $id "${gens[n]}")" ] && [ -d "$(gdir $id "${gens[1]}")" ] &&
				t_ok "merge of chain $n: the chain stays (generation $((n + 1)) depends on it)" ||
				t_fail "merge of chain $n kept dependencies" "$(names $id)"
		else
			out=$(names $id)
			[ "$(wc -w <<<"$out")" = 3 ] && t_ok "merge of chain 8: the chain is retired, 3 merged remain ($out)" ||
				t_fail "merge of chain 8 retired its chain" "$out"
		fi
	done
	# export (flattened, verified) and import into another container, twice
	if zr export $id "$m" "$ZS_T/exported" && out=$(zr import c9 "$ZS_T/exported" --format json) &&
		[ "$(jq -r .kind <<<"$out")" = full ] && [ "$(zr import c9 "$ZS_T/exported" --format json | jq -r .name)" = "$(jq -r .name <<<"$out")" ] &&
		[ "$(names c9 | wc -w)" = 1 ] && zr verify c9 >/dev/null; then
		t_ok "export, then import into c9 (twice: one generation), verifies"
		restore_check "imported" c9 "$(jq -r .name <<<"$out")" "${d[8]}"
	else
		t_fail "export/import" "$out / $(names c9)"
	fi
	out=$(zr merge $id "$m" 2>&1) && t_fail "merge of a full generation refused" "$out" ||
		t_ok "merge of a full generation refused (${out##*msg=})"
}

# ---- kill -9 during a merge ----
killed_merge() {
	local id=c3 base dif before out tmp d
	W=$ZS_T/c3/wl
	settings 16 604800 10737418240 0
	wl_start "$W" 512 || { t_fail "c3: start" "$(cat "$W/.start")"; return; }
	commit_dump c3-base $id "$(wl_pid "$W")" "" || return
	base=$GEN
	hop c3-d1 $id "$base" 40000 || return
	dif=$GEN
	d=$DIGEST
	wl_stop "$W"
	before=$(names $id)
	"$Z" --remnant-root "$R" remnant merge $id "$dif" >/dev/null 2>&1 &
	local mpid=$! i
	# kill it once the flatten has started writing pages
	for ((i = 0; i < 400; i++)); do
		ls "$R/containers/$id/generations/".tmp-merge-*/pages-*.img >/dev/null 2>&1 && break
		sleep 0.01
	done
	kill -KILL $mpid 2>/dev/null
	wait $mpid 2>/dev/null
	out=$(names $id)
	if [ "$out" != "$before" ]; then
		t_fail "kill -9 during merge" "the merge finished before it was killed ($before -> $out)"
		return
	fi
	t_ok "kill -9 during merge: generations unchanged ($out)"
	tmp=$(ls -d "$R/containers/$id/generations/".tmp-* 2>/dev/null | head -n1)
	t_check "kill -9 during merge: the old chain verifies" zr verify $id "$dif"
	restore_check "kill -9 during merge" $id "$dif" "$d"
	if [ -n "$tmp" ]; then
		zr gc >/dev/null
		[ ! -e "$tmp" ] && t_ok "gc collected the merge's leftover $(basename "$tmp")" || t_fail "gc of leftover" "$tmp still there"
	else
		t_skip "gc of the merge's leftover" "no .tmp-* left (killed before flatten began)"
	fi
	t_check "kill -9 during merge: a merge afterwards works" zr merge $id "$dif"
}

# ---- gc ----
total_bytes() { zr list --format json | jq '[.[].bytes] | add'; }
gc_tests() {
	local id=c4 a b c e out total
	local R=$ZS_T/store-gc
	W=$ZS_T/c4/wl
	settings 16
	wl_start "$W" $MIB || { t_fail "c4: start" "$(cat "$W/.start")"; return; }
	commit_dump c4-a $id "$(wl_pid "$W")" "" || return
	a=$GEN
	hop c4-b $id "$a" 100 || return
	b=$GEN
	wl_stop "$W"
	hop c4-c $id "$a" 200 || return
	c=$GEN
	local dc=$DIGEST
	wl_stop "$W"
	settings 16 604800 1
	out=$(zr gc --dry-run --format json)
	if [ "$(jq -r '[.[].name] | join(" ")' <<<"$out")" = "$b" ] && [ "$(names $id)" = "$a $b $c " ]; then
		t_ok "gc --dry-run by size (max_bytes 1): would remove $b only (not $a: $c depends on it; not the newest $c); removed nothing"
	else
		t_fail "gc --dry-run by size" "$out / $(names $id)"
	fi
	total=$(total_bytes)
	settings 16 604800 $((total - 1))
	out=$(zr gc --format json)
	[ "$(names $id)" = "$a $c " ] && [ "$(jq length <<<"$out")" = 1 ] &&
		t_ok "gc by size (max_bytes = total - 1): $b removed, $a and $c kept" || t_fail "gc by size" "$out / $(names $id)"
	t_check "gc by size: the newest verifies" zr verify $id "$c"
	restore_check "after gc by size" $id "$c" "$dc"
	settings 16
	hop c4-e $id "$a" 300 || return
	e=$GEN
	local de=$DIGEST
	wl_stop "$W"
	settings 16 0
	out=$(zr gc --dry-run --format json)
	[ "$(jq -r '[.[].name] | join(" ")' <<<"$out")" = "$c" ] && [ "$(names $id)" = "$a $c $e " ] &&
		t_ok "gc --dry-run by age (max_age 0): would remove $c only, removed nothing" ||
		t_fail "gc --dry-run by age" "$out / $(names $id)"
	zr gc >/dev/null
	out=$(names $id)
	[ "$out" = "$a $e " ] && t_ok "gc by age: $c removed; $a kept (parent of the newest $e)" ||
		t_fail "gc by age" "left: $out"
	t_check "gc by age: the newest verifies" zr verify $id "$e"
	restore_check "after gc by age" $id "$e" "$de"
	mkdir "$R/containers/$id/generations/.tmp-dump-old"
	touch -d '1 hour ago' "$R/containers/$id/generations/.tmp-dump-old"
	mkdir "$R/containers/$id/generations/.tmp-dump-new"
	settings 16
	zr gc >/dev/null
	[ ! -e "$R/containers/$id/generations/.tmp-dump-old" ] && [ -e "$R/containers/$id/generations/.tmp-dump-new" ] &&
		t_ok "gc: a .tmp-* older than tmp_grace is collected, a recent one is left alone" ||
		t_fail "gc of .tmp-*" "$(ls -la "$R/containers/$id/generations")"
	settings 4
}

# ---- bundle ----
bundles() {
	local B=$ZS_T/bundle out stored
	mkdir -p "$B/rootfs/bin" "$B/rootfs/etc" "$B/rootfs/sub"
	echo hello >"$B/rootfs/etc/hostname"
	chmod 640 "$B/rootfs/etc/hostname"
	ln -s /etc/passwd "$B/rootfs/etc/passwd-link"
	ln -s ../../../../.. "$B/rootfs/escape"
	mkfifo "$B/rootfs/fifo"
	/usr/bin/python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.bind('$B/rootfs/sock')"
	echo '{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"}, "root": {"path": "rootfs", "readonly": true}}' >"$B/config.json"
	out=$(zr save-bundle c6 "$B" --format json 2>&1) || { t_fail "bundle save" "$out"; return; }
	stored=$R/containers/c6/bundle
	if [ "$(jq -r .rootfs_kept <<<"$out")" = true ] && [ "$(jq -r .root.path "$stored/config.json")" = "$stored/rootfs" ] &&
		[ "$(jq -r .root.readonly "$stored/config.json")" = true ]; then
		t_ok "bundle save: rootfs kept; stored config.json root.path = the kept rootfs"
	else
		t_fail "bundle save: kept" "$out $(cat "$stored/config.json")"
	fi
	if [ "$(stat -c %d:%i "$B/rootfs/etc/hostname")" != "$(stat -c %d:%i "$stored/rootfs/etc/hostname")" ] &&
		[ "$(stat -c %h:%a "$stored/rootfs/etc/hostname")" = 1:640 ] && cmp -s "$B/rootfs/etc/hostname" "$stored/rootfs/etc/hostname" &&
		[ "$(readlink "$stored/rootfs/etc/passwd-link")" = /etc/passwd ] && [ -L "$stored/rootfs/escape" ] &&
		[ -p "$stored/rootfs/fifo" ] && [ ! -e "$stored/rootfs/sock" ] && [ -d "$stored/rootfs/sub" ]; then
		t_ok "bundle save: files copied (own inodes, same bytes and mode), symlinks copied as symlinks (not followed), fifo kept, socket skipped"
	else
		t_fail "bundle save: tree" "$(ls -laR "$stored/rootfs" | head -40)"
	fi
	mkdir -p "$ZS_T/bundle2/rootfs"
	cp "$B/config.json" "$ZS_T/bundle2/"
	mkdir -p "$ZS_T/other-rootfs"
	echo x >"$ZS_T/other-rootfs/file"
	mount --bind "$ZS_T/other-rootfs" "$ZS_T/bundle2/rootfs" || { t_fail "bind mount" ""; return; }
	out=$(zr save-bundle c7 "$ZS_T/bundle2" --format json 2>&1)
	umount "$ZS_T/bundle2/rootfs"
	if [ "$(jq -r .rootfs_kept <<<"$out")" = false ] && grep -q "mount point" <<<"$(jq -r .reason <<<"$out")" &&
		[ ! -e "$R/containers/c7/bundle/rootfs" ] &&
		[ "$(jq -r .rootfs.kept "$R/containers/c7/bundle.json")" = false ] &&
		[ "$(jq -r .root.path "$R/containers/c7/bundle/config.json")" = "$ZS_T/bundle2/rootfs" ]; then
		t_ok "bundle save: a mount-point rootfs is not kept (bundle.json says why: $(jq -r .reason <<<"$out"))"
	else
		t_fail "bundle save: mount point" "$out"
	fi
	settings 4
	printf '{"remnant": {"keep_rootfs_max_bytes": 2}}' >"$CFG"
	out=$(zr save-bundle c8 "$B" --format json 2>&1)
	[ "$(jq -r .rootfs_kept <<<"$out")" = false ] && grep -q keep_rootfs_max_bytes <<<"$out" &&
		t_ok "bundle save: a rootfs over keep_rootfs_max_bytes is not kept" || t_fail "bundle save: size limit" "$out"
	settings 4
}

# ---- bad input ----
bad_input() {
	local out id
	printf '{"remnant": {"max_chain": "four"}}' >"$CFG"
	out=$(zr list 2>&1) && t_fail "malformed settings refused" "$out" ||
		{ grep -qF "$CFG" <<<"$out" && grep -q "remnant.max_chain" <<<"$out" &&
			t_ok "malformed settings: error names file and field (${out##*msg=})" || t_fail "malformed settings message" "$out"; }
	printf '{"remnant": {"max_chain": 4,' >"$CFG"
	out=$(zr list 2>&1) && t_fail "invalid JSON settings refused" "$out" ||
		{ grep -qF "$CFG" <<<"$out" && t_ok "invalid JSON settings: error names the file" || t_fail "invalid JSON message" "$out"; }
	printf '{"remnant": {"max_chian": 4}}' >"$CFG"
	out=$(zr list 2>&1) && t_fail "unknown setting refused" "$out" || t_ok "unknown setting refused (${out##*msg=})"
	rm -f "$CFG"
	t_check "missing settings file: defaults" zr list
	settings 4
	for id in ../etc . "a/b" "-x y" ""; do
		if out=$(zr show "$id" 2>&1) || out=$(zr begin "$id" 2>&1); then
			t_fail "bad id '$id' refused" "$out"
		else
			t_ok "bad id '$id' refused (${out##*msg=})"
		fi
	done
	[ ! -e "$R/etc" ] && [ -z "$(ls "$R/containers" | grep -v '^c[0-9]$')" ] && t_ok "bad ids created nothing" ||
		t_fail "bad ids created nothing" "$(ls -la "$R" "$R/containers")"
	out=$(zr commit c1 /tmp 2>&1) && t_fail "commit of a directory outside the store refused" "$out" ||
		t_ok "commit of a directory outside the store refused"
}

chain_and_automerge
zs_kill_ours
merges
zs_kill_ours
killed_merge
zs_kill_ours
gc_tests
zs_kill_ours
bundles
bad_input
t_done
