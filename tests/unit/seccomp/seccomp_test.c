/* Tests of lib/seccomp.c: each profile is parsed, compiled and loaded in a
 * forked child, which then checks real syscalls and reports through its exit
 * status.  Prints TAP. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zanshin/json.h"
#include "zanshin/seccomp.h"
#include "zanshin/utils.h"

static int n_tests, n_failed;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	n_tests++;
	if (!ok)
		n_failed++;
	printf("%sok %d - ", ok ? "" : "not ", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int parse(const char *json, struct zs_seccomp **s, zs_error_t *err)
{
	cleanup_json zs_json *j = NULL;

	if (zs_json_parse_buf(json, "config.json", &j, err) < 0)
		return -1;
	return zs_seccomp_parse(j, "config.json", "linux.seccomp", s, err);
}

/* Syscall result as -errno (raw syscall: libc must not hide the errno). */
static long raw(long nr, long a, long b, long c)
{
	long r = syscall(nr, a, b, c);
	return r < 0 ? -errno : r;
}

typedef int (*child_fn)(void);

/* Load the profile in a child and run FN there; returns the wait status. */
static int run_with(const char *json, child_fn fn)
{
	cleanup_seccomp struct zs_seccomp *s = NULL;
	cleanup_error zs_error_t err = NULL;
	int st = 0;
	pid_t p;

	if (parse(json, &s, &err) < 0) {
		printf("# parse: %s\n", zs_error_msg(err));
		return -1;
	}
	fflush(stdout);
	p = fork();
	if (p == 0) {
		cleanup_error zs_error_t e = NULL;
		if (zs_seccomp_load(s, &e) < 0) {
			fprintf(stderr, "# load: %s (%s)\n", zs_error_msg(e), strerror(zs_error_errno(e)));
			_exit(100);
		}
		_exit(fn());
	}
	waitpid(p, &st, 0);
	return st;
}

static bool exited0(int st)
{
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		printf("# child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static char tmpdir[64];

static int mkdir_errno100(void)
{
	cleanup_free char *d = xasprintf("%s/sub", tmpdir);
	int code = 0;

	if (raw(SYS_mkdir, (long) d, 0755, 0) != -100)
		code |= 1;
	if (raw(SYS_mkdirat, AT_FDCWD, (long) d, 0755) != -100)
		code |= 2;
	if (raw(SYS_getpid, 0, 0, 0) != getpid() || write(1, "", 0) != 0)
		code |= 4;
	if (access(d, F_OK) == 0)
		code |= 8;
	return code;
}

static int mkdir_kill(void)
{
	cleanup_free char *d = xasprintf("%s/killed", tmpdir);

	raw(SYS_mkdir, (long) d, 0755, 0);
	return 0; /* not reached: SIGSYS */
}

static int default_errno_enxio(void)
{
	/* only exit/exit_group/write are allowed */
	if (raw(SYS_chdir, (long) "/", 0, 0) != -ENXIO)
		syscall(SYS_exit_group, 1);
	if (raw(SYS_getppid, 0, 0, 0) != -ENXIO)
		syscall(SYS_exit_group, 2);
	syscall(SYS_exit_group, 0);
	return 3;
}

static int enosys_stub(void)
{
	if (raw(1000, 0xdead, 0xbeef, 0) != -ENOSYS) /* beyond every syscall named: ENOSYS */
		syscall(SYS_exit_group, 1);
	if (raw(SYS_chdir, (long) "/", 0, 0) != -EPERM) /* known, not allowed: default action */
		syscall(SYS_exit_group, 2);
	syscall(SYS_exit_group, 0);
	return 3;
}

static int args_rules(void)
{
	int code = 0;

	/* kill(pid, 0) denied (arg1 == 0); kill(pid, SIGCONT) allowed */
	if (raw(SYS_kill, getpid(), 0, 0) != -EPERM)
		code |= 1;
	if (raw(SYS_kill, getpid(), SIGCONT, 0) != 0)
		code |= 2;
	/* dup3: two conditions on the same argument are OR-ed (fd 0 or 2 denied) */
	if (raw(SYS_dup3, 0, 100, 0) != -EPERM || raw(SYS_dup3, 2, 100, 0) != -EPERM)
		code |= 4;
	if (raw(SYS_dup3, 1, 100, 0) != 100)
		code |= 8;
	/* socket: masked equality on the protocol argument */
	if (raw(SYS_socket, AF_UNIX, SOCK_STREAM, 0x100) != -EPERM)
		code |= 16;
	return code;
}

static int flags_ok(void)
{
	return raw(SYS_getcwd, 0, 0, 0) == -EPERM ? 0 : 1;
}

static void test_loads(void)
{
	int st;

	st = run_with(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
	    "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\",\"no_such_syscall\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"errnoRet\":100}]}",
	    mkdir_errno100);
	check(exited0(st),
	      "SCMP_ACT_ERRNO with errnoRet 100: mkdir fails with ENETDOWN, others work, unknown name skipped");
	st = run_with("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
		      "\"action\":\"SCMP_ACT_KILL\"}]}",
		      mkdir_kill);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "SCMP_ACT_KILL: mkdir kills with SIGSYS");
	st = run_with("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":6,\"syscalls\":[{\"names\":[\"exit\","
		      "\"exit_group\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
		      default_errno_enxio);
	check(exited0(st), "defaultErrnoRet=ENXIO applies to every syscall not allowed");
	st = run_with("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"exit\",\"exit_group\","
		      "\"write\",\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
		      enosys_stub);
	check(exited0(st), "syscalls newer than the profile get ENOSYS, known ones the default EPERM");
	st = run_with("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
		      "{\"names\":[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":1,\"value\":0,"
		      "\"op\":\"SCMP_CMP_EQ\"}]},"
		      "{\"names\":[\"dup3\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":0,"
		      "\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]},"
		      "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":2,\"value\":3840,"
		      "\"valueTwo\":256,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}",
		      args_rules);
	check(exited0(st), "argument conditions: EQ, OR on one argument, MASKED_EQ");
	st = run_with(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\","
	    "\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],\"syscalls\":[{\"names\":[\"getcwd\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\"}]}",
	    flags_ok);
	check(exited0(st), "flags TSYNC, LOG, SPEC_ALLOW accepted by the kernel");
}

static void expect_error(const char *json, const char *want, const char *name)
{
	cleanup_seccomp struct zs_seccomp *s = NULL;
	cleanup_error zs_error_t err = NULL;
	int r = parse(json, &s, &err);

	check(r < 0 && strstr(zs_error_msg(err), want) != NULL, "%s (%s)", name, zs_error_msg(err));
}

static void test_parse_errors(void)
{
	cleanup_seccomp struct zs_seccomp *s = NULL;
	cleanup_error zs_error_t err = NULL;
	cleanup_free void *prog = NULL;
	cleanup_free char *skipped = NULL;
	size_t len = 0;

	expect_error(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_NOPE\"}]}",
	    "linux.seccomp.syscalls[0].action", "unknown action names the field");
	expect_error("{\"syscalls\":[]}", "linux.seccomp.defaultAction", "missing defaultAction");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_VAX\"]}",
		     "unknown architecture", "unknown architecture refused");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_"
		     "NOTIFY\"}]}",
		     "not supported", "SCMP_ACT_NOTIFY refused clearly");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/agent.sock\"}", "not supported",
		     "listenerPath refused clearly");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":"
		     "\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":7,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
		     "syscalls[0].args[0].index", "argument index out of range");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_BOGUS\"]}",
		     "unsupported seccomp flag", "unknown flag refused");
	bool ok = parse("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\",\"fake_one\","
			"\"fake_two\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
			&s, &err) == 0 &&
		  zs_seccomp_compile(s, &prog, &len, &skipped, &err) == 0;

	check(ok && len > 6 && skipped && strcmp(skipped, "fake_one,fake_two") == 0,
	      "compile reports skipped unknown syscalls (%s)", skipped ? skipped : "none");
}

static size_t count_files(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	return n;
}

static void rm_dir_files(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
			unlink(p);
		}
	rmdir(dir);
}

static void test_cache(void)
{
	static const char *const prof[] = {
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_X86\"],\"syscalls\":[{"
	    "\"names\":[\"read\",\"write\",\"exit_group\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_X86\"],\"syscalls\":[{"
	    "\"names\":[\"read\",\"write\",\"exit\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
	};
	cleanup_free char *dir = xasprintf("%s/cache", tmpdir);
	cleanup_error zs_error_t err = NULL;
	void *plain = NULL, *first = NULL, *second = NULL, *other = NULL;
	size_t lp = 0, l1 = 0, l2 = 0, lo = 0;
	struct zs_seccomp *s = NULL, *s2 = NULL;
	bool ok;

	ok = parse(prof[0], &s, &err) == 0 && parse(prof[1], &s2, &err) == 0 &&
	     zs_seccomp_compile(s, &plain, &lp, NULL, &err) == 0 &&
	     zs_seccomp_compile_cached(s, dir, &first, &l1, NULL, &err) == 0 && count_files(dir) == 1 &&
	     zs_seccomp_compile_cached(s, dir, &second, &l2, NULL, &err) == 0 && count_files(dir) == 1;
	check(ok && l1 == lp && l2 == lp && memcmp(plain, first, lp * 8) == 0 && memcmp(plain, second, lp * 8) == 0,
	      "cache: a second compile reads back the same program");
	ok = zs_seccomp_compile_cached(s2, dir, &other, &lo, NULL, &err) == 0 && count_files(dir) == 2;
	check(ok && (lo != lp || memcmp(other, plain, lp * 8) != 0), "cache: another profile gets its own entry");
	{
		/* a file under the right name whose stored profile differs is not used */
		cleanup_dir DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.') {
				cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
				cleanup_free char *buf = NULL;
				size_t n = 0;
				if (read_file(p, &buf, &n, &err) == 0 && n > 40) {
					buf[30] ^= 1;	 /* in the stored profile text */
					buf[n - 1] ^= 1; /* and in the program */
					write_file(p, buf, n, &err);
				}
			}
	}
	free(second);
	second = NULL;
	ok = zs_seccomp_compile_cached(s, dir, &second, &l2, NULL, &err) == 0;
	check(ok && l2 == lp && memcmp(second, plain, lp * 8) == 0,
	      "cache: an entry whose profile text differs is ignored");
	free(plain);
	free(first);
	free(second);
	free(other);
	zs_seccomp_free(s);
	zs_seccomp_free(s2);
	rm_dir_files(dir);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/zanshin-seccomp-%d", (int) getpid());
	if (mkdir(tmpdir, 0700) < 0) {
		printf("not ok 1 - mkdir %s: %s\n", tmpdir, strerror(errno));
		return 1;
	}
	test_loads();
	test_parse_errors();
	test_cache();
	rmdir(tmpdir);
	printf("1..%d\n", n_tests);
	return n_failed ? 1 : 0;
}
