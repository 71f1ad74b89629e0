/* zanshin — OCI hooks, fd passing. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zanshin/linux.h"
#include "zanshin/utils.h"

int zs_send_fd(int sock, int fd, const char *name, zs_error_t *err)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = (void *) name, .iov_len = strlen(name)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		return zs_make_error(err, errno, "send the console fd to the console socket");
	return 0;
}

static int wait_with_timeout(pid_t pid, int timeout, int *status)
{
	int pfd = syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = {.fd = pfd, .events = POLLIN};
	int r;

	if (pfd >= 0 && timeout > 0) {
		do
			r = poll(&p, 1, timeout * 1000);
		while (r < 0 && errno == EINTR);
		close(pfd);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return 1;
		}
	} else if (pfd >= 0) {
		close(pfd);
	}
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int run_hook(const struct zs_hook *h, const char *kind, size_t idx, const char *state, zs_error_t *err)
{
	int in[2], out[2];
	pid_t pid;
	int status = 0, r;
	cleanup_free char *output = NULL;
	char *const empty_env[] = {NULL};

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return zs_make_error(err, errno, "pipe");
	pid = fork();
	if (pid < 0)
		return zs_make_error(err, errno, "fork hook");
	if (pid == 0) {
		char *const *argv = h->args && h->args[0] ? h->args : (char *const[]){h->path, NULL};
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		signal(SIGPIPE, SIG_DFL);
		execve(h->path, argv, h->env ? h->env : empty_env);
		dprintf(2, "exec %s: %s", h->path, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	signal(SIGPIPE, SIG_IGN);
	write_all(in[1], state, strlen(state));
	close(in[1]);
	r = wait_with_timeout(pid, h->timeout, &status);
	read_all_fd(out[0], "hook output", &output, NULL, NULL);
	close(out[0]);
	if (r == 1)
		return zs_make_error(err, ETIMEDOUT, "error running hook #%zu (%s): timeout after %d seconds", idx,
				     kind, h->timeout);
	if (r < 0)
		return zs_make_error(err, errno, "error running hook #%zu (%s): wait", idx, kind);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFSIGNALED(status)) {
			cleanup_free char *sig = xstrdup(strsignal(WTERMSIG(status)));
			sig[0] = tolower((unsigned char) sig[0]); /* as Go prints it */
			return zs_make_error(err, 0, "error running hook #%zu (%s): signal: %s, output: %s", idx, kind,
					     sig, output ? output : "");
		}
		return zs_make_error(err, 0, "error running hook #%zu (%s): exit status %d, output: %s", idx, kind,
				     WEXITSTATUS(status), output ? output : "");
	}
	return 0;
}

int zs_run_hooks(const struct zs_hook *hooks, size_t n, const char *kind, const char *state, zs_error_t *err)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = run_hook(&hooks[i], kind, i, state, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}
