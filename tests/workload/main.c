// SPDX-License-Identifier: Apache-2.0
/*
 * zs-workload: a process tree with known memory, driven by a command file.
 *
 *   zs-workload -d DIR [-m MIB] [-p CHILDREN] [-t THREADS] [-s SEED]
 *
 * Starts a new session (so CRIU can dump and restore it without
 * --shell-job) whose leader is process 0; CHILDREN more processes each get
 * their own MIB of memory, every process runs THREADS worker threads that do
 * the writes. Prints the leader's pid once every page is filled.
 *
 * Protocol (files in DIR, each written whole and renamed into place; no file
 * stays open, so CRIU can dump the tree at any time between commands):
 *   cmd     "SEQ OP [ARG]", written by the driver before it sends SIGUSR1 to
 *           process 0
 *   result  "SEQ STATUS procs=N digest=HEX" then one block per process
 *   ack     "SEQ" once result is complete
 * OPs: write K (K distinct pages per process), verify (every page of every
 * process, and that unmapped ranges stay gone), info, fork (process 0 forks
 * one more process), mremap, munmap, dontneed, mmap-new [MIB], brk [MIB],
 * mprotect-ro / mprotect-rw (no write in between),
 * exit; corrupt and stale damage one page on purpose (self-test: the next
 * verify must fail). STATUS is PASS/FAIL for verify, OK/ERR otherwise. The digest sums the
 * expected state (layout, every page's version, pids), so two verifies that
 * PASS with the same digest saw the same memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "workload.h"

#define ACK_TIMEOUT_S 600
#define STATUS_FD 3
#define SIG_ACK (SIGRTMIN + 1)

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	unsigned long round;
	int started, finished;
	size_t k;
};

struct child {
	pid_t pid;
	int idx;
	int dead;
	unsigned long acked; /* last command this child answered */
};

static struct {
	int idx;
	int nthreads;
	size_t mib;
	uint64_t seed;
	struct wl_mem mem;
	struct pool pool;
	/* process 0 only */
	int nchild, next_idx;
	struct child child[WL_MAX_PROCS];
} W;

static struct wl_out out_self, out_all;

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t) n;
	}
	return 0;
}

/* Write head then body to NAME.tmp and rename it to NAME: readers see all or nothing. */
static int write_file(const char *name, const char *head, const char *body)
{
	char tmp[64];
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ret = write_all(fd, head, strlen(head));
	if (!ret && body)
		ret = write_all(fd, body, strlen(body));
	if (close(fd) || ret)
		return -1;
	return rename(tmp, name);
}

static ssize_t read_file(const char *name, char *buf, size_t size)
{
	ssize_t len = 0, n;
	int fd;

	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((size_t) len < size - 1 && (n = read(fd, buf + len, size - 1 - (size_t) len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	return len;
}

/* ---- worker threads: they do the page writes ---- */

static void *worker(void *arg)
{
	int id = (int) (long) arg;
	unsigned long seen;

	pthread_mutex_lock(&W.pool.mu);
	seen = W.pool.round;
	W.pool.started++;
	pthread_cond_broadcast(&W.pool.done);
	for (;;) {
		size_t k, from, to;

		while (W.pool.round == seen)
			pthread_cond_wait(&W.pool.work, &W.pool.mu);
		seen = W.pool.round;
		k = W.pool.k;
		pthread_mutex_unlock(&W.pool.mu);
		from = k * (size_t) id / (size_t) W.nthreads;
		to = k * (size_t) (id + 1) / (size_t) W.nthreads;
		mem_write_range(&W.mem, from, to);
		pthread_mutex_lock(&W.pool.mu);
		W.pool.finished++;
		pthread_cond_broadcast(&W.pool.done);
	}
	return NULL;
}

static int pool_start(void)
{
	pthread_attr_t attr;
	int i;

	memset(&W.pool, 0, sizeof(W.pool));
	pthread_mutex_init(&W.pool.mu, NULL);
	pthread_cond_init(&W.pool.work, NULL);
	pthread_cond_init(&W.pool.done, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = 0; i < W.nthreads; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, worker, (void *) (long) i))
			return -1;
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&W.pool.mu);
	while (W.pool.started < W.nthreads)
		pthread_cond_wait(&W.pool.done, &W.pool.mu);
	pthread_mutex_unlock(&W.pool.mu);
	return 0;
}

static void pool_write(size_t k)
{
	if (W.nthreads == 0) {
		mem_write_range(&W.mem, 0, k);
		return;
	}
	pthread_mutex_lock(&W.pool.mu);
	W.pool.k = k;
	W.pool.finished = 0;
	W.pool.round++;
	pthread_cond_broadcast(&W.pool.work);
	while (W.pool.finished < W.nthreads)
		pthread_cond_wait(&W.pool.done, &W.pool.mu);
	pthread_mutex_unlock(&W.pool.mu);
}

/* ---- one command in this process ---- */

enum status { ST_OK, ST_PASS, ST_FAIL, ST_ERR };
static const char *const status_name[] = {"OK", "PASS", "FAIL", "ERR"};

struct cmd {
	unsigned long seq;
	char op[32];
	unsigned long arg;
	int has_arg;
};

static int read_cmd(struct cmd *c)
{
	char buf[256];
	int n;

	memset(c, 0, sizeof(*c));
	if (read_file("cmd", buf, sizeof(buf)) < 0)
		return -1;
	n = sscanf(buf, "%lu %31s %lu", &c->seq, c->op, &c->arg);
	if (n < 2)
		return -1;
	c->has_arg = n == 3;
	return 0;
}

static enum status op_verify(struct wl_out *o, uint64_t *digest)
{
	struct wl_out detail;
	int bad;

	detail.len = 0;
	detail.buf[0] = 0;
	bad = mem_verify(&W.mem, &detail, digest);
	out_add(o, "proc %d pid %d %s pages=%zu regions=%d gen=%llu bad=%d digest=%016llx\n%s", W.idx, getpid(),
		bad ? "FAIL" : "PASS", mem_total_pages(&W.mem), W.mem.nr, (unsigned long long) W.mem.gen, bad,
		(unsigned long long) *digest, detail.buf);
	return bad ? ST_FAIL : ST_PASS;
}

static enum status op_write(const struct cmd *c, struct wl_out *o)
{
	if (c->has_arg && c->arg == 0) { /* nothing to write: the state stays */
		out_add(o, "proc %d pid %d wrote 0 pages (gen %llu)\n", W.idx, getpid(),
			(unsigned long long) W.mem.gen);
		return ST_OK;
	}
	if (!c->has_arg || mem_write_prepare(&W.mem, c->arg, o))
		return ST_ERR;
	pool_write(c->arg);
	W.mem.gen++;
	out_add(o, "proc %d pid %d wrote %lu pages (gen %llu)\n", W.idx, getpid(), c->arg,
		(unsigned long long) W.mem.gen);
	return ST_OK;
}

static enum status run_op(const struct cmd *c, struct wl_out *o, uint64_t *digest)
{
	size_t mib = c->has_arg ? c->arg : 0;
	int r;

	*digest = 0;
	if (!strcmp(c->op, "verify"))
		return op_verify(o, digest);
	if (!strcmp(c->op, "write"))
		return op_write(c, o);
	if (!strcmp(c->op, "info")) {
		out_add(o, "proc %d pid %d pages=%zu nonzero=%zu regions=%d gen=%llu\n", W.idx, getpid(),
			mem_total_pages(&W.mem), mem_nonzero_pages(&W.mem), W.mem.nr, (unsigned long long) W.mem.gen);
		mem_info(&W.mem, o);
		return ST_OK;
	}
	out_add(o, "proc %d pid %d ", W.idx, getpid());
	if (!strcmp(c->op, "mremap"))
		r = mem_mremap(&W.mem, o);
	else if (!strcmp(c->op, "munmap"))
		r = mem_munmap(&W.mem, o);
	else if (!strcmp(c->op, "dontneed"))
		r = mem_dontneed(&W.mem, o);
	else if (!strcmp(c->op, "mmap-new"))
		r = mem_mmap_new(&W.mem, (uint32_t) W.idx, mib ? mib : 16, o);
	else if (!strcmp(c->op, "corrupt") || !strcmp(c->op, "stale"))
		r = mem_damage(&W.mem, c->op, o);
	else if (!strcmp(c->op, "mprotect-ro") || !strcmp(c->op, "mprotect-rw"))
		r = mem_mprotect(&W.mem, !strcmp(c->op, "mprotect-rw"), o);
	else if (!strcmp(c->op, "brk"))
		r = mem_brk(&W.mem, (uint32_t) W.idx, mib ? mib : 4, o);
	else {
		out_add(o, "unknown command '%s'\n", c->op);
		r = -1;
	}
	return r ? ST_ERR : ST_OK;
}

/* ---- children ---- */

static void ack_parent(unsigned long seq)
{
	union sigval v = {.sival_int = (int) seq};

	sigqueue(getppid(), SIG_ACK, v);
}

static void child_command(void)
{
	char head[64];
	struct cmd c;
	uint64_t digest;
	enum status st;
	char name[32];

	out_self.len = 0;
	out_self.buf[0] = 0;
	if (read_cmd(&c)) {
		st = ST_ERR;
		out_add(&out_self, "proc %d: unreadable cmd file\n", W.idx);
		digest = 0;
	} else {
		st = run_op(&c, &out_self, &digest);
	}
	snprintf(head, sizeof(head), "%s %016llx\n", status_name[st], (unsigned long long) digest);
	snprintf(name, sizeof(name), "result.%d", W.idx);
	write_file(name, head, out_self.buf);
	ack_parent(c.seq);
}

static void __attribute__((noreturn)) child_loop(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwaitinfo(&set, NULL) == SIGUSR1)
			child_command();
	}
}

/* In a new child: become process idx and tell process 0 when ready. */
static void __attribute__((noreturn)) child_start(int idx, pid_t parent, int fresh_memory, unsigned long seq)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	W.idx = idx;
	W.nchild = 0;
	if (fresh_memory && mem_init(&W.mem, W.seed, (uint32_t) idx, W.mib))
		_exit(2);
	if (pool_start())
		_exit(3);
	ack_parent(seq);
	child_loop();
}

static void note_ack(const siginfo_t *si)
{
	int i;

	for (i = 0; i < W.nchild; i++)
		if (W.child[i].pid == si->si_pid)
			W.child[i].acked = (unsigned long) si->si_value.sival_int;
}

/* Wait until ch answered command seq; answers of other children are noted on the way. */
static int wait_ack(struct child *ch, unsigned long seq)
{
	struct timespec ts = {.tv_sec = 1};
	time_t deadline = time(NULL) + ACK_TIMEOUT_S;
	sigset_t set;
	siginfo_t si;
	int st;

	sigemptyset(&set);
	sigaddset(&set, SIG_ACK);
	while (ch->acked != (seq & 0x7fffffff)) {
		if (sigtimedwait(&set, &si, &ts) == SIG_ACK) {
			note_ack(&si);
			continue;
		}
		if (errno != EINTR && errno != EAGAIN)
			return -1;
		if (waitpid(ch->pid, &st, WNOHANG) == ch->pid) {
			ch->dead = 1;
			return -1;
		}
		if (time(NULL) > deadline)
			return -1;
	}
	return 0;
}

static int spawn_child(int fresh_memory, unsigned long seq)
{
	pid_t parent = getpid(), pid;
	struct child *ch;

	if (W.nchild >= WL_MAX_PROCS)
		return -1;
	ch = &W.child[W.nchild];
	ch->idx = W.next_idx;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(STATUS_FD);
		child_start(ch->idx, parent, fresh_memory, seq);
	}
	ch->pid = pid;
	ch->dead = 0;
	ch->acked = ~0UL;
	W.nchild++;
	W.next_idx++;
	return wait_ack(ch, seq);
}

/* ---- process 0: runs a command here and in every child ---- */

static void child_gone(struct child *ch, struct wl_out *o)
{
	int st;

	if (!ch->dead && waitpid(ch->pid, &st, WNOHANG) == ch->pid)
		ch->dead = 1;
	if (ch->dead)
		out_add(o, "proc %d pid %d: gone\n", ch->idx, ch->pid);
}

static enum status merge(enum status a, enum status b)
{
	return a > b ? a : b;
}

/* Collect one child's result file into out_all; returns its status. */
static enum status collect_child(struct child *ch, unsigned long seq, uint64_t *digest)
{
	static char buf[WL_RESULT_MAX];
	char name[32], stname[8];
	unsigned long long d;
	const char *body;

	if (wait_ack(ch, seq)) {
		out_add(&out_all, "proc %d pid %d: no answer\n", ch->idx, ch->pid);
		child_gone(ch, &out_all);
		return ST_ERR;
	}
	snprintf(name, sizeof(name), "result.%d", ch->idx);
	if (read_file(name, buf, sizeof(buf)) < 0 || sscanf(buf, "%7s %llx", stname, &d) != 2) {
		out_add(&out_all, "proc %d pid %d: no result file\n", ch->idx, ch->pid);
		return ST_ERR;
	}
	body = strchr(buf, '\n');
	out_add(&out_all, "%s", body ? body + 1 : "");
	*digest = wl_mix64(*digest ^ wl_mix64(d ^ ((uint64_t) ch->pid << 32) ^ (uint64_t) ch->idx));
	if (!strcmp(stname, "PASS"))
		return ST_PASS;
	if (!strcmp(stname, "OK"))
		return ST_OK;
	return strcmp(stname, "FAIL") ? ST_ERR : ST_FAIL;
}

static void reply(unsigned long seq, enum status st, uint64_t digest)
{
	char head[128], ack[32];
	int live = 1, i;

	for (i = 0; i < W.nchild; i++)
		live += !W.child[i].dead;
	snprintf(head, sizeof(head), "%lu %s procs=%d digest=%016llx\n", seq, status_name[st], live,
		 (unsigned long long) digest);
	write_file("result", head, out_all.buf);
	snprintf(ack, sizeof(ack), "%lu\n", seq);
	write_file("ack", ack, NULL);
}

static void root_exit(unsigned long seq)
{
	int i;

	for (i = 0; i < W.nchild; i++) {
		kill(W.child[i].pid, SIGKILL);
		waitpid(W.child[i].pid, NULL, 0);
	}
	out_all.len = 0;
	out_all.buf[0] = 0;
	reply(seq, ST_OK, 0);
	_exit(0);
}

static void root_command(void)
{
	enum status st;
	uint64_t digest = 0, d;
	struct cmd c;
	int i;

	out_all.len = 0;
	out_all.buf[0] = 0;
	if (read_cmd(&c)) {
		out_add(&out_all, "unreadable cmd file\n");
		reply(c.seq, ST_ERR, 0);
		return;
	}
	if (!strcmp(c.op, "exit"))
		root_exit(c.seq);
	if (!strcmp(c.op, "fork")) {
		if (spawn_child(0, c.seq)) {
			out_add(&out_all, "fork: new process did not start\n");
			reply(c.seq, ST_ERR, 0);
			return;
		}
		out_add(&out_all, "fork: proc %d pid %d\n", W.child[W.nchild - 1].idx, W.child[W.nchild - 1].pid);
		reply(c.seq, ST_OK, 0);
		return;
	}
	for (i = 0; i < W.nchild; i++)
		if (!W.child[i].dead)
			kill(W.child[i].pid, SIGUSR1);
	st = run_op(&c, &out_all, &d);
	digest = wl_mix64(d ^ ((uint64_t) getpid() << 32));
	for (i = 0; i < W.nchild; i++) {
		if (W.child[i].dead) {
			child_gone(&W.child[i], &out_all);
			st = merge(st, strcmp(c.op, "verify") ? ST_ERR : ST_FAIL);
			continue;
		}
		st = merge(st, collect_child(&W.child[i], c.seq, &digest));
	}
	reply(c.seq, st, digest);
}

static void __attribute__((noreturn)) root_loop(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwaitinfo(&set, NULL) == SIGUSR1)
			root_command();
	}
}

/* ---- start-up ---- */

static void __attribute__((noreturn)) fail_start(const char *what)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "error %s: %s\n", what, strerror(errno));

	if (write(STATUS_FD, buf, (size_t) n) < 0)
		_exit(1);
	_exit(1);
}

static void detach(const char *dir, int status_fd)
{
	int fd;

	if (setsid() < 0)
		fail_start("setsid");
	if (chdir(dir))
		fail_start(dir);
	if (status_fd != STATUS_FD && dup2(status_fd, STATUS_FD) < 0)
		fail_start("dup2");
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		fail_start("/dev/null");
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	close_range(STATUS_FD + 1, ~0U, 0);
}

static void __attribute__((noreturn)) root_start(const char *dir, int nchildren, int status_fd)
{
	char buf[64];
	sigset_t set;
	int i, n;

	detach(dir, status_fd);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIG_ACK);
	sigprocmask(SIG_BLOCK, &set, NULL);
	W.idx = 0;
	W.next_idx = 1;
	for (i = 0; i < nchildren; i++)
		if (spawn_child(1, 0))
			fail_start("starting a child process");
	if (mem_init(&W.mem, W.seed, 0, W.mib))
		fail_start("filling memory");
	if (pool_start())
		fail_start("starting threads");
	snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (write_file("pid", buf, NULL))
		fail_start("writing pid file");
	n = snprintf(buf, sizeof(buf), "ok %d\n", getpid());
	if (write(STATUS_FD, buf, (size_t) n) < 0)
		_exit(1);
	close(STATUS_FD);
	root_loop();
}

static void usage(void)
{
	fprintf(stderr, "usage: zs-workload -d DIR [-m MIB] [-p CHILDREN] [-t THREADS] [-s SEED] [-e WORDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	int nchildren = 0, opt, fds[2];
	char buf[256];
	ssize_t len = 0, n;
	pid_t pid;

	W.mib = 64;
	W.seed = 1;
	while ((opt = getopt(argc, argv, "d:m:p:t:s:e:")) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'm':
			W.mib = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			nchildren = atoi(optarg);
			break;
		case 't':
			W.nthreads = atoi(optarg);
			break;
		case 's':
			W.seed = strtoull(optarg, NULL, 0);
			break;
		case 'e':
			wl_random_words = (unsigned) strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (!dir || W.mib == 0 || nchildren < 0 || nchildren >= WL_MAX_PROCS || W.nthreads < 0 || W.nthreads > 64)
		usage();
	if (pipe(fds))
		return perror("pipe"), 1;
	pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		close(fds[0]);
		root_start(dir, nchildren, fds[1]);
	}
	close(fds[1]);
	while ((size_t) len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - (size_t) len)) > 0)
		len += n;
	buf[len] = 0;
	if (strncmp(buf, "ok ", 3)) {
		fprintf(stderr, "zs-workload: %s", len ? buf : "start-up failed\n");
		return 1;
	}
	fputs(buf + 3, stdout);
	return 0;
}
