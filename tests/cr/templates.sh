#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Templates (issue 15 item 4; docs/lazy-restore.md "Templates"): many
# containers restored lazily, at once, from ONE checkpoint image directory,
# each under a new container id with its own bundle (rootfs copy, cgroup),
# as `podman container restore --name` gives each restore its own.
#
#   1. one checkpoint of the memory workload (the template); 5 instances
#      restored from it at the same time with `restore --lazy` (4 and 5
#      given one --work-path: they take turns, never share a server);
#      each runs with its own fault server and every page verifies.
#   2. independence: each instance writes a different number of pages;
#      every instance verifies (a write seen by another would fail its
#      check of page versions) with a digest of its own.
#   3. tracking is each one's own: instance 2 checkpointed (during its
#      prefetch) as a diff against the template storing only its own
#      writes; instance 4 checkpointed full after its prefetch; both
#      restored again under new ids and verified; the others verify on.
#   4. the template is unchanged: every file (logs included) as before,
#      its manifest verifies (`zanshin image check`).
#   4b. a lazy restore that fails keeps the logs its error names, leaves
#      no container and no fault server.
#      (A rootfs copy as the checkpointed container left it is needed only
#      for the files its processes hold open; the workload holds none.)
#   5. `restore --ksm` (prototype): two instances whose memory KSM may
#      merge (ksmd switched on for this section only, its settings put
#      back): pages are merged across them (their PSS drops), each still
#      verifies after the other wrote, and a diff checkpoint of one —
#      holding the merged pages too, which read as written to tracking —
#      restores and verifies. Skipped where the kernel has no KSM.
. "$(dirname "$0")/lib.sh"
CR_MIB=${TPL_MIB:-128}
N=5
K=256
C=128
cr_setup templates

# tid I: container id of instance I (new ids, one state root).
tid() { echo "tpl-$$-$1"; }

# in_do I FN ARGS...: a lib.sh helper run against instance I (node I$I,
# whose state/ and store/ are the shared ones of node T).
in_do() {
	local i=$1
	shift
	CR_CID=$(tid "$i") "$@"
}

# dir_listing DIR: every file with size and mtime (logs too): nothing was
# added, removed or rewritten.
dir_listing() { (cd "$1" && find . -printf '%p %y %m %s %T@\n' | sort); }

# lazy_server_of WORKDIR: pid of the `criu lazy-pages` whose work dir it is.
lazy_server_of() { criu_with "--work-dir $1 " | head -n1 | grep .; }

# ---- 1. the template and 5 instances restored from it at once
cr_node S
t_run S
t_wl_write "1: template" S $K
t_wl_verify "1: template before checkpoint" S || { t_done; exit; }
d0=$WL_DIGEST
tpl=$CR_T/S/img/tpl
t_ckpt "1: template" S "$tpl" || { t_done; exit; }
cr_gone S
list0=$(dir_listing "$tpl")
sum0=$(tree_sum "$tpl")

mkdir -p "$CR_T/T/state" "$CR_T/T/store" "$CR_T/W"
for ((i = 1; i <= N; i++)); do
	cr_node "I$i"
	rm -rf "$CR_T/I$i/state" "$CR_T/I$i/store"
	ln -s ../T/state "$CR_T/I$i/state"
	ln -s ../T/store "$CR_T/I$i/store"
	# the rootfs as the template's container left it (its open files)
	cp -a "$CR_T/S/bundle/rootfs/wl/." "$CR_T/I$i/bundle/rootfs/wl/"
done
rp=()
for ((i = 1; i <= N; i++)); do
	wp=()
	((i >= 4)) && wp=(--work-path "$CR_T/W")
	cr_pipes
	z "I$i" restore -d --lazy --image-path "$tpl" "${wp[@]}" --bundle "$CR_T/I$i/bundle" "$(tid "$i")" \
		<&"$CR_IN" >&"$CR_OUT" 2>"$CR_T/I$i/restore.err" &
	rp[i]=$!
done
ok=1
for ((i = 1; i <= N; i++)); do
	if wait "${rp[i]}"; then t_ok "1: instance $i: restore --lazy --image-path TEMPLATE $(tid "$i")"; else
		t_fail "1: instance $i: restore --lazy" "$(cat "$CR_T/I$i/restore.err")"
		ok=0
	fi
done
[ $ok = 1 ] || { t_done; exit; }
n=$(z T list -q | grep -c "^tpl-$$-")
[ "$n" = $N ] && t_ok "1: $N containers listed under their new ids" || t_fail "1: $N containers listed" "$(z T list)"
# servers_of WORKDIR: the `criu lazy-pages` processes working there.
servers_of() {
	local p
	for p in $(pgrep -x criu); do
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "lazy-pages " &&
			tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "--work-dir $1 " && echo "$p"
	done
}
srvs=$(for ((i = 1; i <= 3; i++)); do servers_of "$CR_T/I$i/state/.lazy-work/$(tid "$i")"; done; servers_of "$CR_T/W")
[ "$(sort -u <<<"$srvs" | grep -c .)" = $N ] && t_ok "1: one fault server per instance ($(echo $srvs))" ||
	t_fail "1: one fault server per instance" "servers: $(echo $srvs)"
pids=$(for ((i = 1; i <= N; i++)); do in_do "$i" wl_host_pid "I$i"; done | sort -u | wc -l)
[ "$pids" = $N ] && t_ok "1: $N distinct workload processes" || t_fail "1: $N distinct workload processes" "$pids"
for ((i = 1; i <= N; i++)); do
	in_do "$i" t_wl_verify "1: instance $i during its prefetch" "I$i" "$d0"
done

# ---- 2. different writes, each verifies with its own state
declare -A dig
for ((i = 1; i <= N; i++)); do
	in_do "$i" t_wl_write "2: instance $i" "I$i" $((32 * i))
done
for ((i = 1; i <= N; i++)); do
	in_do "$i" t_wl_verify "2: instance $i after every instance wrote" "I$i" && dig[$i]=$WL_DIGEST
done
nd=$(printf '%s\n' "${dig[@]}" "$d0" | sort -u | wc -l)
[ "$nd" = $((N + 1)) ] && t_ok "2: $N different states, none the template's" ||
	t_fail "2: $N different states" "digests: ${dig[*]} template $d0"

# ---- 3. checkpoints of instances 2 (a diff, while its prefetch may still
# run) and 4 (full, after its prefetch), restored under new ids
img2=$CR_T/I2/img/c
in_do 2 t_ckpt "3: instance 2" I2 "$img2" --parent-path ../../../S/img/tpl || { t_done; exit; }
in_do 2 cr_gone I2
[ "$(img_field "$img2" full)" = false ] && [ "$(img_field "$img2" parent_image_id)" = "$(img_field "$tpl" image_id)" ] &&
	t_ok "3: instance 2: a diff against the template" || t_fail "3: instance 2: a diff against the template" "$(img_json "$img2")"
t_range "3: instance 2: the diff stores its own 64 written pages (+ metadata)" "$(img_field "$img2" pages)" 64 $((64 + C))
if wait_for 120 in_do 4 lazy_filled I4; then t_ok "3: instance 4: prefetch done"; else
	t_fail "3: instance 4: prefetch done" "no .lazy-filled mark"
fi
img4=$CR_T/I4/img/c
in_do 4 t_ckpt "3: instance 4 full" I4 "$img4" || { t_done; exit; }
in_do 4 cr_gone I4
[ "$(img_field "$img4" full)" = true ] && t_ok "3: instance 4: a full image" ||
	t_fail "3: instance 4: a full image" "$(img_json "$img4")"
for i in 1 3 5; do
	in_do "$i" t_wl_verify "3: instance $i runs on unchanged" "I$i" "${dig[$i]}"
done
CR_CID=$(tid r2) t_rest "3: instance 2's diff, lazily under a new id" I2 "$img2" --lazy &&
	in_do r2 t_wl_verify "3: restored instance 2 (diff -> template)" I2 "${dig[2]}"
CR_CID=$(tid r4) t_rest "3: instance 4's full image under a new id" I4 "$img4" &&
	in_do r4 t_wl_verify "3: restored instance 4" I4 "${dig[4]}"
in_do r2 t_wl_write "3: restored instance 2" I2 16 && in_do r2 t_wl_verify "3: restored instance 2 after a write" I2

# ---- 4b. a restore that fails (a bundle whose rootfs lacks the workload's
# executable, which CRIU maps) names its logs, which stay; no server is left
cr_node F
rm -f "$CR_T/F/bundle/rootfs/bin/zs-workload"
rm -rf "$CR_T/F/state" "$CR_T/F/store"
ln -s ../T/state "$CR_T/F/state"
ln -s ../T/store "$CR_T/F/store"
if CR_CID=$(tid f) cr_restore F "$tpl" --lazy; then
	t_fail "4b: a lazy restore without the workload's executable fails" "it succeeded"
	z T delete -f "$(tid f)" >/dev/null 2>&1
else
	log=$(grep -o "log file: [^)]*" <<<"$CR_ERR" | head -n1 | cut -d' ' -f3)
	[ -n "$log" ] && [ -s "$log" ] && t_ok "4b: it fails and its log is where the error says ($log)" ||
		t_fail "4b: it fails and its log is where the error says" "$CR_ERR"
	[ -z "$(z T list -q | grep -x "$(tid f)")" ] && t_ok "4b: no container left" || t_fail "4b: no container left" "$(z T list)"
	fw=$CR_T/F/state/.lazy-work/$(tid f)
	for ((n = 0; n < 100; n++)); do [ -z "$(servers_of "$fw")" ] && break; sleep 0.1; done
	[ -z "$(servers_of "$fw")" ] && t_ok "4b: no fault server left" || t_fail "4b: no fault server left" "$(servers_of "$fw")"
fi

# ---- 5. --ksm: instances share the pages none of them wrote
KSM=/sys/kernel/mm/ksm
# ksm_merging ID NODE: pages of the instance's workload merged by KSM.
ksm_merging() {
	local p
	p=$(CR_CID=$1 wl_host_pid "$2") || return 1
	cat "/proc/$p/ksm_merging_pages" 2>/dev/null
}
# ksm_merged_enough I: half of the template's pages of instance kI merged.
ksm_merged_enough() {
	local n
	n=$(ksm_merging "$(tid "k$1")" "I$1") || return 1
	[ "${n:-0}" -ge $((CR_MIB * 128)) ]
}
ksm_put_back() {
	[ -n "${ksm_saved:-}" ] || return 0
	read -r run pts slp <<<"$ksm_saved"
	echo "$run" >"$KSM/run"
	echo "$pts" >"$KSM/pages_to_scan"
	echo "$slp" >"$KSM/sleep_millisecs"
	ksm_saved=
}
if [ ! -w "$KSM/run" ]; then
	t_skip "5: --ksm" "this kernel has no KSM"
else
	ksm_saved="$(cat "$KSM/run") $(cat "$KSM/pages_to_scan") $(cat "$KSM/sleep_millisecs")"
	trap 'ksm_put_back; cr_cleanup' EXIT
	for i in 1 3 5; do z T delete -f "$(tid "$i")" >/dev/null 2>&1; done
	for i in 1 3; do
		CR_CID=$(tid "k$i") t_rest "5: instance k$i --lazy --ksm" "I$i" "$tpl" --lazy --ksm
	done
	echo 1 >"$KSM/run" && echo 5000 >"$KSM/pages_to_scan" && echo 20 >"$KSM/sleep_millisecs"
	if wait_for 120 ksm_merged_enough 1 && wait_for 30 ksm_merged_enough 3; then
		t_ok "5: KSM merged the instances' pages ($(ksm_merging "$(tid k1)" I1), $(ksm_merging "$(tid k3)" I3) pages)"
	else
		t_fail "5: KSM merged the instances' pages" "$(ksm_merging "$(tid k1)" I1) and $(ksm_merging "$(tid k3)" I3) of $((CR_MIB * 256))"
	fi
	p=$(in_do k1 wl_host_pid I1) && read -r rss pss < <(awk '$1 == "Rss:" {r = $2} $1 == "Pss:" {p = $2} END {print r, p}' "/proc/$p/smaps_rollup")
	[ "${pss:-0}" -gt 0 ] && [ $((pss * 10)) -lt $((rss * 8)) ] && t_ok "5: instance k1: PSS $pss kB < 80 % of RSS $rss kB" ||
		t_fail "5: instance k1: PSS below 80 % of RSS" "RSS $rss kB, PSS $pss kB"
	in_do k1 t_wl_write "5: instance k1" I1 48
	in_do k1 t_wl_verify "5: instance k1 after its write" I1 && dk1=$WL_DIGEST
	in_do k3 t_wl_verify "5: instance k3 unchanged by k1's write" I3 "$d0"
	ksm_put_back
	in_do k1 t_ckpt "5: instance k1 diff" I1 "$CR_T/I1/img/k" --parent-path ../../../S/img/tpl &&
		in_do k1 cr_gone I1 &&
		t_range "5: the diff holds k1's 48 written pages at least" "$(img_field "$CR_T/I1/img/k" pages)" 48 &&
		CR_CID=$(tid k1r) t_rest "5: k1's diff restored" I1 "$CR_T/I1/img/k" &&
		in_do k1r t_wl_verify "5: k1's diff restored" I1 "${dk1:-none}"
fi

# ---- 4. the template is as it was
for i in 1 3 5 r2 r4 k1 k1r k3; do z T delete -f "$(tid "$i")" >/dev/null 2>&1; done
left=$(ls -A "$CR_T/T/state/.lazy-work" 2>/dev/null | grep -vx "$(tid f)")
[ -z "$left" ] && t_ok "4: the instances' work directories went with them (the failed restore's stays)" ||
	t_fail "4: the instances' work directories went with them" "left: $left"
[ "$(dir_listing "$tpl")" = "$list0" ] && t_ok "4: template: the same files, sizes and times (logs too)" ||
	t_fail "4: template: the same files" "$(diff <(echo "$list0") <(dir_listing "$tpl"))"
[ "$(tree_sum "$tpl")" = "$sum0" ] && t_ok "4: template: the same content" || t_fail "4: template: the same content"
if out=$("$ZANSHIN" image check "$tpl" 2>&1); then t_ok "4: template: manifest verifies ($out)"; else
	t_fail "4: template: manifest verifies" "$out"
fi
t_done
