#!/usr/bin/env bats
# Issue 18 item 9: LSM settings must not fail open. A profile or label the
# operator asked for is applied where the host has the LSM, and refused
# (nothing started, nothing left behind) where it has not. This machine has
# neither AppArmor nor SELinux (no /sys/module/apparmor, no /sys/fs/selinux):
# the refusals are tested here, the "applied" paths only where the LSM is
# enabled (skipped with the reason otherwise).

load ../runtime/helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

is_runc() { [[ "$RUNTIME" == */runc ]]; }
apparmor_enabled() {
	[ -e /sys/kernel/security/apparmor ] && grep -q '^Y' /sys/module/apparmor/parameters/enabled 2>/dev/null
}
selinux_enabled() {
	[ "$(stat -f -c %t /sys/fs/selinux 2>/dev/null)" = f97cff8c ] && [ "$(cat /proc/self/attr/current 2>/dev/null)" != kernel ]
}

# the container was not created: no state, no cgroup, no mounts
not_created() {
	run rt state "$1"
	[ "$status" -ne 0 ]
	assert_no_trace "$1"
}

# runc 1.1.5: no check up front; the init fails writing the attribute:
# "apparmor failed to apply profile: write /proc/self/attr/exec: invalid
# argument" (a refusal too, with a less clear message).
@test "process.apparmorProfile without AppArmor on the host: refused, with the reason" {
	apparmor_enabled && skip "AppArmor is enabled on this host"
	update_config '.process.apparmorProfile = "zanshin-test-profile" | .process.args = ["true"]'
	IDS+=(aa1)
	run rt run aa1
	echo "$output"
	[ "$status" -ne 0 ]
	if is_runc; then
		[[ "$output" == *"apparmor failed to apply profile"* ]]
	else
		[[ "$output" == *"process.apparmorProfile"*"zanshin-test-profile"*"AppArmor is not enabled"* ]]
	fi
	not_created aa1
}

# runc 1.1.5: "selinux label is specified in config, but selinux is
# disabled or not supported" (its config validator).
@test "process.selinuxLabel without SELinux on the host: refused, with the reason" {
	selinux_enabled && skip "SELinux is enabled on this host"
	update_config '.process.selinuxLabel = "system_u:system_r:container_t:s0:c1,c2" | .process.args = ["true"]'
	IDS+=(se1)
	run rt run se1
	echo "$output"
	[ "$status" -ne 0 ]
	if is_runc; then
		[[ "$output" == *"selinux label is specified in config, but selinux is disabled or not supported"* ]]
	else
		[[ "$output" == *"process.selinuxLabel"*"container_t"*"SELinux is disabled or not supported"* ]]
	fi
	not_created se1
}

# runc 1.1.5: the same refusals for `runc exec --apparmor` (at the write)
# and `--process-label` (validator).
@test "exec --apparmor, --process-label and a process.json label are refused without the LSM" {
	apparmor_enabled && skip "AppArmor is enabled on this host"
	selinux_enabled && skip "SELinux is enabled on this host"
	update_config '.process.args = ["sleep", "1000"]'
	run_bg ex1
	run rt exec --apparmor zanshin-test-profile ex1 true
	echo "$output"
	[ "$status" -ne 0 ]
	is_runc || [[ "$output" == *"AppArmor is not enabled"* ]]
	run rt exec --process-label "system_u:system_r:container_t:s0" ex1 true
	echo "$output"
	[ "$status" -ne 0 ]
	is_runc || [[ "$output" == *"SELinux is disabled or not supported"* ]]
	jq '.process | .args = ["true"] | .selinuxLabel = "system_u:system_r:container_t:s0"' config.json >"$ROOT/p.json"
	run rt exec --process "$ROOT/p.json" ex1
	echo "$output"
	[ "$status" -ne 0 ]
	is_runc || [[ "$output" == *"selinuxLabel"*"SELinux is disabled or not supported"* ]]
	# no label asked for: exec works
	run rt exec ex1 true
	[ "$status" -eq 0 ]
}

# runc 1.1.5 adds context="..." to the mounts' options anyway, and the
# first one fails: 'mount tmpfs:/dev ... context=...: invalid argument'.
@test "linux.mountLabel without SELinux on the host: refused, with the reason" {
	selinux_enabled && skip "SELinux is enabled on this host"
	update_config '.linux.mountLabel = "system_u:object_r:container_file_t:s0" | .process.args = ["true"]'
	IDS+=(ml1)
	run rt run ml1
	echo "$output"
	[ "$status" -ne 0 ]
	if is_runc; then
		[[ "$output" == *"context="*"invalid argument"* ]]
	else
		[[ "$output" == *"linux.mountLabel"*"SELinux is disabled or not supported"* ]]
	fi
	not_created ml1
}

@test "an AppArmor profile is applied where AppArmor is enabled" {
	apparmor_enabled || skip "AppArmor is not enabled on this host (no /sys/kernel/security/apparmor)"
	update_config '.process.apparmorProfile = "unconfined" | .process.args = ["cat", "/proc/self/attr/current"]'
	IDS+=(aa2)
	run rt run aa2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *unconfined* ]]
}

@test "an SELinux label is applied where SELinux is enabled" {
	selinux_enabled || skip "SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)"
	label=$(cat /proc/self/attr/current)
	update_config --arg l "$label" '.process.selinuxLabel = $l | .process.args = ["cat", "/proc/self/attr/current"]'
	IDS+=(se2)
	run rt run se2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$label"* ]]
}
