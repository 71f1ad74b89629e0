#!/usr/bin/env bats
# Issue 18 item 7: files the runtime writes into directories someone else
# may write to (--pid-file, descriptors.json in a user's --image-path) must
# never be written through a symlink planted there. The attacker owns the
# directory and plants symlinks to a root-only file ($VICTIM) at the target
# name and at every name the runtime could pick for its temporary file: the
# old "<path>.tmp.<pid>" for every pid up to pid_max (32768 here), and runc's
# ".<base>". Root must leave $VICTIM alone, the file must end up a regular
# file holding the right content, and no temporary file may be left.
#
# runc 1.1.5 (/usr/sbin/runc): writes ".<base>" with O_CREAT|O_EXCL and
# renames it; a symlink at the target is replaced (same as here), a symlink
# planted at ".<base>" makes `runc run --pid-file` fail with "file exists"
# (it refuses; the container is left behind). zanshin's temporary name is
# unpredictable, so a planted name neither redirects nor blocks it.

load ../runtime/helpers

setup() {
	setup_bundle
	VICTIM=$ROOT/victim
	echo "root-only content" >"$VICTIM"
	chmod 0600 "$VICTIM"
	SUM=$(sha256sum <"$VICTIM")
	DROP=$ROOT/drop # the directory the attacker can write
	mkdir -p "$DROP"
	# a tmpfs (as /tmp and /run often are): 32768 symlinks on the loaded
	# ext4 here take half a minute, on tmpfs a second
	mount -t tmpfs -o mode=1777,size=64m zs-drop "$DROP"
}
teardown() {
	teardown_bundle
	[ -z "${BG:-}" ] || kill $BG 2>/dev/null || true
}

# plant NAME: symlinks to $VICTIM at $DROP/NAME, $DROP/.NAME and
# $DROP/NAME.tmp.1 .. NAME.tmp.<pid_max>.
plant() {
	python3 - "$DROP" "$1" "$VICTIM" <<'EOF'
import os, sys
d, name, victim = sys.argv[1:]
pid_max = int(open("/proc/sys/kernel/pid_max").read())
for n in ["%s.tmp.%d" % (name, p) for p in range(1, pid_max + 1)] + [name, "." + name]:
    os.symlink(victim, os.path.join(d, n))
EOF
}

# detached ARGS...: the runtime with its output in $ROOT/out (bats `run`
# would wait for a detached container's hold on its pipe).
detached() {
	local rc=0
	rt "$@" >"$ROOT/out" 2>&1 </dev/null || rc=$?
	cat "$ROOT/out"
	return $rc
}

# planted ARGS...: a runtime command made with the symlinks planted. runc
# refuses ("file exists", its ".NAME" is taken): pass when it did and the
# victim is intact, and skip the rest of the test. zanshin must succeed.
planted() {
	if [[ "$RUNTIME" == */runc ]]; then
		! detached "$@"
		grep -q "file exists" "$ROOT/out"
		[ "$(sha256sum <"$VICTIM")" = "$SUM" ]
		skip "runc refused (file exists), the victim is intact"
	fi
	detached "$@"
}

# the victim is untouched; NAME in $DROP is a regular file; nothing else new
assert_not_written_through() {
	local name=$1 left
	[ "$(sha256sum <"$VICTIM")" = "$SUM" ] || { echo "$VICTIM was written: $(cat "$VICTIM")" >&2; return 1; }
	[ -f "$DROP/$name" ] && [ ! -L "$DROP/$name" ] || { echo "$DROP/$name is not a regular file" >&2; return 1; }
	left=$(find "$DROP" -mindepth 1 -maxdepth 1 ! -type l ! -name "$name" | head -3)
	[ -z "$left" ] || { echo "temporary files left: $left" >&2; return 1; }
}

@test "run --pid-file: planted symlinks at the pid file and every temp name are not followed" {
	plant c.pid
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(pf1)
	planted run -d --pid-file "$DROP/c.pid" pf1
	assert_not_written_through c.pid
	[ "$(cat "$DROP/c.pid")" = "$(state_field pf1 pid)" ]
}

@test "create --pid-file with a relative path: planted symlinks are not followed" {
	plant r.pid
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(pf2)
	cd "$DROP"
	planted create --bundle "$BUNDLE" --pid-file r.pid pf2
	assert_not_written_through r.pid
	[ "$(cat "$DROP/r.pid")" = "$(state_field pf2 pid)" ]
}

@test "exec --pid-file: planted symlinks at the pid file and every temp name are not followed" {
	update_config '.process.args = ["sleep", "1000"]'
	run_bg pf3
	plant e.pid
	planted exec -d --pid-file "$DROP/e.pid" pf3 sleep 999
	assert_not_written_through e.pid
	# the pid is the exec'd process's, in the container
	grep -q '^sleep' "/proc/$(cat "$DROP/e.pid")/cmdline"
}

@test "the pid file is replaced atomically and keeps no temporary file on failure" {
	update_config '.process.args = ["sleep", "1000"]'
	echo old >"$DROP/c.pid"
	# a pid file in a directory that does not exist: a clear error
	IDS+=(pf4)
	! detached run -d --pid-file "$DROP/missing/c.pid" pf4
	grep -F "$DROP/missing" "$ROOT/out"
	rt delete -f pf4 >/dev/null 2>&1 || true
	IDS+=(pf5)
	detached run -d --pid-file "$DROP/c.pid" pf5
	[ "$(cat "$DROP/c.pid")" = "$(state_field pf5 pid)" ]
	[ "$(find "$DROP" -mindepth 1 | wc -l)" -eq 1 ]
}

# runc 1.1.5: `runc checkpoint --image-path` writes descriptors.json with
# os.WriteFile (O_CREAT|O_TRUNC): a symlink planted at descriptors.json
# in the image directory is followed and the victim is overwritten.
@test "checkpoint: descriptors.json is not written through planted symlinks in --image-path" {
	[[ "$RUNTIME" != */runc ]] || skip "runc 1.1.5 writes through the symlink (see the comment)"
	update_config '.process.args = ["sleep", "1000"] | .root.readonly = false'
	# stdio on pipes: CRIU cannot dump a container on the host's /dev/null
	exec {cin}< <(exec sleep 1000 >/dev/null 2>&1)
	BG="$!"
	exec {cout}> >(exec cat >/dev/null 2>&1)
	BG="$BG $!"
	IDS+=(pf6)
	rt run -d pf6 <&"$cin" >&"$cout" 2>&"$cout"
	exec {cin}<&- {cout}>&-
	plant descriptors.json
	run rt checkpoint --image-path "$DROP" pf6 </dev/null
	echo "$output"
	[ "$(sha256sum <"$VICTIM")" = "$SUM" ]
	# A runtime may refuse a world-writable image directory outright (issue
	# 18 item 8); if it checkpoints, descriptors.json is a regular file.
	[ "$status" -eq 0 ] || [[ "$output" == *"$DROP"* ]]
	if [ "$status" -eq 0 ]; then
		[ -f "$DROP/descriptors.json" ] && [ ! -L "$DROP/descriptors.json" ]
		jq -e 'length == 3' "$DROP/descriptors.json"
		[ -z "$(find "$DROP" -maxdepth 1 -name '.descriptors.json.*' ! -type l)" ]
	fi
}
