#!/usr/bin/env bats
# Issue 18, item 1 (CVE-2016-9962 class), written as the attack: a process
# in the container goes after the runtime's processes that enter it (the
# `exec` child, the created-but-not-started init) while they still hold
# host resources, and the host checks what they hold.  The container runs
# with noNewPrivileges and a seccomp profile that denies mkdir, as in the
# issue; its capabilities are runc's default three, no CAP_SYS_PTRACE.
# The attacker is exec-attack.c (built static into the rootfs).  A seize
# that lands inside execve (reported as an exec event) is after the point
# of no return and is not counted: runc allows it too.
#
# What runc 1.1.5 (Debian's /usr/sbin/runc) does, for each test below:
#  - its nsexec makes `runc init` non-dumpable (PR_SET_DUMPABLE 0) before it
#    joins existing namespaces, i.e. for `exec`; it stays so until execve
#    (the issue: runc refused 3013 of 3014 seize attempts, the one that
#    worked was inside execve).  Only when it joins: the init of `create`
#    stays dumpable, and runc 1.1.5 fails the third test below — from a
#    process exec'd into the container we read its fds (the exec fifo, an
#    epoll fd, a pipe), its environment and its exe; zanshin goes further;
#  - --log goes to a pipe (_LIBCONTAINER_LOGPIPE), the parent writes the
#    file: no process in the container ever holds the log file;
#  - fds >= 3 + --preserve-fds get CLOEXEC (CloseExecFrom) before execve;
#  - with noNewPrivileges the seccomp filter is loaded right before execve
#    for exec (setns_init_linux.go) and, for the init, before the wait for
#    `start` (standard_init_linux.go): the created init is filtered.
# RUNTIME=/usr/sbin/runc tests/security/run.sh exec-ptrace.bats runs it
# against runc: all pass but the third, which fails as said.  zanshin before
# the fix (3ee7590) failed all four: in 100 execs the watcher seized the
# exec'd process 172 times while it was still the runtime and appended to
# the host log 182 times; the log fd was open at execve; the created init
# was unfiltered and seizable; exec into a created user-namespaced
# container ran in the host's mount namespace.

load ../runtime/helpers

ATTACK_SRC=$BATS_TEST_DIRNAME/exec-attack.c
EXECS=${EXEC_PTRACE_EXECS:-100}

setup_file() {
	export ATTACK_BIN=$BATS_FILE_TMPDIR/exec-attack
	cc -static -O2 -Wall -o "$ATTACK_BIN" "$ATTACK_SRC"
}

setup() {
	setup_bundle
	# a name found only in the log file's path: the attacker looks for it
	MARK=zs-hostlog-$RANDOM$RANDOM
	LOG=$ROOT/$MARK.log
	mkdir -p "$ROOT/attack"
	cp "$ATTACK_BIN" "$BUNDLE/rootfs/bin/exec-attack"
	update_config --arg a "$ROOT/attack" '
		.mounts += [{destination: "/attack", type: "bind", source: $a, options: ["rbind", "rw"]}]
		| .process.noNewPrivileges = true
		| .linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"],
			syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1}]}'
}
teardown() { teardown_bundle; }

# the runtime with our state root and the host log file
rtl() { "$RUNTIME" --root "$STATE" --log "$LOG" "$@"; }

# counter NAME FILE
counter() { sed -n "s/^$1=//p" "$2"; }

@test "exec: a watcher in the container cannot seize the exec'd process or open its exe and fds ($EXECS execs)" {
	update_config --arg m "$MARK" '.process.args = ["/bin/exec-attack", "watch", "/attack", $m]'
	IDS+=(w)
	rtl run -d w </dev/null >/dev/null 2>"$ROOT/w.err" || { cat "$ROOT/w.err"; false; }
	run rtl exec w mkdir /tmp/denied
	[ "$status" -ne 0 ] # the profile is in force for exec'd processes
	fails=0
	for ((i = 0; i < EXECS; i++)); do
		rtl exec w true </dev/null || fails=$((fails + 1))
	done
	touch "$ROOT/attack/stop"
	wait_file "$ROOT/attack/result" seized_runtime=
	cat "$ROOT/attack/result"
	[ "$fails" -eq 0 ]
	# the attack reached the exec'd process while it was the runtime...
	[ "$(counter runtime_seen "$ROOT/attack/result")" -gt 0 ]
	# ...and got nothing from it
	[ "$(counter seized_runtime "$ROOT/attack/result")" -eq 0 ]
	[ "$(counter exe_read "$ROOT/attack/result")" -eq 0 ]
	[ "$(counter fd_read "$ROOT/attack/result")" -eq 0 ]
	[ "$(counter exe_opened "$ROOT/attack/result")" -eq 0 ]
	[ "$(counter log_fd_seen "$ROOT/attack/result")" -eq 0 ]
	[ "$(counter log_fd_opened "$ROOT/attack/result")" -eq 0 ]
	! grep -q ATTACK "$LOG"
}

@test "exec: at its execve the exec'd process holds no host log fd, no unrequested fd, and is filtered" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(h)
	rtl run -d h </dev/null >/dev/null 2>"$ROOT/h.err" || { cat "$ROOT/h.err"; false; }
	# fd 7 inherited without CLOEXEC, not asked for: must not reach the container
	exec 7</etc/hostname
	run "$ATTACK_BIN" hostcheck "$MARK" 0 -- "$RUNTIME" --root "$STATE" --log "$LOG" exec h true
	echo "$output"
	[ "$(counter status <(echo "$output"))" -eq 0 ]
	[ "$(counter execs_checked <(echo "$output"))" -ge 1 ]
	[ "$(counter log_fd_at_execve <(echo "$output"))" -eq 0 ]
	[ "$(counter fds_leaked <(echo "$output"))" -eq 0 ]
	[ "$(counter unfiltered_at_execve <(echo "$output"))" -eq 0 ]
	# asked for with --preserve-fds: fd 7 reaches the container
	run rtl exec --preserve-fds 5 h readlink /proc/self/fd/7
	exec 7<&-
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = /etc/hostname ]
}

@test "create: the init waiting for start is filtered, holds no host log fd, and cannot be seized or opened from the container" {
	update_config '.process.args = ["sleep", "1000"]'
	IDS+=(c)
	rtl create --pid-file "$ROOT/c.pid" c </dev/null >/dev/null 2>"$ROOT/c.err" || { cat "$ROOT/c.err"; false; }
	pid=$(cat "$ROOT/c.pid")
	[ "$(state_field c status)" = created ]
	# seen from the host: the filter is loaded, no_new_privs set, no log fd
	grep -E '^(Seccomp|NoNewPrivs):' "/proc/$pid/status"
	grep -q '^Seccomp:[[:space:]]*2$' "/proc/$pid/status"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$pid/status"
	ls -l "/proc/$pid/fd/"
	! ls -l "/proc/$pid/fd/" | grep -F "$MARK"
	# only stdio and the exec fifo: no fd inherited from us (bats holds
	# several), no bind-mount source (runc 1.1.5 also holds its Go
	# runtime's epoll fd and pipe, so this line is for zanshin only)
	case $RUNTIME in
	*runc) ;;
	*) [ "$(ls "/proc/$pid/fd/" | wc -l)" -le 4 ] ;;
	esac
	# seen from a process exec'd into the container: pid 1 is out of reach
	run rtl exec c /bin/exec-attack target 1 "$MARK"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(counter runtime_seen <(echo "$output"))" -eq 1 ]
	[ "$(counter exe_read <(echo "$output"))" -eq 0 ]
	[ "$(counter exe_opened <(echo "$output"))" -eq 0 ]
	[ "$(counter fd_read <(echo "$output"))" -eq 0 ]
	[ "$(counter fd_refused <(echo "$output"))" -ge 3 ]
	[ "$(counter log_fd_opened <(echo "$output"))" -eq 0 ]
	[ "$(counter seize_refused <(echo "$output"))" -eq 1 ]
	[ "$(counter seized_runtime <(echo "$output"))" -eq 0 ]
	! grep -q ATTACK "$LOG"
	# and it still starts
	rtl start c
	wait_status c running
}

@test "user namespace: CAP_SYS_PTRACE inside does not reach the created init or an exec'd process; oomScoreAdj still applies" {
	# root in the container's user namespace with every capability there,
	# CAP_SYS_PTRACE included: the runtime's processes are non-dumpable and
	# their mm belongs to the host's user namespace, so that is not enough.
	# runc 1.1.5 passes this one: its init's switch to the mapped uid makes
	# the kernel reset it to non-dumpable (suid_dumpable), by accident.
	touch "$BUNDLE/rootfs/zs-rootfs-marker"
	chown -R 100000:100000 "$BUNDLE/rootfs" "$ROOT/attack"
	update_config '.linux.namespaces += [{type: "user"}]
		| .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .mounts |= map(select(.type != "cgroup"))
		| .process.capabilities |= with_entries(.value += ["CAP_SYS_PTRACE"])
		| .process.oomScoreAdj = 123
		| .process.args = ["sleep", "1000"]'
	IDS+=(u)
	rtl create --pid-file "$ROOT/u.pid" u </dev/null >/dev/null 2>"$ROOT/u.err" || { cat "$ROOT/u.err"; false; }
	[ "$(cat "/proc/$(cat "$ROOT/u.pid")/oom_score_adj")" = 123 ]
	# the exec'd process is in the container's root (it opens the created
	# init's namespaces before it joins the user namespace; before, a
	# refused open was taken for "same namespace" and it ran in the host's
	# mount namespace)
	rtl exec u test -e /zs-rootfs-marker
	run rtl exec u /bin/exec-attack target 1 "$MARK"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(counter exe_read <(echo "$output"))" -eq 0 ]
	[ "$(counter fd_read <(echo "$output"))" -eq 0 ]
	[ "$(counter seize_refused <(echo "$output"))" -eq 1 ]
	[ "$(counter seized_runtime <(echo "$output"))" -eq 0 ]
	run rtl exec u sh -c 'grep CapEff /proc/self/status; cat /proc/self/oom_score_adj'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = 123 ]
	rtl start u
	wait_status u running
}
