// SPDX-License-Identifier: Apache-2.0
/*
 * recvtty: receives the pty master of a container over a console socket
 * (--console-socket), as the runc integration suite expects of its helper:
 *
 *   recvtty [--mode single|null] [--pid-file FILE] [--no-stdin] SOCKET
 *
 * single: accept one connection, copy the pty to stdout (and stdin to the
 *         pty unless --no-stdin), exit when the pty closes.
 * null:   accept any number of connections, keep every pty open and throw
 *         its output away, forever (until killed).
 *
 * Written for zanshin's tests; the runc source package ships this helper
 * only as Go source, which needs vendored modules we do not have.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 256

static void die(const char *what)
{
	fprintf(stderr, "recvtty: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int recv_fd(int conn)
{
	char buf[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
		errno = EBADMSG;
		return -1;
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int copy_once(int from, int to)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf)), off = 0;

	if (n <= 0)
		return -1;
	while (to >= 0 && off < n) {
		ssize_t w = write(to, buf + off, n - off);
		if (w < 0)
			return errno == EINTR ? 0 : -1;
		off += w;
	}
	return 0;
}

static int accept_pty(int lsock)
{
	int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC), fd;

	if (conn < 0)
		return -1;
	fd = recv_fd(conn);
	close(conn);
	return fd;
}

static void run_single(int lsock, int use_stdin)
{
	struct pollfd p[2];
	int master = accept_pty(lsock);

	if (master < 0)
		die("receiving pty");
	close(lsock);
	p[0] = (struct pollfd){.fd = master, .events = POLLIN};
	p[1] = (struct pollfd){.fd = use_stdin ? 0 : -1, .events = POLLIN};
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (p[0].revents) {
			if (copy_once(master, 1) < 0)
				exit(0);
		}
		if (p[1].revents) {
			if (copy_once(0, master) < 0)
				p[1].fd = -1; /* stdin closed: keep relaying output */
		}
	}
}

static void run_null(int lsock)
{
	struct pollfd p[MAX_FDS];
	int n = 1, i;

	p[0] = (struct pollfd){.fd = lsock, .events = POLLIN};
	for (;;) {
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 1; i < n; i++) {
			if (p[i].revents && copy_once(p[i].fd, -1) < 0) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
		if (p[0].revents & POLLIN) {
			int fd = accept_pty(lsock);
			if (fd >= 0 && n < MAX_FDS)
				p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
			else if (fd >= 0)
				close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	const char *mode = "single", *pidfile = NULL, *path = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int use_stdin = 1, lsock, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-' && a[2] != 0)
			a++; /* accept -flag and --flag alike */
		if ((!strcmp(a, "-mode") || !strcmp(a, "-m")) && i + 1 < argc)
			mode = argv[++i];
		else if (!strncmp(a, "-mode=", 6))
			mode = a + 6;
		else if (!strcmp(a, "-pid-file") && i + 1 < argc)
			pidfile = argv[++i];
		else if (!strncmp(a, "-pid-file=", 10))
			pidfile = a + 10;
		else if (!strcmp(a, "-no-stdin"))
			use_stdin = 0;
		else if (a[0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "usage: recvtty [--mode single|null] [--pid-file F] [--no-stdin] SOCKET\n");
			return 2;
		}
	}
	if (!path || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "recvtty: need a socket path shorter than %zu bytes\n", sizeof(sa.sun_path));
		return 2;
	}
	if (strcmp(mode, "single") && strcmp(mode, "null")) {
		fprintf(stderr, "recvtty: need to select a valid mode: %s\n", mode);
		return 2;
	}
	strcpy(sa.sun_path, path);
	lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0)
		die("socket");
	if (bind(lsock, (struct sockaddr *) &sa, sizeof(sa)) < 0)
		die(path);
	if (listen(lsock, 16) < 0)
		die("listen");
	if (pidfile) {
		FILE *f = fopen(pidfile, "we");
		if (!f)
			die(pidfile);
		fprintf(f, "%d", getpid());
		if (fclose(f))
			die(pidfile);
	}
	if (!strcmp(mode, "single"))
		run_single(lsock, use_stdin);
	else
		run_null(lsock);
	return 0;
}
