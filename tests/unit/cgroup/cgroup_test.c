/* Tests of lib/cgroup*.c against the real kernel (root, cgroup v1/hybrid or
 * v2).  Every cgroup is created under a test-specific name and removed at
 * the end; processes are children of this program.  Prints TAP. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zanshin/cgroup.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"
#include "../../../lib/cgroup_internal.h"

/* Counters in shared memory: the cgroup v2 tests run in a forked child. */
static int *counts;
#define n_tests counts[0]
#define n_failed counts[1]

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

static void skip(const char *name, const char *why)
{
	printf("ok %d - %s # skip %s\n", ++n_tests, name, why);
}

static void diag_err(zs_error_t e)
{
	if (e) {
		cleanup_free char *t = zs_error_text(e);
		printf("# error: %s\n", t);
	}
}

static char *slurp(const char *dir, const char *file)
{
	cleanup_error zs_error_t e = NULL;
	char *s = NULL;

	if (dir == NULL || cg_read(dir, file, &s, &e) < 0)
		return xstrdup("<unreadable>");
	return s;
}

static bool file_is(const char *dir, const char *file, const char *want)
{
	cleanup_free char *s = slurp(dir, file);
	bool ok = strcmp(s, want) == 0;

	if (!ok)
		printf("# %s/%s = `%s`, want `%s`\n", dir ? dir : "(null)", file, s, want);
	return ok;
}

static void msleep(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* A child that bumps a shared counter every millisecond. */
static volatile unsigned long *counter;

static pid_t spawn_counter(void)
{
	pid_t p = fork();

	if (p == 0) {
		for (;;) {
			(*counter)++;
			msleep(1);
		}
	}
	return p;
}

static unsigned long progress(long ms)
{
	unsigned long a = *counter;
	msleep(ms);
	return *counter - a;
}

static int parse_res(const char *json, struct zs_resources **r, zs_error_t *err)
{
	cleanup_json zs_json *j = NULL;

	if (zs_json_parse_buf(json, "config.json", &j, err) < 0)
		return -1;
	return zs_cgroup_resources_parse(j, "config.json", "linux.resources", r, err);
}

static const char *RES_JSON =
    "{\"memory\":{\"limit\":33554432,\"reservation\":16777216,\"swap\":67108864},"
    "\"cpu\":{\"shares\":512,\"quota\":20000,\"period\":100000,\"cpus\":\"0\",\"mems\":\"0\"},"
    "\"pids\":{\"limit\":17},"
    "\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
    "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"}]}";

static void test_parse(void)
{
	cleanup_resources struct zs_resources *r = NULL;
	cleanup_error zs_error_t err = NULL;
	int ret = parse_res(RES_JSON, &r, &err);

	diag_err(err);
	check(ret == 0 && r && r->memory_limit == 33554432 && r->memory_swap == 67108864 && r->cpu_shares == 512 &&
		  r->cpu_quota == 20000 && r->pids_limit == 17 && r->n_devices == 2 && !r->devices[0].allow &&
		  r->devices[0].type == 'a' && r->devices[1].major == 1 && strcmp(r->devices[1].access, "rw") == 0 &&
		  r->memory_swappiness == -1,
	      "parse linux.resources");
	zs_resources_free(steal_pointer(&r));
	ret = parse_res("{\"memory\":{\"limit\":\"big\"}}", &r, &err);
	check(ret < 0 && strstr(zs_error_msg(err), "linux.resources.memory.limit") != NULL,
	      "bad value: error names the field (%s)", zs_error_msg(err));
	zs_error_release(&err);
	ret = parse_res("{\"devices\":[{\"allow\":true,\"access\":\"x\"}]}", &r, &err);
	check(ret < 0 && strstr(zs_error_msg(err), "linux.resources.devices[0].access") != NULL,
	      "bad device access refused (%s)", zs_error_msg(err));
	zs_error_release(&err);
	ret = parse_res("{\"devices\":[{\"allow\":false,\"type\":\"c\",\"access\":\"mwra\"}]}", &r, &err);
	check(ret == 0 && r->n_devices == 1 && strcmp(r->devices[0].access, "rwm") == 0,
	      "device access keeps r/w/m in order and ignores other letters, as runc");
}

static char *own_cgroup_of(pid_t pid, const char *controller)
{
	char path[64], *line = NULL, *res = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
	f = fopen(path, "re");
	while (f && getline(&line, &cap, f) > 0 && res == NULL) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		line[strcspn(line, "\0")] = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (strcmp(c1 + 1, controller) == 0)
			res = xstrdup(c2 + 1);
	}
	free(line);
	if (f)
		fclose(f);
	return res ? res : xstrdup("?");
}

static bool pid_in(const struct zs_cgroup *cg, pid_t pid)
{
	cleanup_free pid_t *pids = NULL;
	cleanup_error zs_error_t e = NULL;
	size_t n = 0;

	if (zs_cgroup_pids(cg, true, &pids, &n, &e) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

static void test_limits(const struct zs_cgroup *cg, pid_t child)
{
	const char *mem = zs_cgroup_path(cg, "memory"), *cpu = zs_cgroup_path(cg, "cpu");
	const char *pids = zs_cgroup_path(cg, "pids");

	if (zs_cgroup_mode_of(cg) == ZS_CGROUP_UNIFIED) {
		check(file_is(mem, "memory.max", "33554432") && file_is(mem, "memory.low", "16777216") &&
			  file_is(mem, "memory.swap.max", "33554432"),
		      "v2 memory limits applied");
		check(file_is(cpu, "cpu.max", "20000 100000") && file_is(pids, "pids.max", "17"),
		      "v2 cpu/pids applied");
	} else {
		check(file_is(mem, "memory.limit_in_bytes", "33554432") &&
			  file_is(mem, "memory.soft_limit_in_bytes", "16777216") &&
			  file_is(mem, "memory.memsw.limit_in_bytes", "67108864"),
		      "v1 memory limit, reservation and memory+swap applied");
		check(file_is(cpu, "cpu.shares", "512") && file_is(cpu, "cpu.cfs_quota_us", "20000") &&
			  file_is(cpu, "cpu.cfs_period_us", "100000"),
		      "v1 cpu shares/quota/period applied");
		check(file_is(pids, "pids.max", "17") && file_is(zs_cgroup_path(cg, "cpuset"), "cpuset.cpus", "0"),
		      "v1 pids.max and cpuset.cpus applied");
		cleanup_free char *dl = slurp(zs_cgroup_path(cg, "devices"), "devices.list");
		check(strstr(dl, "c 1:3 rw") && !strstr(dl, "a *:*") && !strstr(dl, "c 1:5"),
		      "v1 devices: deny-all + allow c 1:3 rw (list: %s)", dl);
	}
	{
		cleanup_free char *own =
		    own_cgroup_of(child, zs_cgroup_mode_of(cg) == ZS_CGROUP_UNIFIED ? "" : "memory");
		check(mem && strstr(mem, own) && strlen(own) > 1, "child is in the memory cgroup (%s)", own);
	}
	if (zs_cgroup_mode_of(cg) == ZS_CGROUP_HYBRID) {
		cleanup_free char *own = own_cgroup_of(child, "");
		const char *u = zs_cgroup_path(cg, "");
		check(u && strstr(u, own) && strlen(own) > 1, "hybrid: child also in the cgroup2 hierarchy (%s)", own);
	}
	check(pid_in(cg, child) && !zs_cgroup_was_populated(cg), "pids lists the child; cgroup was empty before");
	{
		cleanup_error zs_error_t e = NULL;
		bool ok = zs_cgroup_count(cg) > 0;
		for (size_t i = 0; ok && i < zs_cgroup_count(cg); i++) {
			cleanup_free char *inner = NULL;
			const char *ctrl, *dir;
			ok = zs_cgroup_get(cg, i, &ctrl, &dir, &inner, &e) == 0 &&
			     str_has_prefix(inner, "/zanshin-test-") && strlen(dir) > strlen(inner) &&
			     strcmp(dir + strlen(dir) - strlen(inner), inner) == 0;
			if (!ok)
				printf("# %zu: %s %s\n", i, dir, inner ? inner : zs_error_msg(e));
		}
		check(ok, "every hierarchy reports its path inside the hierarchy (for CRIU's cgroup roots)");
	}
}

/* `exec --cgroup`: join an existing sub-cgroup, refuse escapes. */
static int enter_sub_child(const struct zs_cgroup *cg, const char *arg, char **msg)
{
	int pfd[2], st = 0;
	char buf[512] = "";
	ssize_t n;
	pid_t p;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	p = fork();
	if (p == 0) {
		cleanup_error zs_error_t e = NULL;
		char *args[] = {(char *) arg};
		close(pfd[0]);
		if (zs_cgroup_enter_sub(cg, getpid(), args, 1, &e) < 0) {
			dprintf(pfd[1], "%s", zs_error_msg(e));
			_exit(1);
		}
		cleanup_free char *mem = own_cgroup_of(getpid(), "memory");
		cleanup_free char *cpu = own_cgroup_of(getpid(), "cpu");
		dprintf(pfd[1], "memory=%s cpu=%s", mem, cpu);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	buf[n > 0 ? n : 0] = '\0';
	waitpid(p, &st, 0);
	*msg = xstrdup(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_enter_sub(const struct zs_cgroup *cg)
{
	const char *mem = zs_cgroup_path(cg, "memory");
	cleanup_free char *sub = xasprintf("%s/submem", mem), *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;

	if (zs_cgroup_mode_of(cg) == ZS_CGROUP_UNIFIED || mkdir(sub, 0755) < 0) {
		skip("exec --cgroup", "cgroup v1 only here (v2 is the same code with one hierarchy)");
		return;
	}
	int r1 = enter_sub_child(cg, "memory:submem", &m1), r2 = enter_sub_child(cg, "..", &m2);
	int r3 = enter_sub_child(cg, "cpu:nonexistent", &m3), r4 = enter_sub_child(cg, "whaaat:/", &m4);

	check(r1 == 0 && strstr(m1, "/ct/submem cpu=") && strstr(m1, "/ct") && !strstr(strstr(m1, "cpu="), "submem"),
	      "exec --cgroup memory:submem joins the memory sub-cgroup only (%s)", m1);
	check(r2 == 1 && strstr(m2, ".. is not a sub cgroup path"), "exec --cgroup .. refused (%s)", m2);
	check(r3 == 1 && strstr(m3, "adding pid ") && strstr(m3, "/nonexistent/cgroup.procs: no such file "),
	      "exec --cgroup of a missing sub-cgroup: runc's message (%s)", m3);
	check(r4 == 1 && strstr(m4, "unknown controller "), "exec --cgroup with an unknown controller (%s)", m4);
	rmdir(sub);
}

static void test_save_load(const struct zs_cgroup *cg)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_json zs_json *j = NULL;
	cleanup_cgroup struct zs_cgroup *cg2 = NULL;
	cleanup_error zs_error_t err = NULL;
	cleanup_free char *txt = NULL;
	bool same;

	zs_cgroup_save(cg, g);
	txt = zs_jgen_result(g, NULL);
	if (zs_json_parse_buf(txt, "state", &j, &err) < 0 || zs_cgroup_load(j, &cg2, &err) < 0) {
		diag_err(err);
		check(false, "save/load round trip");
		return;
	}
	same = zs_cgroup_mode_of(cg2) == zs_cgroup_mode_of(cg);
	for (const char *const *c = (const char *const[]){"memory", "cpu", "pids", "freezer", "", NULL}; *c; c++) {
		const char *a = zs_cgroup_path(cg, *c), *b = zs_cgroup_path(cg2, *c);
		same = same && ((a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0));
	}
	check(same, "save/load round trip keeps mode and paths");
	zs_json_free(steal_pointer(&j));
	zs_error_release(&err);
	check(zs_json_parse_buf("{\"format\":\"other\"}", "state", &j, &err) == 0 && zs_cgroup_load(j, &cg2, &err) < 0,
	      "load refuses a foreign format");
	zs_json_free(steal_pointer(&j));
	zs_error_release(&err);
	check(zs_json_parse_buf("{\"format\":\"zanshin-cgroup\",\"version\":1,\"mode\":\"v1\",\"paths\":{\"memory\":"
				"\"/sys/fs/cgroup/memory/../../../etc\"}}",
				"state", &j, &err) == 0 &&
		  zs_cgroup_load(j, &cg2, &err) < 0,
	      "load refuses a path that leaves the cgroup tree");
}

static void test_freeze(const struct zs_cgroup *cg)
{
	cleanup_error zs_error_t err = NULL;
	int r;

	check(progress(100) > 5, "child runs before pause");
	r = zs_cgroup_freeze(cg, &err);
	diag_err(err);
	check(r == 0 && zs_cgroup_is_frozen(cg, &err) == 1, "freeze reports frozen");
	check(progress(200) == 0, "frozen child makes no progress");
	r = zs_cgroup_thaw(cg, &err);
	diag_err(err);
	check(r == 0 && zs_cgroup_is_frozen(cg, &err) == 0, "thaw reports thawed");
	check(progress(200) > 5, "thawed child runs again");
}

static void test_update(const struct zs_cgroup *cg)
{
	cleanup_resources struct zs_resources *r = zs_resources_new();
	cleanup_error zs_error_t err = NULL;
	const char *mem = zs_cgroup_path(cg, "memory"), *cpu = zs_cgroup_path(cg, "cpu");
	bool v2 = zs_cgroup_mode_of(cg) == ZS_CGROUP_UNIFIED;
	int ret;

	/* `update --memory 96M --memory-swap 128M --pids-limit -1 --cpu-quota -1` */
	r->memory_limit = 96 << 20;
	r->memory_swap = 128 << 20;
	r->pids_limit = -1;
	r->cpu_quota = -1;
	ret = zs_cgroup_update(cg, r, &err);
	diag_err(err);
	check(ret == 0 &&
		  (v2 ? file_is(mem, "memory.max", "100663296") && file_is(cpu, "cpu.max", "max 100000")
		      : file_is(mem, "memory.limit_in_bytes", "100663296") &&
			    file_is(mem, "memory.memsw.limit_in_bytes", "134217728") &&
			    file_is(cpu, "cpu.cfs_quota_us", "-1")) &&
		  file_is(zs_cgroup_path(cg, "pids"), "pids.max", "max"),
	      "update raises memory above the old memory+swap, removes pids/cpu limits");
	/* `update --cpu-period 50000`: quota left alone */
	memset(r, 0, sizeof(*r));
	r->memory_swappiness = -1;
	r->cpu_period = 50000;
	ret = zs_cgroup_update(cg, r, &err);
	diag_err(err);
	check(ret == 0 && (v2 ? file_is(cpu, "cpu.max", "max 50000") : file_is(cpu, "cpu.cfs_period_us", "50000")),
	      "update of the period alone");
	/* `update --memory 16M` while memory+swap is 128M: memory first */
	memset(r, 0, sizeof(*r));
	r->memory_swappiness = -1;
	r->memory_limit = 16 << 20;
	ret = zs_cgroup_update(cg, r, &err);
	diag_err(err);
	check(ret == 0 && file_is(mem, v2 ? "memory.max" : "memory.limit_in_bytes", "16777216"), "lower memory limit");
	memset(r, 0, sizeof(*r));
	r->memory_swappiness = -1;
	r->cpu_period = 100;
	ret = zs_cgroup_update(cg, r, &err);
	check(ret < 0 && zs_error_errno(err) == EINVAL, "invalid cpu period refused by the kernel (%s)",
	      zs_error_msg(err));
}

static void test_stats(const struct zs_cgroup *cg)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_json zs_json *j = NULL;
	cleanup_error zs_error_t err = NULL;
	cleanup_free char *txt = NULL;
	int64_t total = 0, limit = 0, cur = 0;
	int ret;

	ret = zs_cgroup_stats(cg, g, &err);
	txt = zs_jgen_result(g, NULL);
	if (ret < 0 || zs_json_parse_buf(txt, "stats", &j, &err) < 0) {
		diag_err(err);
		check(false, "stats are valid JSON");
		return;
	}
	zs_json_to_int64(zs_json_get(zs_json_get(zs_json_get(j, "cpu"), "usage"), "total"), "s", "t", 0, &total, &err);
	zs_json_to_int64(zs_json_get(zs_json_get(zs_json_get(j, "memory"), "usage"), "limit"), "s", "l", 0, &limit,
			 &err);
	zs_json_to_int64(zs_json_get(zs_json_get(j, "pids"), "current"), "s", "p", 0, &cur, &err);
	check(total > 0 && limit == 16 << 20 && cur == 1,
	      "stats: cpu.usage.total=%lld memory.usage.limit=%lld pids=%lld", (long long) total, (long long) limit,
	      (long long) cur);
	check(zs_json_get(zs_json_get(j, "memory"), "raw") && zs_json_get(j, "blkio") && zs_json_get(j, "cpuset") &&
		  zs_json_get(j, "hugetlb"),
	      "stats have runc's sections (memory.raw, blkio, cpuset, hugetlb)");
}

/* A process joins (as exec does), allocates past the limit and is OOM-killed. */
static void test_oom(struct zs_cgroup *cg)
{
	cleanup_error zs_error_t err = NULL;
	struct pollfd pfd;
	int fd = -1, st = 0, got = 0;
	pid_t p;

	{
		/* no swap either, so that the OOM comes also on hosts with swap */
		cleanup_resources struct zs_resources *r = zs_resources_new();
		r->memory_limit = 16 << 20;
		r->memory_swap = 16 << 20;
		if (zs_cgroup_update(cg, r, &err) < 0) {
			diag_err(err);
			zs_error_release(&err);
		}
	}
	if (zs_cgroup_oom_open(cg, &fd, &err) < 0) {
		diag_err(err);
		check(false, "open OOM notification");
		return;
	}
	p = fork();
	if (p == 0) {
		cleanup_error zs_error_t e = NULL;
		if (zs_cgroup_enter(cg, getpid(), &e) < 0)
			_exit(3);
		/* 256 MiB, touched page by page: far past the 16 MiB limit */
		char *b = mmap(NULL, 256 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			_exit(4);
		for (size_t i = 0; i < (256 << 20); i += 4096)
			b[i] = 1;
		_exit(0);
	}
	waitpid(p, &st, 0);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, 3000) == 1)
		got = zs_cgroup_oom_read(cg, fd, &err);
	close(fd);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && got >= 1,
	      "exec'd process over the memory limit is OOM-killed and reported (events=%d)", got);
}

static bool all_gone(const struct zs_cgroup *cg)
{
	for (const char *const *c = (const char *const[]){"memory", "cpu", "pids", "freezer", "devices", "", NULL}; *c;
	     c++) {
		const char *p = zs_cgroup_path(cg, *c);
		if (p && access(p, F_OK) == 0) {
			printf("# still there: %s\n", p);
			return false;
		}
	}
	return true;
}

static void rm_parent(const struct zs_cgroup *cg)
{
	for (const char *const *c = (const char *const[]){"memory", "cpu", "cpuacct", "cpuset", "pids", "freezer",
							  "devices", "blkio", "name=systemd", "", NULL};
	     *c; c++) {
		const char *p = zs_cgroup_path(cg, *c);
		if (p) {
			cleanup_free char *d = xstrdup(p);
			*strrchr(d, '/') = '\0';
			rmdir(d);
		}
	}
}

static void test_frozen_refused(const char *base, enum zs_cgroup_mode mode)
{
	cleanup_free char *inner = xasprintf("%s/frozen", base);
	cleanup_free char *dir = NULL;
	cleanup_error zs_error_t err = NULL;
	struct zs_cgroup *cg = NULL;
	int ret;

	if (mode == ZS_CGROUP_UNIFIED) {
		dir = xasprintf(ZS_CGROUP_ROOT "%s", inner);
		mkdir_p(dir, 0755, &err);
		cg_write(dir, "cgroup.freeze", "1", &err);
	} else {
		dir = xasprintf(ZS_CGROUP_ROOT "/freezer%s", inner);
		mkdir_p(dir, 0755, &err);
		cg_write(dir, "freezer.state", "FROZEN", &err);
	}
	diag_err(err);
	zs_error_release(&err);
	ret = zs_cgroup_create("x", inner, NULL, 0, &cg, &err);
	check(ret < 0 && strstr(zs_error_msg(err), "container's cgroup unexpectedly frozen"),
	      "a pre-existing frozen cgroup is refused (%s)", zs_error_msg(err));
	{
		cleanup_free char *mem = xasprintf(ZS_CGROUP_ROOT "/memory%s", inner);
		check(mode == ZS_CGROUP_UNIFIED || access(mem, F_OK) < 0, "refusal leaves no new directory behind");
	}
	cg_write(dir, mode == ZS_CGROUP_UNIFIED ? "cgroup.freeze" : "freezer.state",
		 mode == ZS_CGROUP_UNIFIED ? "0" : "THAWED", &err);
	rmdir(dir);
	zs_cgroup_free(cg);
}

static void test_bad_paths(void)
{
	cleanup_error zs_error_t err = NULL;
	cleanup_resources struct zs_resources *r = zs_resources_new();
	struct zs_cgroup *cg = NULL;
	int ret;

	ret = zs_cgroup_create("x", "system.slice:docker:abc", NULL, 0, &cg, &err);
	check(ret < 0 && strstr(zs_error_msg(err), "systemd cgroup driver"), "systemd path refused (%s)",
	      zs_error_msg(err));
	zs_error_release(&err);
	ret = zs_cgroup_create("x", "/a/../../b", NULL, 0, &cg, &err);
	check(ret < 0 && strstr(zs_error_msg(err), ".."), "`..` in cgroupsPath refused");
	zs_error_release(&err);
	if (zs_cgroup_get_mode(&err) != ZS_CGROUP_UNIFIED) {
		cleanup_free char *p = xasprintf("/zanshin-test-%d/unified", (int) getpid());
		r->unified = xzalloc(sizeof(*r->unified));
		r->unified[0].key = xstrdup("memory.min");
		r->unified[0].value = xstrdup("1");
		r->n_unified = 1;
		ret = zs_cgroup_create("x", p, r, 0, &cg, &err);
		check(ret < 0 && strstr(zs_error_msg(err), "invalid configuration"),
		      "unified resources refused on cgroup v1 (%s)", zs_error_msg(err));
	}
}

static void test_relative(void)
{
	cleanup_free char *name = xasprintf("zanshin-rel-%d", (int) getpid());
	cleanup_free char *own = own_cgroup_of(getpid(), "memory");
	cleanup_error zs_error_t err = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	int ret;

	ret = zs_cgroup_create(name, NULL, NULL, 0, &cg, &err);
	diag_err(err);
	if (ret < 0) {
		check(false, "default cgroup (relative, named after the id)");
		return;
	}
	{
		const char *mem = zs_cgroup_path(cg, "memory");
		cleanup_free char *want =
		    xasprintf(ZS_CGROUP_ROOT "/memory%s%s/%s", own, strcmp(own, "/") ? "" : "", name);
		if (strcmp(own, "/") == 0) {
			free(want);
			want = xasprintf(ZS_CGROUP_ROOT "/memory/%s", name);
		}
		check(mem && strcmp(mem, want) == 0, "default cgroup is <own cgroup>/<id> as runc (%s)", mem);
	}
	check(zs_cgroup_destroy(cg, &err) == 0 && all_gone(cg), "destroy of an empty cgroup");
}

static void test_kill_all(const char *base)
{
	cleanup_free char *inner = xasprintf("%s/killall", base);
	cleanup_error zs_error_t err = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	pid_t p = spawn_counter();
	int st = 0;

	if (zs_cgroup_create("k", inner, NULL, p, &cg, &err) < 0) {
		diag_err(err);
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		check(false, "kill --all");
		return;
	}
	check(zs_cgroup_remove(cg, &err) < 0 && zs_error_errno(err) == EBUSY && kill(p, 0) == 0,
	      "remove of a populated cgroup fails with EBUSY and kills nothing");
	zs_error_release(&err);
	check(zs_cgroup_kill_all(cg, SIGTERM, &err) == 0 && waitpid(p, &st, 0) == p && WIFSIGNALED(st) &&
		  WTERMSIG(st) == SIGTERM,
	      "kill_all delivers SIGTERM to every process");
	check(zs_cgroup_remove(cg, &err) == 0 && all_gone(cg), "remove once the processes are gone");
}

/* A parent made with plain mkdir has empty cpuset.cpus/mems: joining its
 * child would fail with ENOSPC unless the parent is filled in too. */
static void test_cpuset_parent(const char *base, enum zs_cgroup_mode mode)
{
	cleanup_free char *pod = xasprintf(ZS_CGROUP_ROOT "/cpuset%s/pod", base);
	cleanup_free char *inner = xasprintf("%s/pod/ct", base);
	cleanup_error zs_error_t err = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	pid_t p;

	if (mode == ZS_CGROUP_UNIFIED) {
		skip("cpuset parent made by mkdir", "cgroup v1 only");
		return;
	}
	mkdir_p(pod, 0755, &err);
	p = spawn_counter();
	check(zs_cgroup_create("c", inner, NULL, p, &cg, &err) == 0, "join below a bare mkdir'ed cpuset parent");
	diag_err(err);
	if (cg)
		zs_cgroup_destroy(cg, &err);
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	rmdir(pod);
	for (const char *const *c = (const char *const[]){"memory", "cpu", "cpuacct", "pids", "freezer", "devices",
							  "blkio", "systemd", "unified", NULL};
	     *c; c++) {
		cleanup_free char *d = xasprintf(ZS_CGROUP_ROOT "/%s%s/pod", *c, base);
		rmdir(d);
	}
}

/* cgroup v2 device filter (BPF), on the hybrid cgroup2 mount or pure v2. */
static void test_bpf_devices(const char *base, enum zs_cgroup_mode mode)
{
	cleanup_free char *dir = NULL;
	cleanup_error zs_error_t err = NULL;
	struct zs_device_rule rules[] = {
	    {false, 'a', -1, -1, "rwm"},
	    {true, 'c', 1, 3, "rw"}, /* /dev/null */
	    {true, 'c', 1, 5, "r"},  /* /dev/zero read-only */
	};
	int st = 0;
	pid_t p;

	if (mode == ZS_CGROUP_LEGACY) {
		skip("cgroup v2 BPF device filter", "no cgroup2 hierarchy mounted");
		return;
	}
	dir = xasprintf("%s%s/bpfdev", mode == ZS_CGROUP_HYBRID ? ZS_CGROUP_ROOT "/unified" : ZS_CGROUP_ROOT, base);
	if (mkdir_p(dir, 0755, &err) < 0 || cg_v2_devices_apply(dir, rules, 3, &err) < 0) {
		diag_err(err);
		check(false, "attach the BPF device program");
		rmdir(dir);
		return;
	}
	p = fork();
	if (p == 0) {
		int code = 0, fd;
		cleanup_error zs_error_t e = NULL;
		if (cg_writef(dir, "cgroup.procs", &e, "%d", (int) getpid()) < 0)
			_exit(10);
		if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
			code |= 1;
		else
			close(fd);
		if ((fd = open("/dev/zero", O_RDONLY | O_CLOEXEC)) < 0)
			code |= 2;
		else
			close(fd);
		if (open("/dev/zero", O_WRONLY | O_CLOEXEC) >= 0 || errno != EPERM)
			code |= 4;
		if (open("/dev/full", O_RDONLY | O_CLOEXEC) >= 0 || errno != EPERM)
			code |= 8;
		_exit(code);
	}
	waitpid(p, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "BPF device filter: null rw ok, zero r ok / w denied, full denied (code %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	rmdir(dir);
	{
		cleanup_free char *parent = xstrdup(dir);
		*strrchr(parent, '/') = '\0';
		rmdir(parent);
	}
}

/* ---- pure cgroup v2, in a private mount namespace ---------------------- */

static void v2_devices_and_limits(struct zs_cgroup *cg)
{
	const char *dir = zs_cgroup_path(cg, "");
	int st = 0;
	pid_t p;

	check(file_is(dir, "hugetlb.2MB.max", "4194304"), "v2: hugetlb.2MB.max applied");
	p = fork();
	if (p == 0) {
		cleanup_error zs_error_t e = NULL;
		int code = 0, fd;
		if (zs_cgroup_enter(cg, getpid(), &e) < 0)
			_exit(10);
		if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
			code |= 1;
		close(fd);
		if (open("/dev/kmsg", O_RDONLY | O_CLOEXEC) >= 0 || errno != EPERM)
			code |= 2;
		_exit(code);
	}
	waitpid(p, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "v2: default device rules via BPF: /dev/null ok, /dev/kmsg EPERM");
}

/* Like runc's "cgroup v2 + init process in non-root cgroup": the init moves
 * to /foo and enables a domain controller; an exec then joins /foo. */
static void v2_exec_fallback(struct zs_cgroup *cg, pid_t init)
{
	const char *dir = zs_cgroup_path(cg, "");
	cleanup_free char *foo = xasprintf("%s/foo", dir);
	cleanup_error zs_error_t err = NULL;
	int st = 0;
	pid_t p;

	if (mkdir(foo, 0755) < 0 || cg_writef(foo, "cgroup.procs", &err, "%d", (int) init) < 0 ||
	    cg_write(dir, "cgroup.subtree_control", "+hugetlb", &err) < 0) {
		diag_err(err);
		check(false, "v2: move init to a sub-cgroup and enable hugetlb below");
		return;
	}
	p = fork();
	if (p == 0) {
		cleanup_error zs_error_t e = NULL;
		if (zs_cgroup_enter(cg, getpid(), &e) < 0)
			_exit(1);
		cleanup_free char *own = own_cgroup_of(getpid(), "");
		_exit(strlen(own) > 4 && strcmp(own + strlen(own) - 4, "/foo") == 0 ? 0 : 2);
	}
	waitpid(p, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "v2: exec joins the init's sub-cgroup when the cgroup has domain "
						     "controllers enabled below it");
	/* undo, so that the rest runs on the container's own cgroup */
	cg_write(dir, "cgroup.subtree_control", "-hugetlb", &err);
	cg_writef(dir, "cgroup.procs", &err, "%d", (int) init);
	rmdir(foo);
}

static void v2_update_stats(struct zs_cgroup *cg)
{
	cleanup_resources struct zs_resources *r = zs_resources_new();
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_json zs_json *j = NULL;
	cleanup_error zs_error_t err = NULL;
	cleanup_free char *txt = NULL;

	r->hugetlb = xzalloc(sizeof(*r->hugetlb));
	r->hugetlb[0].pagesize = xstrdup("2MB");
	r->hugetlb[0].limit = 8 << 20;
	r->n_hugetlb = 1;
	check(zs_cgroup_update(cg, r, &err) == 0 && file_is(zs_cgroup_path(cg, ""), "hugetlb.2MB.max", "8388608"),
	      "v2: update hugetlb limit live");
	diag_err(err);
	zs_cgroup_stats(cg, g, &err);
	txt = zs_jgen_result(g, NULL);
	check(zs_json_parse_buf(txt, "stats", &j, &err) == 0 && zs_json_get(zs_json_get(j, "hugetlb"), "2MB") &&
		  zs_json_get(zs_json_get(j, "cpu"), "usage"),
	      "v2: stats are JSON with cpu.usage and hugetlb.2MB");
}

static void v2_tests(const char *base)
{
	cleanup_free char *inner = xasprintf("%s/v2ct", base);
	cleanup_resources struct zs_resources *r = zs_resources_new();
	cleanup_error zs_error_t err = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	pid_t child;
	int st = 0;

	check(zs_cgroup_get_mode(&err) == ZS_CGROUP_UNIFIED, "v2: cgroup2 on /sys/fs/cgroup detected as unified");
	r->hugetlb = xzalloc(sizeof(*r->hugetlb));
	r->hugetlb[0].pagesize = xstrdup("2MB");
	r->hugetlb[0].limit = 4 << 20;
	r->n_hugetlb = 1;
	zs_resources_append_device(r, false, 'a', -1, -1, "rwm");
	zs_resources_append_default_devices(r);
	child = spawn_counter();
	if (zs_cgroup_create("v2", inner, r, child, &cg, &err) < 0) {
		diag_err(err);
		check(false, "v2: create");
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return;
	}
	{
		cleanup_free char *own = own_cgroup_of(child, "");
		check(strcmp(own, inner) == 0, "v2: child in %s", own);
	}
	v2_devices_and_limits(cg);
	v2_exec_fallback(cg, child);
	test_freeze(cg);
	v2_update_stats(cg);
	check(zs_cgroup_destroy(cg, &err) == 0 && waitpid(child, &st, 0) == child && WIFSIGNALED(st) && all_gone(cg),
	      "v2: destroy kills and removes");
	diag_err(err);
	{
		cleanup_free char *parent = xasprintf(ZS_CGROUP_ROOT "%s", base);
		rmdir(parent);
	}
}

static void test_v2(const char *base, enum zs_cgroup_mode mode)
{
	bool had_hugetlb;
	int st = 0;
	pid_t p;

	if (mode == ZS_CGROUP_UNIFIED) {
		v2_tests(base);
		return;
	}
	if (mode != ZS_CGROUP_HYBRID) {
		skip("cgroup v2 mode", "no cgroup2 hierarchy on this host");
		return;
	}
	{
		cleanup_free char *sc = slurp(ZS_CGROUP_ROOT "/unified", "cgroup.subtree_control");
		had_hugetlb = strstr(sc, "hugetlb") != NULL;
	}
	p = fork();
	if (p == 0) {
		/* a private mount namespace where /sys/fs/cgroup is the cgroup2 hierarchy */
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("cgroup2", ZS_CGROUP_ROOT, "cgroup2", 0, NULL) < 0) {
			check(false, "v2: mount cgroup2 in a private mount namespace: %s", strerror(errno));
			_exit(1);
		}
		v2_tests(base);
		_exit(0);
	}
	waitpid(p, &st, 0);
	if (!had_hugetlb) { /* leave the host's cgroup2 root as it was */
		cleanup_error zs_error_t e = NULL;
		cg_write(ZS_CGROUP_ROOT "/unified", "cgroup.subtree_control", "-hugetlb", &e);
	}
}

int main(void)
{
	cleanup_error zs_error_t err = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	cleanup_resources struct zs_resources *res = NULL;
	cleanup_free char *base = xasprintf("/zanshin-test-%d", (int) getpid());
	cleanup_free char *inner = xasprintf("%s/ct", base);
	int mode, st = 0;
	pid_t child;

	if (geteuid() != 0) {
		printf("1..0 # skip needs root\n");
		return 0;
	}
	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	mode = zs_cgroup_get_mode(&err);
	check(mode > 0, "detect cgroup mode (%d: 1=v1 2=hybrid 3=v2)", mode);
	test_parse();
	test_bad_paths();

	if (parse_res(RES_JSON, &res, &err) < 0) {
		diag_err(err);
		return 1;
	}
	child = spawn_counter();
	if (zs_cgroup_create("zs-test", inner, res, child, &cg, &err) < 0) {
		diag_err(err);
		check(false, "create cgroup %s", inner);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	} else {
		check(true, "create cgroup %s with limits and a process", inner);
		test_limits(cg, child);
		test_save_load(cg);
		test_enter_sub(cg);
		test_freeze(cg);
		test_update(cg);
		test_stats(cg);
		test_oom(cg);
		check(zs_cgroup_destroy(cg, &err) == 0 && waitpid(child, &st, 0) == child && WIFSIGNALED(st),
		      "destroy kills the remaining process");
		diag_err(err);
		check(all_gone(cg), "destroy leaves no cgroup directory");
	}
	test_kill_all(base);
	test_frozen_refused(base, mode);
	test_relative();
	test_bpf_devices(base, mode);
	test_cpuset_parent(base, mode);
	if (cg)
		rm_parent(cg);
	test_v2(base, mode);
	printf("1..%d\n", n_tests);
	return n_failed ? 1 : 0;
}
