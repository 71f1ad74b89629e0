#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Errors and scripting (issue 17 item 6), on real checkpoints of the
# memory-workload container:
#  - a CRIU failure (a diff refused against another lineage's parent): the
#    message has real newlines in text mode, the decisive CRIU line first,
#    no sandbox-only RLIMIT_NOFILE line, no hint naming an option zanshin
#    lacks; with --log-format json it is one JSON line;
#  - `image check|info --format json` (also before the command), a failed
#    check prints JSON with ok:false and exits non-zero;
#  - `remnant verify --format json` on a damaged generation: JSON ok:false,
#    the file named, non-zero, nothing changed;
#  - unknown names exit non-zero (show, list, verify, rm, merge);
#  - generations named by the 12-hex part `remnant list` shows, by a prefix
#    of the image id or of the name; an ambiguous prefix names the candidates;
#  - `--format` before and after the `remnant` command;
#  - the tables (remnant list, zanshin list) keep their columns with a
#    64-character container id.
# JSON is parsed with jq (scripts/deps.sh installs it).
. "$(dirname "$0")/lib.sh"
CR_MIB=32
cr_setup scripting
export ZANSHIN_STORE_SYNC=1
cr_node A
I=$CR_T/A/img
S=$CR_T/A/store
ID=$CR_CID

# t_fails NAME CMD...: CMD exits non-zero; stdout in $OUT, stderr in $ERR.
t_fails() {
	local name=$1
	shift
	if OUT=$("$@" 2>"$CR_T/err" </dev/null); then
		ERR=$(cat "$CR_T/err")
		t_fail "$name: exits non-zero" "rc 0: $OUT $ERR"
		return 1
	fi
	ERR=$(cat "$CR_T/err")
	t_ok "$name: exits non-zero ($(head -n1 <<<"$ERR" | cut -c1-160))"
}
# t_jq NAME JSON FILTER: the filter holds on the JSON.
t_jq() {
	if jq -e "$3" <<<"$2" >/dev/null 2>&1; then t_ok "$1"; else t_fail "$1" "jq '$3' false on: $2"; fi
}

t_run A
t_ckpt "base" A "$I/base" || { t_done; exit; }
cr_gone A
t_rest "base" A "$I/base" --track-mem || { t_done; exit; }
t_wl_write "hop" A 64
t_ckpt "diff" A "$I/d1" --leave-running || { t_done; exit; }
t_wl_verify "still running" A || { t_done; exit; }

# ---- CRIU excerpts ----
cr_node U
if cr_run U && t_ckpt "U (another lineage)" U "$CR_T/U/img/other"; then
	t_fails "diff against another lineage" z A checkpoint --leave-running --image-path "$I/foreign" \
		--parent-path ../../../U/img/other "$ID"
	MSG=$ERR
	t_diag "message: $MSG"
	L2=$(sed -n 2p <<<"$MSG")
	if [ "$(wc -l <<<"$MSG")" -ge 2 ] && [[ $L2 =~ ^\ \ \([0-9.]+\)\ Error\ \( ]] && ! grep -qF '\n' <<<"$MSG"; then
		t_ok "text mode: CRIU's lines on lines of their own"
	else
		t_fail "text mode: CRIU's lines on lines of their own" "$MSG"
	fi
	if grep -q "tracking baseline" <<<"$L2"; then t_ok "the decisive line (the refused baseline) first"; else
		t_fail "the decisive line (the refused baseline) first" "line 2: $L2"
	fi
	if grep -q "RLIMIT_NOFILE" <<<"$MSG"; then t_fail "no sandbox-only RLIMIT_NOFILE line" "$MSG"; else
		t_ok "no sandbox-only RLIMIT_NOFILE line"
	fi
	if grep -q -- "--track-mem-fallback" <<<"$MSG"; then t_fail "no hint naming an option zanshin lacks" "$MSG"; else
		t_ok "no hint naming an option zanshin lacks"
	fi
	OUT=$(z A --log-format json checkpoint --leave-running --image-path "$I/foreign2" \
		--parent-path ../../../U/img/other "$ID" 2>&1)
	t_jq "--log-format json: one JSON line with the excerpt" "$OUT" \
		'select(.level == "error") | .msg | test("\n  \\([0-9.]+\\) Error \\(")'
	rm -rf "$I/foreign" "$I/foreign2"
	cr_delete U
else
	t_fail "U: run + checkpoint" "$CR_ERR"
fi

# ---- image --format json ----
OUT=$("$ZANSHIN" image check "$I/base" --format json)
t_jq "image check DIR --format json" "$OUT" '.ok == true and .error == null'
OUT=$("$ZANSHIN" image --format json check "$I/base")
t_jq "image --format json check DIR" "$OUT" '.ok == true'
OUT=$("$ZANSHIN" image --format json info "$I/d1")
t_jq "image --format json info DIR" "$OUT" '.full == true and (.image_id | length > 0)'
cp -a "$I/base" "$I/trunc"
truncate -s 3 "$I/trunc/inventory.img"
t_fails "image check of a truncated inventory" "$ZANSHIN" image check --format json "$I/trunc"
t_jq "failed image check prints JSON ok:false naming the file" "$OUT" '.ok == false and (.error | test("inventory"))'
t_fails "image --format yaml" "$ZANSHIN" image --format yaml check "$I/base"

# ---- prefixes ----
G1=$(z A remnant list "$ID" --format json | jq -r '.[0].name')
G2=$(z A remnant list "$ID" --format json | jq -r '.[-1].name')
IMG1=$(z A remnant list "$ID" --format json | jq -r '.[0].image_id')
t_diag "generations: $G1 $G2"
for w in "${G1#*-}" "${IMG1:0:8}" "${G1%%-*}"; do
	OUT=$(z A remnant verify "$ID" "$w" --format json 2>&1)
	t_jq "verify by prefix '$w' names $G1" "$OUT" ".ok == true and .generation == \"$G1\""
done
t_fails "ambiguous prefix" z A remnant verify "$ID" 000
if grep -qF "$G1" <<<"$ERR" && grep -qF "$G2" <<<"$ERR" && grep -q ambiguous <<<"$ERR"; then
	t_ok "ambiguous prefix: the error lists the candidates"
else
	t_fail "ambiguous prefix: the error lists the candidates" "$ERR"
fi

# ---- --format before and after the command ----
A1=$(z A remnant --format json list "$ID")
A2=$(z A remnant list --format json "$ID")
A3=$(z A remnant -f json list "$ID")
if [ "$A1" = "$A2" ] && [ "$A1" = "$A3" ] && jq -e 'length == 2' <<<"$A1" >/dev/null; then
	t_ok "remnant: --format json before and after the command"
else
	t_fail "remnant: --format json before and after the command" "$A1 / $A2 / $A3"
fi
t_fails "remnant --format yaml" z A remnant --format yaml list

# ---- unknown names ----
for v in "show nosuch" "list nosuch" "verify nosuch" "rm nosuch" "merge nosuch" "verify $ID nosuchgen"; do
	# shellcheck disable=SC2086
	t_fails "remnant $v" z A remnant $v
done
BEFORE=$(z A remnant list "$ID" --format json | jq -r '[.[].name] | join(" ")')
t_fails "remnant rm ID '' (an empty name is not 'the newest')" z A remnant rm "$ID" ""
[ "$(z A remnant list "$ID" --format json | jq -r '[.[].name] | join(" ")')" = "$BEFORE" ] &&
	t_ok "rm of an empty name removed nothing" || t_fail "rm of an empty name removed nothing" "$BEFORE"
for v in show list merge rm; do
	OUT=$(z A remnant --format json $v nosuch 2>/dev/null)
	t_jq "remnant --format json $v nosuch: JSON ok:false naming the id" "$OUT" \
		".ok == false and .command == \"$v\" and (.error | test(\"nosuch\"))"
done
OUT=$("$ZANSHIN" image info --format json "$CR_T/nosuch" 2>/dev/null)
t_jq "image info --format json of a missing directory: JSON ok:false" "$OUT" '.ok == false and (.error | test("No such file"))'

# ---- verify --format json on a damaged generation ----
GD=$S/containers/$ID/generations/$G1
P=$(ls "$GD"/pages-*.img | head -n1)
SUM=$(sha256sum "$P")
BYTE=$(od -An -tx1 -j100 -N1 "$P" | tr -d ' ')
printf '\xff' | dd of="$P" bs=1 seek=100 conv=notrunc status=none
t_fails "verify of a damaged generation" z A remnant verify "$ID" "$G1" --format json
t_jq "failed verify prints JSON ok:false naming the file" "$OUT" \
	".ok == false and .generation == \"$G1\" and (.error | test(\"$(basename "$P")\"))"
# put the byte back: the container's baseline chain
printf "\\x$BYTE" | dd of="$P" bs=1 seek=100 conv=notrunc status=none
[ "$(sha256sum "$P")" = "$SUM" ] && t_ok "byte restored" || t_fail "byte restored" "$(sha256sum "$P")"

# ---- a 64-character container id ----
LONG=$(printf 'c%.0s' {1..60})long
[ ${#LONG} -eq 64 ] || t_fail "64-character id" "${#LONG}"
z A remnant import "$LONG" "$I/base" >/dev/null 2>&1 || t_fail "import under a 64-character id" "$(z A remnant import "$LONG" "$I/base" 2>&1)"
TABLE=$(z A remnant list)
t_diag "$(head -n 3 <<<"$TABLE")"
if awk -v id="$LONG" 'NR == 1 { col = index($0, "GENERATION"); kind = index($0, "KIND"); next }
	{ split($0, f, " +"); if (index($0, f[2]) != col || substr($0, kind, 4) !~ /^(full|diff)$/) bad = 1 }
	END { exit bad }' <<<"$TABLE"; then
	t_ok "table columns stay aligned with a 64-character id"
else
	t_fail "table columns stay aligned with a 64-character id" "$TABLE"
fi
grep -qF "$LONG" <<<"$TABLE" && t_ok "the whole id is shown" || t_fail "the whole id is shown" "$TABLE"
# zanshin list (runc's table) with a running container of that id
cr_node L
if cr_run L "$LONG" >/dev/null; then
	TABLE=$(z L list)
	t_diag "$TABLE"
	if awk 'NR == 1 { s = index($0, "STATUS"); b = index($0, "BUNDLE"); next }
		{ if (substr($0, s, 7) != "running" || substr($0, b, 1) != "/") bad = 1 }
		END { exit bad }' <<<"$TABLE"; then
		t_ok "zanshin list: columns stay aligned with a 64-character id"
	else
		t_fail "zanshin list: columns stay aligned with a 64-character id" "$TABLE"
	fi
	z L delete -f "$LONG" >/dev/null 2>&1
else
	t_fail "run a container with a 64-character id" "$(tail -n 3 "$CR_T/stdout.log")"
fi
t_done
