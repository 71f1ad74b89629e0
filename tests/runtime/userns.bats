#!/usr/bin/env bats
# User namespaces with uid/gid mappings, and joining namespaces by path.

load helpers

setup() {
	setup_bundle
	chown -R 100000:100000 "$BUNDLE/rootfs"
	update_config '.linux.namespaces += [{type: "user"}]
		| .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .mounts |= map(select(.type != "cgroup"))'
}
teardown() { teardown_bundle; }

@test "user namespace: root inside is uid 100000 outside" {
	update_config '.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map; echo done; sleep 1000"]'
	run_bg un1
	wait_file "$ROOT/un1.out" done
	cat "$ROOT/un1.out"
	[ "$(head -1 "$ROOT/un1.out")" = 0 ]
	[ "$(sed -n 2p "$ROOT/un1.out" | tr -s ' ' | sed 's/^ //')" = "0 100000 65536" ]
	pid=$(state_field un1 pid)
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = 100000 ]
	[ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ]
}

@test "exec joins the user namespace" {
	update_config '.process.args = ["sleep", "1000"]'
	run_bg un2
	run rt exec un2 sh -c 'id -u; cat /proc/self/uid_map'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[[ "${lines[1]}" == *100000* ]]
}

@test "joining another container's network and uts namespaces by path" {
	update_config '.process.args = ["sleep", "1000"] | .hostname = "first"'
	run_bg un3
	pid=$(state_field un3 pid)
	# A second bundle, no user namespace, joining un3's net and uts.
	B2=$ROOT/bundle2
	mkdir -p "$B2"
	cp -a "$(rootfs_dir busybox)" "$B2/rootfs"
	base_config "$CG-2" | jq --arg n "/proc/$pid/ns/net" --arg u "/proc/$pid/ns/uts" '
		.linux.namespaces |= map(if .type == "network" then .path = $n elif .type == "uts" then .path = $u else . end)
		| del(.hostname) | .process.args = ["sh", "-c", "hostname; readlink /proc/self/ns/net"]' >"$B2/config.json"
	IDS+=(un4)
	run rt run --bundle "$B2" un4
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = first ]
	[ "${lines[1]}" = "$(readlink "/proc/$pid/ns/net")" ]
}
