/*
 * libcriu tests for the zanshin patches 0001/0002 (and 0004): the page
 * server setter's return value and the lazy pages setter, exercised end
 * to end against the CRIU named by $CRIU (criu_set_service_binary()).
 *
 *   libcriu-test WORKDIR      prints TAP
 *
 * A workload child fills WL_PAGES pages with a pattern derived from a seed
 * and, on SIGUSR1, checks every page and exits 0 (all good) or 1. After a
 * restore the workload that answers is the restored one, so a pass means
 * the restored memory is right, whichever way the pages arrived.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "criu.h"

#define WL_PAGES 8192 /* 32 MiB */
#define PAGE 4096

static const char *criu_bin;
static const char *workdir;
static int tap_n, tap_failed;

#define TEST_TIMEOUT 120
static const char *current_test;
static pid_t live[4]; /* what a hung test leaves behind: workloads, daemon, dumper */

static void on_alarm(int sig)
{
	char msg[512];
	int len, i;

	(void) sig;
	len = snprintf(msg, sizeof(msg), "not ok %d - %s\n# timed out after %d s\n1..%d\n", tap_n + 1, current_test,
		       TEST_TIMEOUT, tap_n + 1);
	if (write(1, msg, len) < 0)
		len = 0;
	for (i = 0; i < 4; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
	_exit(1);
}

static void test_begin(const char *name)
{
	current_test = name;
	memset(live, 0, sizeof(live));
	alarm(TEST_TIMEOUT);
}

static void ok(const char *name)
{
	printf("ok %d - %s\n", ++tap_n, name);
	fflush(stdout);
}

static void fail(const char *name, const char *why)
{
	printf("not ok %d - %s\n# %s\n", ++tap_n, name, why);
	fflush(stdout);
	tap_failed++;
}

/* ---- workload ---------------------------------------------------------- */

static volatile sig_atomic_t wl_check;
static uint64_t wl_seed;
static unsigned char *wl_mem;

static uint64_t wl_word(uint64_t page, uint64_t word)
{
	uint64_t x = wl_seed ^ (page * 0x9e3779b97f4a7c15ULL) ^ (word * 0xbf58476d1ce4e5b9ULL);

	x ^= x >> 31;
	return x * 0x94d049bb133111ebULL;
}

static void wl_fill(void)
{
	for (uint64_t p = 0; p < WL_PAGES; p++) {
		uint64_t *w = (uint64_t *) (wl_mem + p * PAGE);

		for (uint64_t i = 0; i < PAGE / 8; i++)
			w[i] = wl_word(p, i);
	}
}

static int wl_verify(void)
{
	for (uint64_t p = 0; p < WL_PAGES; p++) {
		uint64_t *w = (uint64_t *) (wl_mem + p * PAGE);

		for (uint64_t i = 0; i < PAGE / 8; i++)
			if (w[i] != wl_word(p, i))
				return 1;
	}
	return 0;
}

static void wl_on_usr1(int sig)
{
	(void) sig;
	wl_check = 1;
}

/* Runs in the exec'd child (--workload FD); never returns. */
static void workload(int ready_fd, int new_session)
{
	struct sigaction sa = {.sa_handler = wl_on_usr1};
	int null;

	if (new_session && setsid() < 0)
		_exit(3);
	sigaction(SIGUSR1, &sa, NULL);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(3);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != ready_fd)
			close(fd);

	wl_seed = (uint64_t) time(NULL) * 2654435761ULL ^ (uint64_t) getpid();
	wl_mem = mmap(NULL, (size_t) WL_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (wl_mem == MAP_FAILED)
		_exit(3);
	wl_fill();
	if (write(ready_fd, "R", 1) != 1)
		_exit(3);
	close(ready_fd);

	/* Poll: a pause() loop could miss a signal that arrives right after a restore. */
	while (!wl_check)
		usleep(10000);
	_exit(wl_verify());
}

/*
 * Starts the workload; with newpid it is the init of a new pid namespace.
 * It execs this program again, so that it shares no memory with us (or
 * with a forked dumper), as a real application would not.
 */
static pid_t start_workload(int newpid)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = syscall(SYS_clone, SIGCHLD | (newpid ? CLONE_NEWPID : 0), NULL, NULL, NULL, NULL);
	if (pid == 0) {
		char fd[16];

		snprintf(fd, sizeof(fd), "%d", p[1]);
		if (fcntl(p[1], F_SETFD, 0) == 0)
			execl("/proc/self/exe", "libcriu-test", "--workload", fd, (char *) NULL);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	close(p[0]);
	return pid;
}

/* Asks the workload to check its memory; 0 when it exits 0. */
static int check_workload(pid_t pid, char *why, size_t len)
{
	int status;

	if (kill(pid, SIGUSR1)) {
		snprintf(why, len, "kill(%d, SIGUSR1): %s", pid, strerror(errno));
		return -1;
	}
	if (waitpid(pid, &status, 0) != pid) {
		snprintf(why, len, "waitpid(%d): %s", pid, strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(why, len, "workload %d: memory check failed (status %#x)", pid, status);
		return -1;
	}
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static int make_dir(const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", workdir, name);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -1;
	return open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
}

static int setup_opts(int dir_fd, const char *log)
{
	if (criu_init_opts())
		return -1;
	if (criu_set_service_binary(criu_bin))
		return -1;
	criu_set_images_dir_fd(dir_fd);
	criu_set_log_level(4);
	return criu_set_log_file(log);
}

/* Starts `criu lazy-pages` on dir; returns its pid once it accepts restores. */
static pid_t start_lazy_daemon(const char *dir, int port)
{
	char status_fd[16], port_s[16];
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		snprintf(status_fd, sizeof(status_fd), "%d", p[1]);
		snprintf(port_s, sizeof(port_s), "%d", port);
		if (port)
			execl(criu_bin, "criu", "lazy-pages", "-D", dir, "-o", "lazy-pages.log", "-v4", "--status-fd",
			      status_fd, "--page-server", "--address", "127.0.0.1", "--port", port_s, (char *) NULL);
		else
			execl(criu_bin, "criu", "lazy-pages", "-D", dir, "-o", "lazy-pages.log", "-v4", "--status-fd",
			      status_fd, (char *) NULL);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	close(p[0]);
	return pid;
}

/* Number of pages the lazy-pages daemon says it transferred (sum over tasks). */
static long lazy_pages_transferred(const char *dir)
{
	char path[512], line[512];
	long total = 0, done, all;
	FILE *f;

	snprintf(path, sizeof(path), "%s/lazy-pages.log", dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *s = strstr(line, "UFFD transferred pages: (");

		/* A task may exit before its last untouched pages are copied. */
		if (s && sscanf(s, "UFFD transferred pages: (%ld/%ld)", &done, &all) == 2)
			total += done;
	}
	fclose(f);
	return total;
}

static int tcp_listening(int port)
{
	char line[256];
	unsigned int lport, st;
	int found = 0;
	FILE *f = fopen("/proc/net/tcp", "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &st) == 2 && lport == (unsigned int) port &&
		    st == 0x0A)
			found = 1;
	fclose(f);
	return found;
}

/* Waits up to 30 s for pid to exit; 0 when it exited with 0. Kills it on timeout. */
static int wait_exit0(pid_t pid)
{
	int status, i;

	for (i = 0; i < 600; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
		if (r < 0)
			return -1;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* ---- tests ------------------------------------------------------------- */

static void test_page_server_setter(void)
{
	const char *name = "criu_set_page_server_address_port() returns 0 on success";
	criu_opts *o = NULL;
	char why[128];
	int r1, r2, r3;

	if (criu_init_opts() || criu_local_init_opts(&o)) {
		fail(name, "criu_init_opts failed");
		return;
	}
	r1 = criu_set_page_server_address_port("127.0.0.1", 27100);
	/* A second call replaces the first one (and must not leak it). */
	r2 = criu_set_page_server_address_port("127.0.0.2", 27101);
	r3 = criu_local_set_page_server_address_port(o, "127.0.0.1", 27102);
	criu_local_free_opts(o);
	if (r1 || r2 || r3) {
		snprintf(why, sizeof(why), "returned %d, %d, %d (want 0, 0, 0)", r1, r2, r3);
		fail(name, why);
		return;
	}
	ok(name);
}

/* Dump normally, restore lazily from the images through libcriu. */
static void test_lazy_restore(void)
{
	const char *name = "criu_set_lazy_pages(): lazy restore via libcriu, memory verified";
	char dir[512], why[1024];
	pid_t wl, lazyd = -1, rst;
	long moved;
	int dfd, ret;

	test_begin(name);
	dfd = make_dir("lazy-restore", dir, sizeof(dir));
	wl = live[0] = start_workload(0);
	if (dfd < 0 || wl < 0) {
		fail(name, "cannot set up the image dir or the workload");
		goto out;
	}

	setup_opts(dfd, "dump.log");
	criu_set_pid(wl);
	ret = criu_dump();
	if (ret < 0) {
		snprintf(why, sizeof(why), "criu_dump: %d (see %s/dump.log)", ret, dir);
		fail(name, why);
		kill(wl, SIGKILL);
		waitpid(wl, NULL, 0);
		goto out;
	}
	waitpid(wl, NULL, 0); /* the dump killed it; free its pid */

	lazyd = live[1] = start_lazy_daemon(dir, 0);
	if (lazyd < 0) {
		fail(name, "cannot start criu lazy-pages");
		goto out;
	}

	setup_opts(dfd, "restore.log");
	criu_set_lazy_pages(true);
	rst = live[3] = criu_restore_child();
	if (rst <= 0) { /* never signal pid 0 (our own group) */
		snprintf(why, sizeof(why), "criu_restore_child: %d (see %s/restore.log)", rst, dir);
		fail(name, why);
		goto out;
	}
	if (check_workload(rst, why, sizeof(why))) {
		fail(name, why);
		goto out;
	}
	if (wait_exit0(lazyd)) {
		lazyd = -1;
		fail(name, "criu lazy-pages did not finish successfully within 30 s");
		goto out;
	}
	lazyd = -1;
	/* The restored memory must have come through userfaultfd. */
	moved = lazy_pages_transferred(dir);
	if (moved < WL_PAGES) {
		snprintf(why, sizeof(why), "lazy-pages daemon moved %ld pages, want >= %d", moved, WL_PAGES);
		fail(name, why);
		goto out;
	}
	ok(name);
out:
	if (lazyd > 0) {
		kill(lazyd, SIGKILL);
		waitpid(lazyd, NULL, 0);
	}
	if (dfd >= 0)
		close(dfd);
}

/*
 * Lazy migration: the dump serves pages from a page server at the address
 * and port set with criu_set_page_server_address_port(); a lazy-pages
 * daemon fetches them from there while the restored task faults them in.
 * The workload is the init of its own pid namespace, so the restored copy
 * can exist while the dump still holds the original.
 */
static void test_lazy_migration(void)
{
	const char *name = "lazy migration via libcriu (lazy pages + page server), memory verified";
	int port = 27000 + getpid() % 1000;
	char dir[512], why[1024];
	pid_t wl, dumper = -1, lazyd = -1, rst = -1;
	long moved;
	int dfd, i;

	test_begin(name);
	dfd = make_dir("lazy-migrate", dir, sizeof(dir));
	wl = live[0] = start_workload(1);
	if (dfd < 0 || wl < 0) {
		fail(name, "cannot set up the image dir or the workload");
		goto out;
	}

	dumper = live[2] = fork();
	if (dumper == 0) {
		setup_opts(dfd, "dump.log");
		criu_set_pid(wl);
		criu_set_lazy_pages(true);
		if (criu_set_page_server_address_port("127.0.0.1", port))
			_exit(2);
		_exit(criu_dump() < 0 ? 1 : 0);
	}
	for (i = 0; i < 200 && !tcp_listening(port); i++)
		usleep(50000);
	if (dumper < 0 || i == 200) {
		snprintf(why, sizeof(why), "no page server listening on 127.0.0.1:%d (see %s/dump.log)", port, dir);
		fail(name, why);
		goto out;
	}

	lazyd = live[1] = start_lazy_daemon(dir, port);
	if (lazyd < 0) {
		fail(name, "cannot start criu lazy-pages --page-server");
		goto out;
	}

	setup_opts(dfd, "restore.log");
	criu_set_lazy_pages(true);
	rst = live[3] = criu_restore_child();
	if (rst <= 0) { /* never signal pid 0 (our own group) */
		snprintf(why, sizeof(why), "criu_restore_child: %d (see %s/restore.log)", rst, dir);
		fail(name, why);
		goto out;
	}
	if (check_workload(rst, why, sizeof(why))) {
		rst = -1;
		fail(name, why);
		goto out;
	}
	rst = -1;
	if (wait_exit0(lazyd)) {
		lazyd = -1;
		fail(name, "criu lazy-pages did not finish successfully within 30 s");
		goto out;
	}
	lazyd = -1;
	if (wait_exit0(dumper)) {
		dumper = -1;
		snprintf(why, sizeof(why), "criu_dump with lazy pages failed (see %s/dump.log)", dir);
		fail(name, why);
		goto out;
	}
	dumper = -1;
	waitpid(wl, NULL, 0); /* the finished dump killed the original */
	wl = -1;
	moved = lazy_pages_transferred(dir);
	if (moved < WL_PAGES) {
		snprintf(why, sizeof(why), "lazy-pages daemon moved %ld pages, want >= %d", moved, WL_PAGES);
		fail(name, why);
		goto out;
	}
	ok(name);
out:
	if (rst > 0) {
		kill(rst, SIGKILL);
		waitpid(rst, NULL, 0);
	}
	if (lazyd > 0) {
		kill(lazyd, SIGKILL);
		waitpid(lazyd, NULL, 0);
	}
	if (dumper > 0) {
		kill(dumper, SIGKILL);
		waitpid(dumper, NULL, 0);
	}
	if (wl > 0) {
		kill(wl, SIGKILL);
		waitpid(wl, NULL, 0);
	}
	if (dfd >= 0)
		close(dfd);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--workload"))
		workload(atoi(argv[2]), 1);
	if (argc != 2) {
		fprintf(stderr, "usage: %s WORKDIR (CRIU binary in $CRIU)\n", argv[0]);
		return 2;
	}
	workdir = argv[1];
	criu_bin = getenv("CRIU");
	if (!criu_bin) {
		fprintf(stderr, "libcriu-test: set CRIU to the criu binary to test\n");
		return 2;
	}
	signal(SIGALRM, on_alarm); /* nothing here may hang a test run */

	test_page_server_setter();
	test_lazy_restore();
	test_lazy_migration();

	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
