#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The work every container checkpoint does whatever memory was written,
# made cheaper by criu-patches 0016-0017, with the result unchanged, and
# 0018 (freezer.state's permissions in cgroup.img):
#   0016  a network namespace without conntrack entries: the host's
#         conntrack table is not walked, no netns-ct image; with an entry
#         the entry is dumped and comes back after restore;
#   0017  cgroups are read through the host's own mounts of the
#         hierarchies: cgroup.img is byte for byte the one CRIU writes when
#         it has to mount them itself (the mounts hidden by tmpfs over
#         them, which also proves a covered mount is not used);
#   0018  freezer.state in cgroup.img has the permissions of the file, not
#         bytes of CRIU's heap (which made any two dumps differ, and which a
#         restore with --manage-cgroups-mode full applied to the file).
. "$(dirname "$0")/lib.sh"
CR_MIB=64
cr_setup dump-costs
cr_node A
I=$CR_T/A/img
W=$CR_T/A/work
mkdir -p "$W"

t_run A
t_wl_write "A" A 16
t_wl_verify "A: before checkpoint" A
init=$(z A state "$CR_CID" | jq -r .pid)

# log_has NAME DUMPLOG REGEX / log_lacks NAME DUMPLOG REGEX
log_has() {
	if grep -qE -- "$3" "$2" 2>/dev/null; then t_ok "$1"; else
		t_fail "$1" "no line matching '$3' in $2" "$(grep -E 'Error|conntrack|cg: Reading' "$2" 2>/dev/null | head -20)"
	fi
}
log_lacks() {
	if ! grep -qE -- "$3" "$2" 2>/dev/null; then t_ok "$1"; else
		t_fail "$1" "$(grep -E -- "$3" "$2" | head -5)"
	fi
}

# ---- 0017: cgroups through the host's mounts ----
# The hierarchies of the container's init that the host has mounted whole
# (mountinfo root "/"): each must be read from its mount.
mounted_hierarchies() {
	local ctl
	while IFS=: read -r _ ctl _; do
		if [ -z "$ctl" ]; then
			awk '$4 == "/" && / - cgroup2 / {f = 1} END {exit !f}' /proc/self/mountinfo && echo cgroup2
		else
			awk -v c="$ctl" '$4 == "/" && / - cgroup / {
				n = split(c, want, ","); split($0, parts, " - "); split(parts[2], f, " ")
				ok = 1; for (i = 1; i <= n; i++) if (("," f[3] ",") !~ ("," want[i] ",")) ok = 0
				if (ok) found = 1 } END {exit !found}' /proc/self/mountinfo && echo "$ctl"
		fi
	done <"/proc/$init/cgroup"
}
hier=$(mounted_hierarchies)
t_ckpt "A: with the host's cgroup mounts" A "$I/c1" --leave-running --work-path "$W/c1" || { t_done; exit; }
if [ -z "$hier" ]; then
	t_skip "cgroups read through the host's mounts" "the host has no whole-hierarchy cgroup mount"
else
	missing=""
	for h in $hier; do
		grep -qF "cg: Reading $h from its mount at " "$W/c1/dump.log" || missing="$missing $h"
	done
	if [ -z "$missing" ]; then
		t_ok "cgroups read through the host's mounts ($(echo $hier | tr ' ' ','))"
	else
		t_fail "cgroups read through the host's mounts" "not read from a mount:$missing" \
			"$(grep 'cg: Reading' "$W/c1/dump.log")"
	fi
fi

# The same dump with the cgroup2 mount (and a v1 memory mount, if any)
# covered by a tmpfs in CRIU's own mount namespace: CRIU must notice that
# the path no longer leads to the mount and mount the hierarchy itself.
# The freezer, through which CRIU freezes the container, stays visible.
# every such mount is covered (another CRIU's cgroup yard left mounted on
# the host by a killed run is one too; a running CRIU's yard may vanish
# between the listing and the cover: it is skipped)
u2=$(awk '$4 == "/" && / - cgroup2 / {print $5}' /proc/self/mountinfo | tr '\n' ' ')
mem=$(awk '$4 == "/" && / - cgroup / && $0 ~ /[ ,]memory(,|$)/ {print $5}' /proc/self/mountinfo | tr '\n' ' ')
if [ -z "$u2" ] || ! awk '/ - cgroup / && $0 ~ /[ ,]freezer(,|$)/ {f = 1} END {exit !f}' /proc/self/mountinfo; then
	t_skip "cgroup.img the same when CRIU mounts the hierarchies itself" "needs a cgroup v1 freezer beside a cgroup2 mount (hybrid host)"
else
	cat >"$CR_T/criu-hidden-cg" <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c 'for m in \$ZS_HIDE_1 \$ZS_HIDE_2; do [ -d "\$m" ] || continue; mount -t tmpfs zs-hide "\$m" || [ ! -d "\$m" ] || exit 1; done; exec "\$0" "\$@"' "$CR_TOP/build/bin/criu" "\$@"
EOF
	chmod +x "$CR_T/criu-hidden-cg"
	if OUT=$(ZS_HIDE_1=$u2 ZS_HIDE_2=$mem z A --criu "$CR_T/criu-hidden-cg" checkpoint --image-path "$I/c1h" \
		--leave-running --work-path "$W/c1h" "$CR_CID" 2>&1 </dev/null); then
		t_ok "A: checkpoint with the cgroup2${mem:+ and memory} mounts covered"
		log_lacks "covered cgroup2 mount not used" "$W/c1h/dump.log" "cg: Reading cgroup2 from its mount"
		[ -n "$mem" ] && log_lacks "covered memory mount not used" "$W/c1h/dump.log" "cg: Reading memory from its mount"
		if cmp -s "$I/c1/cgroup.img" "$I/c1h/cgroup.img"; then
			t_ok "cgroup.img byte for byte the same either way ($(stat -c %s "$I/c1/cgroup.img") bytes)"
		else
			t_fail "cgroup.img byte for byte the same either way" "$(cmp "$I/c1/cgroup.img" "$I/c1h/cgroup.img" 2>&1)"
		fi
	else
		t_fail "A: checkpoint with the cgroup2${mem:+ and memory} mounts covered" "$OUT"
	fi
fi

# ---- 0018: freezer.state's permissions ----
fcg=$(awk -F: '$2 ~ /(^|,)freezer(,|$)/ {print $3}' "/proc/$init/cgroup")
fmnt=$(awk '$4 == "/" && / - cgroup / && $0 ~ /[ ,]freezer(,|$)/ {print $5; exit}' /proc/self/mountinfo)
if [ -z "$fcg" ] || [ -z "$fmnt" ]; then
	t_skip "freezer.state's permissions in cgroup.img" "no cgroup v1 freezer mounted"
else
	want=$(stat -c '%f %u %g' "$fmnt$fcg/freezer.state")
	want="$((16#${want%% *})) ${want#* }"
	got=$( (. "$CR_TOP/tests/criu/lib.sh" && zs_crit decode -i "$I/c1/cgroup.img") | jq -r '
		[.entries[0].controllers[].dirs[] | recurse(.children[]?) | .properties[]? |
		 select(.name == "freezer.state") | "\(.perms.mode) \(.perms.uid) \(.perms.gid)"] | .[]')
	if [ -n "$got" ] && [ "$(sort -u <<<"$got")" = "$want" ]; then
		t_ok "freezer.state's permissions in cgroup.img are the file's ($want)"
	else
		t_fail "freezer.state's permissions in cgroup.img are the file's" "image: ${got:-no freezer.state}" "file: $want"
	fi
fi

# ---- 0016: conntrack ----
log_has "no conntrack entries: the table is not walked" "$W/c1/dump.log" \
	"net: No conntrack entries in this netns: conntrack and expectation tables not walked"
if ls "$I/c1"/netns-ct-*.img >/dev/null 2>&1; then
	t_fail "no conntrack entries: no netns-ct image" "$(ls -l "$I/c1"/netns-ct-*.img)"
else
	t_ok "no conntrack entries: no netns-ct image"
fi

ct_args=(-p tcp -s 10.9.8.7 -d 10.9.8.6 --sport 4000 --dport 5000)
if ! command -v conntrack >/dev/null; then
	t_skip "a conntrack entry is dumped and restored" "conntrack (the tool) is not installed"
elif ! OUT=$(nsenter -t "$init" -n conntrack -I "${ct_args[@]}" --state ESTABLISHED -t 3600 -u ASSURED 2>&1); then
	t_fail "conntrack entry inserted in the container's netns" "$OUT"
else
	t_ok "conntrack entry inserted in the container's netns"
	t_wl_write "A" A 16
	t_wl_verify "A: before the second checkpoint" A
	D=$WL_DIGEST
	t_ckpt "A: with a conntrack entry" A "$I/c2" --work-path "$W/c2" || { t_done; exit; }
	cr_gone A || t_fail "container gone after checkpoint" "$(cr_status A)"
	log_lacks "conntrack entry: the table is walked" "$W/c2/dump.log" "No conntrack entries in this netns"
	log_has "conntrack entry: counted" "$W/c2/dump.log" "net: nf_conntrack_count of this netns: 1$"
	ct_img=$(ls "$I/c2"/netns-ct-*.img 2>/dev/null | head -n1)
	# the entry's source address, 10.9.8.7, as the netlink attribute holds it
	if [ -n "$ct_img" ] && od -An -tx1 -v "$ct_img" | tr -d ' \n' | grep -q 0a090807; then
		t_ok "conntrack entry in $(basename "$ct_img")"
	else
		t_fail "conntrack entry in a netns-ct image" "$(ls -l "$I/c2")"
	fi
	# --manage-cgroups-mode full: restore sets freezer.state's value and
	# permissions from cgroup.img (stock CRIU: the heap bytes, e.g. mode
	# 2220, uid 21962)
	if t_rest "A" A "$I/c2" --manage-cgroups-mode full; then
		t_wl_verify "A: restored" A "$D"
		init2=$(z A state "$CR_CID" | jq -r .pid)
		if [ -n "$fcg" ] && [ -n "$fmnt" ]; then
			fcg2=$(awk -F: '$2 ~ /(^|,)freezer(,|$)/ {print $3}' "/proc/$init2/cgroup")
			got=$(stat -c '%f %u %g' "$fmnt$fcg2/freezer.state")
			got="$((16#${got%% *})) ${got#* }"
			if [ "$got" = "$want" ]; then
				t_ok "restored freezer.state keeps its permissions ($got)"
			else
				t_fail "restored freezer.state keeps its permissions" "now: $got" "before: $want"
			fi
		fi
		if OUT=$(nsenter -t "$init2" -n conntrack -L "${ct_args[@]}" 2>&1) && grep -q "src=10.9.8.7 dst=10.9.8.6 sport=4000 dport=5000" <<<"$OUT"; then
			t_ok "conntrack entry restored in the new netns"
		else
			t_fail "conntrack entry restored in the new netns" "$OUT"
		fi
	fi
fi
cr_delete A
t_done
