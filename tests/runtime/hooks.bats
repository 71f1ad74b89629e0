#!/usr/bin/env bats
# OCI hooks: order, state on stdin, args/env, failure and timeout.

load helpers

setup() {
	setup_bundle
	LOG=$ROOT/hooks.log
	HOOK=$ROOT/hook.sh
	# Logs: NAME STATUS PID-IS-NUMBER ID ENV
	cat >"$HOOK" <<-EOF2
		#!/bin/sh
		st=\$(cat)
		echo "\$1 \$(echo "\$st" | jq -r '.status, (.pid | type), .id' | tr '\n' ' ')\$ZT_HOOK" >>"$LOG"
	EOF2
	chmod +x "$HOOK"
	update_config '.root.readonly = false | .process.args = ["sleep", "1000"]'
}
teardown() { teardown_bundle; }

hook() { # NAME -> JSON of one hook calling hook.sh NAME
	jq -nc --arg p "$HOOK" --arg n "$1" '{path: $p, args: [$p, $n], env: ["ZT_HOOK=env-\($n)"]}'
}

@test "hooks run in order, get the state on stdin, args and env" {
	update_config --argjson pre "$(hook prestart)" --argjson cr "$(hook createRuntime)" \
		--argjson cc "$(hook createContainer)" --argjson ps "$(hook poststart)" --argjson pst "$(hook poststop)" \
		'.hooks = {prestart: [$pre], createRuntime: [$cr], createContainer: [$cc],
			startContainer: [{path: "/bin/sh", args: ["sh", "-c", "echo startContainer-in-container > /started"]}],
			poststart: [$ps], poststop: [$pst]}'
	create_bg hk1
	cat "$LOG"
	# runc 1.1 already runs poststart during create (the spec says after
	# start), so only the first three are checked here.
	[ "$(head -3 "$LOG" | cut -d' ' -f1 | tr '\n' ' ')" = "prestart createRuntime createContainer " ]
	grep -qx "prestart creating number hk1 env-prestart" "$LOG"
	grep -qx "createRuntime creating number hk1 env-createRuntime" "$LOG"
	[ ! -e "$BUNDLE/rootfs/started" ]
	run rt start hk1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_file "$LOG" poststart
	grep -Eqx "poststart (created|running) number hk1 env-poststart" "$LOG"
	[ "$(cat "$BUNDLE/rootfs/started")" = startContainer-in-container ]
	run rt delete --force hk1
	echo "$output"
	[ "$status" -eq 0 ]
	wait_file "$LOG" poststop
	[ "$(cut -d' ' -f1 "$LOG" | tr '\n' ' ')" = "prestart createRuntime createContainer poststart poststop " ]
	grep -q "^poststop stopped .* hk1 env-poststop$" "$LOG"
}

@test "a failing createRuntime hook fails create and leaves no trace" {
	update_config '.hooks = {createRuntime: [{path: "/bin/false"}]}'
	IDS+=(hk2)
	run rt create hk2
	echo "$output"
	[ "$status" -ne 0 ]
	run rt state hk2
	echo "$output"
	[ "$status" -ne 0 ]
	assert_no_trace hk2
}

@test "a hook that exceeds its timeout fails create quickly" {
	update_config '.hooks = {prestart: [{path: "/bin/sleep", args: ["sleep", "30"], timeout: 1}]}'
	IDS+=(hk3)
	t0=$SECONDS
	run rt create hk3
	echo "$output"
	echo "took $((SECONDS - t0))s: $output"
	[ "$status" -ne 0 ]
	[ $((SECONDS - t0)) -lt 10 ]
	assert_no_trace hk3
}
