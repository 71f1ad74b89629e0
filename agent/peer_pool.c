/* zanshind — a warm connection per node pair.
 *
 * A move runs in a child of the agent (one per local request).  When it
 * ended cleanly (done: the target answered, the protocol is between two
 * messages) that child keeps its TLS connection and becomes the peer's
 * holder for AGENT_PEER_IDLE_S seconds: it listens on an abstract Unix
 * socket named for the agent's state directory and the peer (SOCK_SEQPACKET,
 * root only by SO_PEERCRED).  The next `migrate` to that peer, in its own
 * child, hands its request and its client's socket to the holder
 * (SCM_RIGHTS) and is done: the holder runs the move on the connection it
 * holds — no TCP or TLS handshake, one round trip (ping) to check the
 * connection is alive, a new connection when it is not.  The holder does
 * not listen while a move runs (a second move to the peer meanwhile makes
 * a connection of its own), and it lets go when the idle time ends, the
 * peer closes, or the agent is stopped (--stop pipe closed). */
#define _GNU_SOURCE
#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/digest.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define MAX_REQUEST (64u << 10)

static struct zs_conn pool = {.fd = -1};
static char *pool_peer;

static void pool_drop(void)
{
	if (pool.fd >= 0 || pool.tls)
		zs_conn_close(&pool);
	pool.fd = -1;
	free(pool_peer);
	pool_peer = NULL;
}

/* {"type":"ping"} → {"type":"pong"}, within a short time: the held
 * connection still reaches the peer. */
static int ping(struct agent *a, struct zs_conn *c, zs_error_t *err)
{
	cleanup_json zs_json *pong = NULL;
	int r;

	conn_set_timeout(c->fd, a->io_timeout < 5 ? a->io_timeout : 5);
	r = zs_frame_send(c, "{\"type\":\"ping\"}", 15, err);
	if (r == 0)
		r = zs_frame_expect(c, "pong", &pong, err);
	conn_set_timeout(c->fd, a->io_timeout);
	return r;
}

int peer_conn_get(struct agent *a, const char *name, struct zs_conn *c, bool *warm, zs_error_t *err)
{
	*warm = false;
	if (pool_peer && strcmp(pool_peer, name) == 0) {
		cleanup_error zs_error_t e = NULL;
		if (ping(a, &pool, &e) == 0) {
			*c = pool; /* the ping's bytes count as this move's */
			pool = (struct zs_conn){.fd = -1};
			free(pool_peer);
			pool_peer = NULL;
			*warm = true;
			return 0;
		}
		zs_log("info", "warm connection to %s lost (%s): connecting again", name, zs_error_msg(e));
	}
	pool_drop();
	return tls_connect(a, name, c, err);
}

void peer_conn_put(struct zs_conn *c, const char *name, bool clean)
{
	if (!clean || c->fd < 0 || c->tls == NULL) {
		zs_conn_close(c);
		return;
	}
	pool_drop();
	pool = *c;
	pool.bytes_in = pool.bytes_out = 0;
	pool_peer = xstrdup(name);
	*c = (struct zs_conn){.fd = -1};
}

/* The holder's abstract socket name for PEER: the agent's state
 * directory and the peer, hashed. */
static socklen_t holder_addr(struct agent *a, const char *peer, struct sockaddr_un *sa)
{
	cleanup_free char *key = xasprintf("%s\n%s", a->state_dir, peer);
	uint8_t d[ZS_DIGEST_LEN];
	char hex[2 * ZS_DIGEST_LEN + 1];
	int n;

	zs_digest_buf(key, strlen(key), d);
	zs_digest_hex(d, hex);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "zanshind-peer-%.32s", hex);
	return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + (size_t) n);
}

int peer_pool_handoff(struct agent *a, const char *to, int client_fd, const char *request)
{
	struct sockaddr_un sa;
	socklen_t len;
	char ack = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *) request, .iov_len = strlen(request)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	cleanup_close int fd = -1;

	if (to == NULL || !valid_name(to) || iov.iov_len > MAX_REQUEST)
		return 0;
	len = holder_addr(a, to, &sa);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *) &sa, len) < 0)
		return 0; /* no holder, or it is busy: a connection of our own */
	conn_set_timeout(fd, 10);
	memset(u.buf, 0, sizeof(u.buf));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &client_fd, sizeof(int));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 || read(fd, &ack, 1) != 1 || ack != 'y')
		return 0; /* it let go meanwhile */
	return 1;
}

/* Take one request from the socket CFD: its JSON and the client's fd. */
static int take_job(int cfd, zs_json **q, int *client, zs_error_t *err)
{
	cleanup_free char *buf = xmalloc(MAX_REQUEST + 1);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = MAX_REQUEST};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	ssize_t n;

	*client = -1;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != 0)
		return zs_make_error(err, -EPERM, "warm connection: a request from uid %d refused", (int) cred.uid);
	n = recvmsg(cfd, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return zs_make_error(err, -EBADMSG, "warm connection: a malformed request");
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(client, CMSG_DATA(cm), sizeof(int));
	buf[n] = '\0';
	if (*client < 0 || zs_json_parse_buf(buf, "request", q, err) < 0) {
		if (*client >= 0)
			close(*client);
		*client = -1;
		return zs_make_error(err, -EBADMSG, "warm connection: a request without a client or not JSON");
	}
	return 0;
}

/* Listen for the next move to the held peer: the listening fd, or -1
 * (another process holds that peer already). */
static int holder_listen(struct agent *a)
{
	struct sockaddr_un sa;
	socklen_t len = holder_addr(a, pool_peer, &sa);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *) &sa, len) < 0 || listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void peer_pool_serve(struct agent *a, void (*run)(struct agent *a, struct zs_conn *c, const zs_json *q))
{
	while (pool_peer) {
		struct pollfd p[3];
		cleanup_error zs_error_t err = NULL;
		cleanup_json zs_json *q = NULL;
		int lfd = holder_listen(a), cfd, client = -1, r;
		if (lfd < 0)
			break;
		p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = pool.fd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = a->stop_fd, .events = POLLIN};
		r = poll(p, a->stop_fd >= 0 ? 3 : 2, AGENT_PEER_IDLE_S * 1000);
		if (r <= 0 || p[1].revents || (a->stop_fd >= 0 && p[2].revents)) {
			close(lfd);
			break;
		}
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		close(lfd); /* not listening while the move runs */
		if (cfd < 0)
			continue;
		if (take_job(cfd, &q, &client, &err) < 0 || write(cfd, "y", 1) != 1) {
			if (err)
				zs_log("warning", "%s", zs_error_msg(err));
			if (client >= 0)
				close(client);
			close(cfd);
			continue;
		}
		close(cfd);
		{
			struct zs_conn c = {.fd = client, .peer = xstrdup("local client")};
			conn_set_timeout(client, AGENT_IO_TIMEOUT_S);
			run(a, &c, q);
			zs_conn_close(&c);
		}
	}
	pool_drop();
}

int peer_wait_next(struct agent *a, struct zs_conn *c, int seconds)
{
	struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = a->stop_fd, .events = POLLIN}};
	int r;

	if (c->tls && gnutls_record_check_pending((gnutls_session_t) c->tls) > 0)
		return 1;
	r = poll(p, a->stop_fd >= 0 ? 2 : 1, seconds * 1000);
	if (r <= 0 || (a->stop_fd >= 0 && p[1].revents))
		return 0;
	return 1;
}
