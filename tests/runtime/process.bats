#!/usr/bin/env bats
# Process attributes from config.json: capabilities (all five sets),
# noNewPrivileges, sysctl, oomScoreAdj, hostname/domainname, personality.

load helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

capline() { grep "^$1:" <<<"$output" | awk '{print $2}'; }

@test "capabilities: each of the five sets as configured" {
	# KILL=5, NET_BIND_SERVICE=10, AUDIT_WRITE=29, CHOWN=0, SYS_ADMIN=21
	update_config '.process.noNewPrivileges = false | .process.capabilities = {
		bounding: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_SYS_ADMIN"],
		permitted: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
		effective: ["CAP_KILL", "CAP_CHOWN"],
		inheritable: ["CAP_NET_BIND_SERVICE"],
		ambient: ["CAP_NET_BIND_SERVICE"]}
		| .process.args = ["cat", "/proc/self/status"]'
	IDS+=(c1)
	run rt run c1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(capline CapBnd)" = 0000000020200421 ]
	[ "$(capline CapInh)" = 0000000000000400 ]
	[ "$(capline CapAmb)" = 0000000000000400 ]
	# uid 0 without file capabilities: execve makes permitted = bounding.
	[ "$(capline CapPrm)" = 0000000020200421 ]
	# As a non-root user only the ambient set survives execve.
	update_config '.process.user = {uid: 1000, gid: 1000}'
	IDS+=(c1b)
	run rt run c1b
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(capline CapBnd)" = 0000000020200421 ]
	[ "$(capline CapAmb)" = 0000000000000400 ]
	[ "$(capline CapPrm)" = 0000000000000400 ]
	[ "$(capline CapEff)" = 0000000000000400 ]
}

@test "capabilities: a dropped capability is really gone" {
	update_config '.root.readonly = false | .process.args = ["sh", "-c", "chown 1:1 /tmp && echo CHOWNED; touch /t; chown 1:1 /t 2>&1"]'
	IDS+=(c2)
	run rt run c2
	echo "$output"
	[[ "$output" != *CHOWNED* ]]
	[[ "$output" == *"Operation not permitted"* ]]
}

@test "noNewPrivileges" {
	update_config '.process.noNewPrivileges = true | .process.args = ["grep", "NoNewPrivs", "/proc/self/status"]'
	IDS+=(n1)
	run rt run n1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"1"* ]]
	update_config '.process.noNewPrivileges = false'
	IDS+=(n2)
	run rt run n2
	echo "$output"
	[[ "$output" == *"0"* ]]
}

@test "sysctl in the container's namespaces" {
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345678"}
		| .process.args = ["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax"]'
	IDS+=(sy)
	run rt run sy
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = 12345678 ]
	# The host is untouched.
	[ "$(cat /proc/sys/kernel/shmmax)" != 12345678 ]
}

@test "oomScoreAdj and hostname" {
	update_config '.process.oomScoreAdj = 123 | .hostname = "zt-h"
		| .process.args = ["sh", "-c", "cat /proc/self/oom_score_adj; hostname"]'
	IDS+=(o1)
	run rt run o1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "123
zt-h" ]
}

# Both are OCI runtime spec 1.1/1.2 fields that runc 1.1 does not implement.
skip_if_runc11() {
	[ "$(basename "$RUNTIME")" = runc ] && "$RUNTIME" --version | grep -q 'version 1\.1\.' &&
		skip "runc 1.1 does not implement $1"
	return 0
}

@test "domainname" {
	skip_if_runc11 domainname
	update_config '.domainname = "zt-d" | .process.args = ["cat", "/proc/sys/kernel/domainname"]'
	IDS+=(o2)
	run rt run o2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = zt-d ]
}

@test "personality LINUX32" {
	skip_if_runc11 linux.personality
	update_config '.linux.personality = {domain: "LINUX32"} | .process.args = ["uname", "-m"]'
	IDS+=(p1)
	run rt run p1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = i686 ]
}
