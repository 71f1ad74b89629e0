#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 18.3: the remnant store's import of an image directory must not be
# raced into storing a host file. Whoever controls an image directory
# (--image-path of `restore`, whose files the store keeps in the background
# after the restore, or `zanshin remnant import`) runs a racer that swaps an
# image file, again and again, between the real file and a symlink to a
# root-only host file. The store must never contain the host file's bytes,
# never record a symlink but a generation's own `parent`, and `remnant
# verify`/`export` must never hand those bytes out.
#
# Before the fix, import_entries() checked with fstatat(AT_SYMLINK_NOFOLLOW)
# and then linkat()ed whatever was there by then: the racer got links to the
# host file into the store, `remnant verify` said verified (the manifest
# recorded symlinks) and `remnant export` copied the host file out (this
# file, run against that code with IMPORT_RACE_ROUNDS=150, stored such a
# link; the default 100 keeps it within run.sh's 120 s per file). runc
# 1.1.5 has no store: nothing of the kind to compare.
. "$(dirname "$0")/../cr/lib.sh"
MIB=16
CR_MIB=$MIB
ROUNDS=${IMPORT_RACE_ROUNDS:-100}
cr_setup import-race

SECRET=$CR_T/host-secret
MARK=ZANSHIN-HOST-SECRET-$$-$RANDOM
{ for i in $(seq 200); do echo "$MARK"; done; } >"$SECRET"
chmod 0600 "$SECRET"

# racer DIR NAME...: swap DIR/NAME with a symlink to the secret kept beside
# DIR, as fast as renameat2(RENAME_EXCHANGE) goes, until killed: the name
# is always there, a regular file or the symlink, and DIR never gets a
# stray file.
racer() {
	local dir=$1 w
	shift
	w=$(mktemp -d "$CR_T/racer.XXXXXX")
	exec /usr/bin/python3 - "$dir" "$w" "$SECRET" "$@" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2
d, w, secret, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
pairs = []
for n in names:
    alt = os.path.join(w, n)
    os.symlink(secret, alt)
    pairs.append((os.path.join(d, n).encode(), alt.encode()))
while True:
    for a, b in pairs:
        libc.renameat2(-100, a, -100, b, RENAME_EXCHANGE)
PY
}

# store_clean STORE WHAT: no secret bytes, no foreign symlink, no symlink in a manifest.
store_clean() {
	local st=$1 what=$2 hits links mlinks
	hits=$(grep -rlF "$MARK" "$st" 2>/dev/null)
	links=$(find "$st"/containers/*/generations -type l ! -name parent 2>/dev/null)
	mlinks=$(find "$st" -name manifest.json -exec jq -r '.links[]?.name | select(. != "parent")' {} + 2>/dev/null)
	if [ -z "$hits$links$mlinks" ]; then
		t_ok "$what: the store holds no byte of the host file, no symlink but \`parent\`"
	else
		t_fail "$what: the store holds the host file" "files: $hits" "links: $links" "manifest links: $mlinks"
	fi
}

# verify_export NODE WHAT: every generation verifies or is refused; no export carries the secret.
verify_export() {
	local n=$1 what=$2 id g out leaked=0 ok=0 bad=0
	for id in $(z "$n" remnant list --format json 2>/dev/null | jq -r '.[].container' | sort -u); do
		for g in $(z "$n" remnant list "$id" --format json 2>/dev/null | jq -r '.[].name'); do
			if z "$n" remnant verify "$id" "$g" >/dev/null 2>&1; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
			rm -rf "$CR_T/exp"
			z "$n" remnant export "$id" "$g" "$CR_T/exp" >/dev/null 2>&1
			grep -rqF "$MARK" "$CR_T/exp" 2>/dev/null && leaked=$((leaked + 1))
		done
	done
	if [ $leaked = 0 ]; then
		t_ok "$what: verify/export hand out nothing of the host file ($ok generations verify, $bad refused)"
	else
		t_fail "$what: export leaked the host file" "$leaked exports carried it"
	fi
}

# An image to race: a checkpoint of the workload container.
cr_node a
t_run a
t_ckpt "image" a "$CR_T/a/img/base" || { t_done; exit; }
cr_gone a
IMG=$CR_T/a/img/base
echo extra >"$IMG/zz-extra" # a file no reader needs: every import copies it

# ---- 1. direct imports while the racer runs ----
mkdir -p "$CR_T/race1"
cp -a "$IMG/." "$CR_T/race1/"
racer "$CR_T/race1" descriptors.json zz-extra &
RACER=$!
kept=0 refused=0
for ((i = 0; i < ROUNDS; i++)); do
	if z a remnant import "imp-$i" "$CR_T/race1" >/dev/null 2>&1; then kept=$((kept + 1)); else refused=$((refused + 1)); fi
done
kill $RACER
wait $RACER 2>/dev/null
t_diag "direct import under the racer: $kept kept, $refused refused"
[ $((kept + refused)) = "$ROUNDS" ] && t_ok "direct import: $ROUNDS imports ran under the racer ($kept kept, $refused refused)" ||
	t_fail "direct import ran" "$kept $refused"
store_clean "$CR_T/a/store" "direct import"
verify_export a "direct import"

# ---- 2. restore --image-path DIR: the background import races ----
cr_node b
mkdir -p "$CR_T/race2"
cp -a "$IMG/." "$CR_T/race2/"
racer "$CR_T/race2" zz-extra &
RACER=$!
restored=0
for ((i = 0; i < 5; i++)); do
	if cr_restore b "$CR_T/race2"; then
		restored=$((restored + 1))
		z b remnant list >/dev/null 2>&1 # waits for the background import
		cr_delete b
	fi
done
kill $RACER
wait $RACER 2>/dev/null
[ $restored -gt 0 ] && t_ok "restore --image-path under the racer: $restored of 5 restored" ||
	t_fail "restore under the racer" "none restored: $CR_ERR"
store_clean "$CR_T/b/store" "background import after restore"
verify_export b "background import after restore"

# ---- 3. a symlink planted for good is refused, never followed ----
mkdir -p "$CR_T/planted"
cp -a "$IMG/." "$CR_T/planted/"
rm -f "$CR_T/planted/zz-extra"
ln -s "$SECRET" "$CR_T/planted/zz-extra"
out=$(z a remnant import planted "$CR_T/planted" 2>&1) && t_fail "a planted symlink is refused" "import succeeded" ||
	{ grep -q "symlink" <<<"$out" && t_ok "a planted symlink is refused: $out" || t_fail "refusal names the symlink" "$out"; }
rm -f "$CR_T/planted/zz-extra"
mkfifo "$CR_T/planted/zz-extra"
out=$(timeout 20 "$ZANSHIN" --remnant-root "$CR_T/a/store" remnant import planted2 "$CR_T/planted" 2>&1)
rc=$?
[ $rc != 124 ] && [ $rc != 0 ] && t_ok "a FIFO in the image directory is refused, not waited on: $out" ||
	t_fail "FIFO refused" "rc $rc: $out"
store_clean "$CR_T/a/store" "after planted files"
t_done
