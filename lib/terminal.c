/* zanshin — terminal plumbing for run/exec without --console-socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "zanshin/container_internal.h"
#include "zanshin/utils.h"

int zs_recv_fd(int sock, zs_error_t *err)
{
	char name[4096], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0)
		return zs_make_error(err, errno, "receive the terminal");
	c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_type != SCM_RIGHTS)
		return zs_make_error(err, EINVAL, "receive the terminal: no fd");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

void zs_tty_proxy(int master)
{
	struct termios saved, raw;
	bool is_tty = tcgetattr(0, &saved) == 0;
	struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = master, .events = POLLIN}};
	char buf[8192];

	if (is_tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	for (;;) {
		ssize_t n;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(master, buf, sizeof(buf));
			if (n <= 0)
				break;
			write_all(1, buf, n);
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0)
				p[0].fd = -1; /* stdin closed: keep reading output */
			else
				write_all(master, buf, n);
		}
	}
	if (is_tty)
		tcsetattr(0, TCSANOW, &saved);
}
