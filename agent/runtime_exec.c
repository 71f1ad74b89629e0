/* zanshind — running the zanshin runtime binary (checkpoint, restore,
 * delete): the agent never does a container's kernel work itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/log.h"
#include "zanshin/container.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

char *rt_status(struct agent *a, const char *id)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_status *st = NULL;
	char *s;

	if (zs_status_load(a->root, id, &st, &e) < 0)
		return NULL;
	s = xstrdup(zs_container_status(st));
	zs_status_free(st);
	return s;
}

char **rt_argv(struct agent *a, const char *log, char *const args[])
{
	size_t n = 0, i = 0;
	char **v;

	while (args[n])
		n++;
	v = xzalloc(sizeof(*v) * (n + 10));
	v[i++] = a->runtime;
	v[i++] = "--root";
	v[i++] = a->root;
	v[i++] = "--remnant-root";
	v[i++] = a->remnant_root;
	if (log) {
		v[i++] = "--log";
		v[i++] = (char *) log;
	}
	memcpy(v + i, args, sizeof(*v) * n);
	return v;
}

/* In a child about to exec: default signal dispositions, no signal blocked. */
static void child_signals(void)
{
	sigset_t none;

	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In a child about to exec: default signals, fds 0-2 given, nothing else. */
static void child_exec(char **argv, int in, int out, int errfd)
{
	child_signals();
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(127);
	syscall(SYS_close_range, 3, ~0U, 0);
	execv(argv[0], argv);
	_exit(127);
}

/* The last lines of FILE, for an error message. */
static char *tail_of(const char *path)
{
	cleanup_free char *buf = NULL;
	cleanup_error zs_error_t e = NULL;
	size_t len = 0;
	char *s;

	if (read_file(path, &buf, &len, &e) < 0 || len == 0)
		return xstrdup("(no output)");
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	s = len > 600 ? buf + len - 600 : buf;
	return xstrdup(s);
}

/* OUT: the command's log; ALT (may be NULL): where else it may have
 * written, when OUT is empty. */
static int wait_status(pid_t pid, const char *what, const char *out, const char *alt, zs_error_t *err)
{
	int status = 0;
	cleanup_free char *tail = NULL;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return zs_make_error(err, errno, "wait for %s", what);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	tail = tail_of(out);
	if (alt && strcmp(tail, "(no output)") == 0) {
		free(tail);
		tail = tail_of(alt);
	}
	if (WIFEXITED(status))
		return zs_make_error(err, -EIO, "%s failed (exit %d): %s", what, WEXITSTATUS(status), tail);
	return zs_make_error(err, -EIO, "%s killed by signal %d: %s", what, WTERMSIG(status), tail);
}

/* KEEP[i] becomes fd 3 + i of the child (stdin /dev/null, stdout and
 * stderr to OUT); nothing else is inherited. */
pid_t spawn_fds(char **argv, const char *out, const int *keep, size_t n, zs_error_t *err)
{
	cleanup_close int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cleanup_close int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid_t pid;

	if (in < 0 || ofd < 0)
		return zs_make_error(err, errno, "open `%s`", ofd < 0 ? out : "/dev/null");
	pid = fork();
	if (pid < 0)
		return zs_make_error(err, errno, "fork");
	if (pid == 0) {
		int hi[8];
		size_t i;
		if (n > 8)
			_exit(127);
		/* above every fd the dup2s below overwrite */
		for (i = 0; i < n; i++)
			if ((hi[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 64)) < 0)
				_exit(127);
		child_signals();
		if (dup2(in, 0) < 0 || dup2(ofd, 1) < 0 || dup2(ofd, 2) < 0)
			_exit(127);
		for (i = 0; i < n; i++)
			if (dup2(hi[i], 3 + (int) i) < 0) /* dup2: not close-on-exec */
				_exit(127);
		syscall(SYS_close_range, 3 + (unsigned) n, ~0U, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The last lines of a command's output, for an error message. */
char *rt_output_tail(const char *path)
{
	return tail_of(path);
}

int rt_run(struct agent *a, const char *log_dir, const char *what, char *const args[], zs_error_t *err)
{
	cleanup_free char *out = xasprintf("%s/%s.out", log_dir, what), *desc = xasprintf("zanshin %s", what);
	cleanup_free char **argv = rt_argv(a, NULL, args);
	cleanup_close int in = -1, ofd = -1;
	pid_t pid;

	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (in < 0 || ofd < 0)
		return zs_make_error(err, errno, "open `%s`", ofd < 0 ? out : "/dev/null");
	pid = fork();
	if (pid < 0)
		return zs_make_error(err, errno, "fork");
	if (pid == 0)
		child_exec(argv, in, ofd, ofd);
	return wait_status(pid, desc, out, NULL, err);
}

/* The holder of a container's stdio: keeps its stdin open and copies its
 * output to LOG until every writer is gone.  Detached (own session, a
 * grandchild): it outlives the agent, as the container does. */
static int spawn_holder(int in_w, int out_r, const char *log, zs_error_t *err)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return zs_make_error(err, errno, "fork");
	if (pid == 0) {
		char buf[65536];
		ssize_t r;
		int lfd;
		setsid();
		if (fork() != 0)
			_exit(0);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (dup2(in_w, 3) < 0 || dup2(out_r, 4) < 0 || (lfd >= 0 && dup2(lfd, 5) < 0))
			_exit(1);
		syscall(SYS_close_range, 6, ~0U, 0);
		for (int i = 0; i < 3; i++) {
			int n = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (n >= 0 && n != i) {
				dup2(n, i);
				close(n);
			}
		}
		while ((r = read(4, buf, sizeof(buf))) != 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				break;
			if (lfd >= 0 && write(5, buf, (size_t) r) < 0)
				lfd = -1;
		}
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

int rt_restore_start(struct agent *a, struct move *m, const char *id, const char *img, const char *bundle,
		     const char *work, bool lazy, pid_t *pidp, zs_error_t *err)
{
	cleanup_free char *rlog = xasprintf("%s/restore-runtime.log", work), *clog = NULL;
	char *args[] = {"restore",     "-d",	   "--image-path",  (char *) img, "--work-path",
			(char *) work, "--bundle", (char *) bundle, (char *) id,  NULL,
			NULL};
	cleanup_free char **argv = NULL;
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	cleanup_error zs_error_t je = NULL;
	pid_t pid;
	int ret = 0;

	if (lazy || a->lazy_restore) {
		/* post-copy: the image's pages come from `criu lazy-pages`
		 * (postcopy.c); --lazy-restore: from the store, filled by
		 * zanshin's own fault server, tracking kept */
		memmove(args + 3, args + 2, sizeof(*args) * 8);
		args[2] = lazy ? "--lazy-pages" : "--lazy";
	}
	argv = rt_argv(a, rlog, args);
	clog = xasprintf("%s/logs/%s.log", a->state_dir, id);
	if (mkdir_p(work, 0700, err) < 0)
		return -1;
	unlink(rlog);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		ret = zs_make_error(err, errno, "pipe");
		goto out;
	}
	if (spawn_holder(in[1], out[0], clog, err) < 0) {
		ret = -1;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = zs_make_error(err, errno, "fork");
		goto out;
	}
	if (pid == 0)
		child_exec(argv, in[0], out[1], out[1]);
	*pidp = pid;
	if (m) {
		m->restore_pid = pid;
		if (journal_put(a, m, NULL, &je) < 0)
			zs_log("warning", "%s", zs_error_msg(je));
	}
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return ret;
}

int rt_restore_wait(struct agent *a, pid_t pid, const char *id, const char *work, zs_error_t *err)
{
	cleanup_free char *rlog = xasprintf("%s/restore-runtime.log", work);
	cleanup_free char *clog = xasprintf("%s/logs/%s.log", a->state_dir, id);
	cleanup_free char *desc = xasprintf("zanshin restore of %s", id);

	return wait_status(pid, desc, rlog, clog, err);
}

int rt_restore(struct agent *a, struct move *m, const char *id, const char *img, const char *bundle, const char *work,
	       zs_error_t *err)
{
	pid_t pid;

	if (rt_restore_start(a, m, id, img, bundle, work, false, &pid, err) < 0)
		return -1;
	/* the container's log also has what the restore wrote to stderr */
	usleep(50000);
	return rt_restore_wait(a, pid, id, work, err);
}
