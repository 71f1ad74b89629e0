/* zanshin — framed JSON messages over a socket or a TLS session
 * (include/zanshin/frame.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "zanshin/frame.h"
#include "zanshin/utils.h"

static const char *peer_name(const struct zs_conn *c)
{
	return c->peer ? c->peer : "peer";
}

static ssize_t conn_read_some(struct zs_conn *c, void *buf, size_t n, zs_error_t *err)
{
	ssize_t r;

	for (;;) {
		if (c->tls == NULL) {
			r = read(c->fd, buf, n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return zs_make_error(err, errno, "read from %s", peer_name(c));
			return r;
		}
		r = gnutls_record_recv((gnutls_session_t) c->tls, buf, n);
		if (r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;
		if (r < 0)
			return zs_make_error(err, -EIO, "TLS read from %s: %s", peer_name(c),
					     r == GNUTLS_E_AGAIN ? "connection lost or timed out"
								 : gnutls_strerror((int) r));
		return r;
	}
}

int zs_conn_read(struct zs_conn *c, void *buf, size_t n, zs_error_t *err)
{
	char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = conn_read_some(c, p + done, n - done, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return zs_make_error(err, -ECONNRESET, "%s closed the connection", peer_name(c));
		done += (size_t) r;
	}
	c->bytes_in += n;
	return 0;
}

int zs_conn_write(struct zs_conn *c, const void *buf, size_t n, zs_error_t *err)
{
	const char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r;
		if (c->tls == NULL) {
			r = send(c->fd, p + done, n - done, MSG_NOSIGNAL);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return zs_make_error(err, errno, "write to %s", peer_name(c));
		} else {
			r = gnutls_record_send((gnutls_session_t) c->tls, p + done, n - done);
			if (r == GNUTLS_E_INTERRUPTED)
				continue;
			if (r < 0)
				return zs_make_error(err, -EIO, "TLS write to %s: %s", peer_name(c),
						     r == GNUTLS_E_AGAIN ? "connection lost or timed out"
									 : gnutls_strerror((int) r));
		}
		done += (size_t) r;
	}
	c->bytes_out += n;
	return 0;
}

void zs_conn_close(struct zs_conn *c)
{
	if (c->tls) {
		gnutls_bye((gnutls_session_t) c->tls, GNUTLS_SHUT_WR);
		gnutls_deinit((gnutls_session_t) c->tls);
		c->tls = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->peer);
	c->peer = NULL;
}

int zs_frame_send(struct zs_conn *c, const char *json, size_t len, zs_error_t *err)
{
	unsigned char hdr[4];
	cleanup_free char *buf = NULL;

	if (len > ZS_FRAME_MAX)
		return zs_make_error(err, -EMSGSIZE, "message to %s too big (%zu bytes)", peer_name(c), len);
	hdr[0] = (unsigned char) (len >> 24);
	hdr[1] = (unsigned char) (len >> 16);
	hdr[2] = (unsigned char) (len >> 8);
	hdr[3] = (unsigned char) len;
	/* one record for length and header */
	buf = xmalloc(len + 4);
	memcpy(buf, hdr, 4);
	memcpy(buf + 4, json, len);
	return zs_conn_write(c, buf, len + 4, err);
}

int zs_frame_send_gen(struct zs_conn *c, zs_jgen *g, zs_error_t *err)
{
	size_t len = 0;
	cleanup_free char *s = zs_jgen_result(g, &len);

	return zs_frame_send(c, s, len, err);
}

int zs_frame_recv(struct zs_conn *c, zs_json **out, const char **type, zs_error_t *err)
{
	unsigned char hdr[4];
	cleanup_free char *buf = NULL;
	zs_json *j = NULL;
	uint32_t len;

	*out = NULL;
	if (zs_conn_read(c, hdr, 4, err) < 0)
		return -1;
	len = (uint32_t) hdr[0] << 24 | (uint32_t) hdr[1] << 16 | (uint32_t) hdr[2] << 8 | hdr[3];
	if (len == 0 || len > ZS_FRAME_MAX)
		return zs_make_error(err, -EMSGSIZE, "message from %s: bad length %u (at most %u)", peer_name(c), len,
				     ZS_FRAME_MAX);
	buf = xmalloc(len + 1);
	if (zs_conn_read(c, buf, len, err) < 0)
		return -1;
	buf[len] = '\0';
	if (strlen(buf) != len)
		return zs_make_error(err, -EBADMSG, "message from %s: NUL byte in the header", peer_name(c));
	if (zs_json_parse_buf(buf, "message", &j, err) < 0)
		return zs_error_wrap(err, "message from %s", peer_name(c));
	*type = zs_json_string_value(zs_json_get(j, "type"));
	if (!zs_json_is_object(j) || *type == NULL) {
		zs_json_free(j);
		return zs_make_error(err, -EBADMSG, "message from %s: not an object with a string `type`",
				     peer_name(c));
	}
	*out = j;
	return 0;
}

int zs_frame_expect(struct zs_conn *c, const char *want, zs_json **out, zs_error_t *err)
{
	const char *type = NULL;
	zs_json *j = NULL;

	*out = NULL;
	if (zs_frame_recv(c, &j, &type, err) < 0)
		return -1;
	if (strcmp(type, want) == 0) {
		*out = j;
		return 0;
	}
	if (strcmp(type, "error") == 0) {
		const char *m = zs_json_string_value(zs_json_get(j, "error"));
		zs_make_error(err, -EPROTO, "%s: %s", peer_name(c), m ? m : "error without a message");
	} else {
		zs_make_error(err, -EPROTO, "%s sent `%s` where `%s` was expected", peer_name(c), type, want);
	}
	zs_json_free(j);
	return -1;
}

int zs_frame_send_error(struct zs_conn *c, const char *msg, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "error");
	zs_jgen_kv_string(g, "error", msg);
	zs_jgen_map_close(g);
	return zs_frame_send_gen(c, g, err);
}

int zs_agent_connect(const char *path, struct zs_conn *c, zs_error_t *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	c->fd = -1;
	c->tls = NULL;
	c->peer = NULL;
	if (path == NULL)
		path = ZS_AGENT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return zs_make_error(err, -ENAMETOOLONG, "agent socket path `%s` is too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return zs_make_error(err, errno, "socket");
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return zs_make_error(err, e, "cannot reach the node agent zanshind at `%s` (is it running?)", path);
	}
	c->fd = fd;
	c->peer = xstrdup("zanshind");
	return 0;
}
