#!/usr/bin/env bats
# The command line as containerd's runc shim and Podman use it: version,
# help, spec, features, JSON error log, the probes Podman makes.

load helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

@test "--version names the runtime and the spec version" {
	run "$RUNTIME" --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *version* ]]
	[[ "$output" == *spec:* ]]
}

@test "--help and per-verb --help exit 0" {
	run "$RUNTIME" --help
	[ "$status" -eq 0 ]
	for v in create start run state list kill delete exec ps pause resume update events spec checkpoint restore; do
		run "$RUNTIME" "$v" --help
		echo "$v: $status"
		[ "$status" -eq 0 ]
	done
}

@test "an unknown verb is an error" {
	run "$RUNTIME" zt-no-such-verb
	[ "$status" -ne 0 ]
}

@test "Podman's probe: restore --lsm-mount-context without a value" {
	run "$RUNTIME" restore --lsm-mount-context
	[ "$status" -ne 0 ]
	[[ "$output" == *"flag needs an argument"* ]]
}

@test "spec writes a config.json that runs" {
	mkdir "$ROOT/spec" && cd "$ROOT/spec"
	run "$RUNTIME" spec
	[ "$status" -eq 0 ]
	jq -e '.ociVersion and .process.args and .root.path == "rootfs" and (.linux.namespaces | length) > 0' config.json
	# A second spec must not overwrite it.
	run "$RUNTIME" spec
	[ "$status" -ne 0 ]
	mv "$ROOT/spec/config.json" "$BUNDLE/config.json"
	cd "$BUNDLE"
	update_config '.process.terminal = false | .process.args = ["echo", "spec-ok"]'
	IDS+=(sp)
	run rt run sp
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = spec-ok ]
}

@test "features: JSON with hooks, mount options, namespaces" {
	run "$RUNTIME" features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.ociVersionMin and .ociVersionMax and (.hooks | index("prestart")) != null
		and (.mountOptions | length) > 0 and (.linux.namespaces | index("pid")) != null'
}

@test "--log-format json: the error is the last level=error line (what containerd reads)" {
	run "$RUNTIME" --root "$STATE" --log "$ROOT/log.json" --log-format json kill zt-nonexistent KILL
	[ "$status" -ne 0 ]
	cat "$ROOT/log.json"
	grep '"level":"error"' "$ROOT/log.json" | tail -1 | jq -e '.msg | test("does not exist")'
	# Every line is JSON.
	jq -e . "$ROOT/log.json" >/dev/null
}

@test "--root is created when missing and list works on it" {
	run "$RUNTIME" --root "$ROOT/new/state" list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
