/* zanshin — the parent<->child sync socket (SOCK_SEQPACKET, one struct
 * zs_sync_msg per packet).  The child runs inside the container until it
 * execs; whatever it sends is untrusted (issue 18, item 2): every packet is
 * checked for size, type and number, and its text is cut to the buffer,
 * NUL-terminated and stripped of non-printable bytes before anyone prints
 * it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "zanshin/linux.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

/* Levels a child may log at, by index (the err_no of ZS_SYNC_LOG). */
static const char *const log_levels[] = {"error", "warning", "info", "debug"};
#define N_LOG_LEVELS (sizeof(log_levels) / sizeof(log_levels[0]))

int zs_sync_send(int fd, int type, int err_no, const char *msg)
{
	struct zs_sync_msg m = {.type = type, .err_no = err_no};

	if (msg)
		snprintf(m.msg, sizeof(m.msg), "%s", msg);
	return send(fd, &m, sizeof(m), MSG_NOSIGNAL) < 0 ? -1 : 0;
}

void zs_sanitize_text(char *dst, size_t dst_size, const char *src, size_t src_len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dst_size == 0)
		return;
	for (i = 0; i < src_len && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char) src[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dst_size)
				break;
			dst[o++] = c;
			continue;
		}
		if (o + 4 >= dst_size)
			break;
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 0xf];
	}
	dst[o] = '\0';
}

static bool err_no_valid(int type, int v)
{
	switch (type) {
	case ZS_SYNC_ERROR:
		return v > -4096 && v < 4096; /* an errno, negative = quiet */
	case ZS_SYNC_HOOKS_DONE:
		return v > 0; /* the init's host pid */
	case ZS_SYNC_LOG:
		return v >= 0 && (size_t) v < N_LOG_LEVELS;
	default:
		return v == 0;
	}
}

int zs_sync_decode(const void *buf, size_t len, struct zs_sync_msg *m, zs_error_t *err)
{
	struct zs_sync_msg raw;

	memset(m, 0, sizeof(*m));
	if (len != sizeof(raw))
		return zs_make_error(err, -EPROTO, "sync socket: malformed message of %zu bytes (expected %zu)", len,
				     sizeof(raw));
	memcpy(&raw, buf, sizeof(raw));
	if (raw.type < ZS_SYNC_GO || raw.type > ZS_SYNC_LOG)
		return zs_make_error(err, -EPROTO, "sync socket: unknown message type %d", raw.type);
	if (!err_no_valid(raw.type, raw.err_no))
		return zs_make_error(err, -EPROTO, "sync socket: message type %d: invalid number %d", raw.type,
				     raw.err_no);
	m->type = raw.type;
	m->err_no = raw.err_no;
	zs_sanitize_text(m->msg, sizeof(m->msg), raw.msg, sizeof(raw.msg));
	return 0;
}

int zs_sync_recv(int fd, struct zs_sync_msg *m, zs_error_t *err)
{
	char buf[sizeof(struct zs_sync_msg)];
	ssize_t n;

	memset(m, 0, sizeof(*m));
	/* MSG_TRUNC: the packet's real length, so an oversized one is refused
	 * rather than read in part */
	do
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return zs_make_error(err, errno, "read from the container's init");
	if (n == 0)
		return 0; /* EOF: m->type = 0 */
	return zs_sync_decode(buf, n, m, err);
}

int zs_sync_recv_reply(int fd, struct zs_sync_msg *m, zs_error_t *err)
{
	int ret;

	for (;;) {
		ret = zs_sync_recv(fd, m, err);
		if (ret < 0 || m->type != ZS_SYNC_LOG)
			return ret;
		zs_log(log_levels[m->err_no], "%s", m->msg);
	}
}

static void log_to_sync(const char *level, const char *msg, void *data)
{
	size_t i;

	for (i = 0; i < N_LOG_LEVELS - 1; i++)
		if (strcmp(level, log_levels[i]) == 0)
			break;
	zs_sync_send(*(int *) data, ZS_SYNC_LOG, (int) i, msg);
}

void zs_sync_log_to_parent(int *sync_fd)
{
	zs_log_redirect(log_to_sync, sync_fd);
}
