#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 18 item 5, as the attack: an image is untrusted input (it may come
# from another node). A real checkpoint of a container whose config.json
# grants CAP_KILL only, sets noNewPrivileges and a seccomp profile; then
# core-1.img (the container's init) is rewritten with crit, one field at a
# time: every capability, no_new_privs cleared, seccomp disabled, seccomp
# filter swapped for an allow-all one, the host's network namespace, another
# uid. Each restore must be refused naming the field, leave no container
# behind, and `zanshin image check --config` must say the same; the
# untouched image must restore and its memory verify.
# runc 1.1.5 restores every one of these images (the issue's reproduction:
# CapEff 000001fffeffffff, no NoNewPrivs).
. "$(dirname "$0")/../cr/lib.sh"
CR_MIB=32
cr_setup crafted
cr_node A
A=$CR_T/A
# the cr config plus a seccomp profile (allow, but not swapon/kexec_load),
# and a workload of two processes with two threads each (CRIU dumps the
# threads without filters: their leader installs its own with TSYNC)
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"],
	syscalls: [{names: ["swapon", "kexec_load"], action: "SCMP_ACT_ERRNO"}]} |
	.process.args[2] |= sub("zs-workload -d /wl"; "zs-workload -d /wl -p 1 -t 2")' \
	"$A/bundle/config.json" >"$A/bundle/c.json" && mv "$A/bundle/c.json" "$A/bundle/config.json"

crit() { (. "$CR_TOP/tests/criu/lib.sh" && zs_crit "$@"); }

# craft NAME PYTHON [CORE]: a copy of the base image whose CORE (default
# core-1.img) entry c, creds its thread_core.creds, i the ids-1.img entry,
# were changed by PYTHON (v: the inventory entry, read only).
craft() {
	local d=$A/img/$1 core=${3:-core-1.img}
	rm -rf "$d" && cp -a "$A/img/base" "$d" || return 1
	crit decode -i "$d/$core" >"$CR_T/core.json" || return 1
	crit decode -i "$d/ids-1.img" >"$CR_T/ids.json" || return 1
	crit decode -i "$d/inventory.img" >"$CR_T/inv.json" || return 1
	/usr/bin/python3 - "$CR_T" "$2" <<'EOF' || return 1
import json, sys
t, code = sys.argv[1], sys.argv[2]
core = json.load(open(t + "/core.json")); ids = json.load(open(t + "/ids.json"))
inv = json.load(open(t + "/inv.json"))
c = core["entries"][0]; i = ids["entries"][0]; v = inv["entries"][0]
creds = c["thread_core"]["creds"]
exec(code)
json.dump(core, open(t + "/core.json", "w")); json.dump(ids, open(t + "/ids.json", "w"))
EOF
	crit encode -i "$CR_T/core.json" -o "$d/$core" && crit encode -i "$CR_T/ids.json" -o "$d/ids-1.img"
}

# t_refused NAME IMGNAME FIELD-REGEX: restore and image check both refuse
# naming the field; no container is left.
t_refused() {
	local name=$1 d=$A/img/$2 want=$3 out
	cr_restore A "$d"
	if [ -z "$(cr_status A)" ] && grep -qE "$want" <<<"$CR_ERR"; then
		t_ok "$name: restore refused ($(grep -oE "core-[0-9]+.img: [^,]*|ids-1.img: [^,]*" <<<"$CR_ERR" | head -1))"
	else
		t_fail "$name: restore refused naming $want" "status '$(cr_status A)'" "$CR_ERR"
		cr_delete A
	fi
	out=$("$ZANSHIN" image check --config "$A/bundle/config.json" "$d" 2>&1)
	if [ $? -ne 0 ] && grep -qE "$want" <<<"$out"; then t_ok "$name: image check --config says so too"; else
		t_fail "$name: image check --config refuses" "$out"
	fi
}

t_run A
t_wl_write "base" A 100
t_wl_verify "base" A
WANT=$WL_DIGEST
mkdir -p "$A/img"
t_ckpt "base" A "$A/img/base"
cr_gone A || t_fail "base: container gone after the checkpoint" "status $(cr_status A)"

t_check "untouched image: image check --config ok" "$ZANSHIN" image check --config "$A/bundle/config.json" "$A/img/base"

if craft capall 'for s in ("cap_inh", "cap_prm", "cap_eff", "cap_bnd"): creds[s] = [0xffffffff, 0x1ff]'; then
	t_refused "every capability" capall 'core-1.img: thread_core.creds.cap_eff has CAP_[A-Z_]+, which .*config.json.s process.capabilities.permitted does not grant'
else t_fail "craft every capability" "crit failed"; fi

# a thread of the workload (not a task leader) given every capability
thr=$(crit decode -i "$A/img/base/pstree.img" | jq -r '[.entries[] | .pid as $p | .threads[] | select(. != $p)][0] // empty')
if [ -n "$thr" ] && craft thread 'for s in ("cap_prm", "cap_eff"): creds[s] = [0xffffffff, 0x1ff]' "core-$thr.img"; then
	t_refused "a thread with every capability" thread "core-$thr.img: thread_core.creds.cap_eff has CAP_[A-Z_]+"
else t_fail "craft a thread" "no thread in pstree.img, or crit failed"; fi

if craft bnd 'creds["cap_bnd"] = [0xffffffff, 0x1ff]'; then
	t_refused "bounding set" bnd 'thread_core.creds.cap_bnd has CAP_[A-Z_]+, which .*config.json.s process.capabilities.bounding does not grant'
else t_fail "craft bounding set" "crit failed"; fi

if craft nnp 'creds.pop("no_new_privs", None)'; then
	t_refused "no_new_privs cleared" nnp 'thread_core.creds.no_new_privs is not set, and .*config.json.s process.noNewPrivileges is true'
else t_fail "craft no_new_privs" "crit failed"; fi

if craft nosec 'c["thread_core"]["seccomp_mode"] = "disabled"; c["thread_core"].pop("seccomp_filter", None)'; then
	t_refused "seccomp disabled" nosec 'thread_core.seccomp_mode is disabled, and .*config.json.s linux.seccomp asks for a filter'
else t_fail "craft seccomp disabled" "crit failed"; fi

# a filter of our own in place of the config's: allow everything
d=$A/img/allowall
if craft allowall 'pass' && crit decode -i "$d/seccomp.img" >"$CR_T/sec.json" &&
	/usr/bin/python3 - "$CR_T/sec.json" <<'EOF' && crit encode -i "$CR_T/sec.json" -o "$d/seccomp.img"; then
import base64, json, struct, sys
j = json.load(open(sys.argv[1]))
allow = base64.b64encode(struct.pack("<HBBI", 0x06, 0, 0, 0x7fff0000)).decode()
for f in j["entries"][0]["seccomp_filters"]:
    f["filter"] = allow
json.dump(j, open(sys.argv[1], "w"))
EOF
	t_refused "seccomp filter swapped" allowall 'thread_core.seccomp_filter: seccomp.img has not the filter of .*config.json.s linux.seccomp'
else t_fail "craft seccomp filter" "crit failed"; fi

if craft hostnet 'i["net_ns_id"] = v["root_ids"]["net_ns_id"]'; then
	t_refused "host network namespace" hostnet "ids-1.img: net_ns_id: the task would share the host's network namespace"
else t_fail "craft host network namespace" "crit failed"; fi

if craft uid 'creds["euid"] = 1000; creds["fsuid"] = 1000'; then
	t_refused "another uid" uid "thread_core.creds.euid 1000 is not .*config.json.s process.user"
else t_fail "craft uid" "crit failed"; fi

# the checks are not a blanket refusal: the untouched image restores
t_rest "untouched image" A "$A/img/base" && t_wl_verify "untouched image" A "$WANT"
if [ -n "$(cr_status A)" ]; then
	pid=$(z A state "$CR_CID" | jq -r .pid)
	caps=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")
	nnp=$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status")
	sec=$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status")
	if [ "$caps" = 0000000000000020 ] && [ "$nnp" = 1 ] && [ "$sec" = 2 ]; then
		t_ok "untouched image: init has CAP_KILL only, no_new_privs, a seccomp filter"
	else t_fail "untouched image: init's creds" "CapEff $caps NoNewPrivs $nnp Seccomp $sec"; fi
	# every thread of every task has the filter again (the threads through
	# their leader's TSYNC)
	ns=$(readlink "/proc/$pid/ns/pid") nt=0 bad=""
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
		for t in "$p"/task/*; do
			nt=$((nt + 1))
			[ "$(awk '/^Seccomp:/ {print $2}' "$t/status")" = 2 ] || bad="$bad ${t#/proc/}"
		done
	done
	if [ -z "$bad" ] && [ "$nt" -ge 7 ]; then t_ok "untouched image: all $nt threads have the seccomp filter"; else
		t_fail "untouched image: every thread has the seccomp filter" "$nt threads; without:$bad"
	fi
fi
cr_delete A
t_done
