#!/usr/bin/env bats
# seccomp via libseccomp: errno, kill, argument filters, default action.

load helpers

setup() {
	setup_bundle
	update_config '.root.readonly = false'
}
teardown() { teardown_bundle; }

@test "SCMP_ACT_ERRNO on mkdir/mkdirat with errnoRet" {
	update_config '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
		syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1}]}
		| .process.args = ["sh", "-c", "mkdir /tmp/d 2>&1; touch /tmp/f && echo touch-ok"]'
	IDS+=(s1)
	run rt run s1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"Operation not permitted"* ]]
	[ "${lines[1]}" = touch-ok ]
}

@test "SCMP_ACT_KILL kills the process (SIGSYS)" {
	update_config '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
		syscalls: [{names: ["getcwd"], action: "SCMP_ACT_KILL"}]}
		| .process.args = ["/bin/pwd"]'
	IDS+=(s2)
	run rt run s2
	echo "status $status"
	[ "$status" -eq $((128 + 31)) ]
}

@test "argument filter: fchmodat denied only for mode 0777" {
	update_config '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
		syscalls: [{names: ["fchmodat"], action: "SCMP_ACT_ERRNO", errnoRet: 13,
			args: [{index: 2, value: 511, op: "SCMP_CMP_EQ"}]},
			{names: ["chmod"], action: "SCMP_ACT_ERRNO", errnoRet: 13,
			args: [{index: 1, value: 511, op: "SCMP_CMP_EQ"}]}]}
		| .process.args = ["sh", "-c", "touch /tmp/f; chmod 755 /tmp/f && echo 755-ok; chmod 777 /tmp/f 2>&1; stat -c %a /tmp/f"]'
	IDS+=(s3)
	run rt run s3
	echo "$output"
	[ "${lines[0]}" = 755-ok ]
	[[ "${lines[1]}" == *"Permission denied"* ]]
	[ "${lines[2]}" = 755 ]
}

@test "default action ERRNO with an allow list" {
	# What sh, echo and the runtime's last steps need is allowed; mkdir falls
	# to the default (ENOSYS), rmdir has its own rule (EPERM).
	update_config '.linux.seccomp = {defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38,
		syscalls: [{names: ["rmdir"], action: "SCMP_ACT_ERRNO", errnoRet: 1},
			{names: ["read", "write", "exit", "exit_group", "execve", "brk", "mmap", "munmap", "mprotect",
				"arch_prctl", "set_tid_address", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "getpid",
				"getppid", "getuid", "geteuid", "getgid", "getegid", "prctl", "fstat", "newfstatat", "stat",
				"close", "ioctl", "fcntl", "dup2", "dup3", "openat", "open", "lseek", "getcwd", "set_robust_list",
				"rseq", "prlimit64", "futex", "sigaltstack", "capget", "capset", "setgroups", "setuid", "setgid",
				"setresuid", "setresgid", "poll", "ppoll", "clone", "clone3", "wait4", "fork", "vfork", "getrandom",
				"readlink", "readlinkat", "statx", "access", "faccessat", "faccessat2", "pread64", "chdir",
				"fchdir", "epoll_pwait", "epoll_ctl", "epoll_create1", "sched_getaffinity", "sched_yield",
				"select", "pselect6", "getdents64", "kill", "tgkill", "gettid", "umask", "setsid", "nanosleep",
				"clock_nanosleep", "sysinfo", "uname_dummy", "mremap", "madvise", "pipe", "pipe2", "fstatfs", "statfs", "close_range", "openat2", "getdents", "sched_setaffinity", "setns", "seccomp", "keyctl", "socket", "connect", "sendto", "sendmsg", "recvfrom", "recvmsg"],
			action: "SCMP_ACT_ALLOW"}]}
		| .process.args = ["sh", "-c", "echo allowed; mkdir /tmp/d 2>&1; rmdir /tmp 2>&1"]'
	IDS+=(s4)
	run rt run s4
	echo "$output"
	[ "${lines[0]}" = allowed ]
	[[ "${lines[1]}" == *"Function not implemented"* ]]
	[[ "${lines[2]}" == *"Operation not permitted"* ]]
}
