/* Unit tests for lib/frame.c: the framing of zanshind's protocol (TAP),
 * over a socketpair: round trip, raw data after a header, and what a
 * hostile peer may send (bad length, NUL in the header, not JSON, no type,
 * an error frame, a closed connection). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zanshin/frame.h"
#include "zanshin/utils.h"

#include "check.h"

static void pair(struct zs_conn *a, struct zs_conn *b)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* each end names the other */
	*a = (struct zs_conn){.fd = sv[0], .peer = xstrdup("b")};
	*b = (struct zs_conn){.fd = sv[1], .peer = xstrdup("a")};
}

static void raw(struct zs_conn *c, const void *p, size_t len)
{
	if (write(c->fd, p, len) != (ssize_t) len)
		abort();
}

/* Receive after writing RAW bytes: the error message, or NULL on success. */
static char *recv_after(const void *bytes, size_t len)
{
	struct zs_conn a, b;
	zs_json *j = NULL;
	zs_error_t err = NULL;
	const char *type;
	char *msg = NULL;

	pair(&a, &b);
	raw(&a, bytes, len);
	zs_conn_close(&a);
	if (zs_frame_recv(&b, &j, &type, &err) < 0)
		msg = xstrdup(zs_error_msg(err));
	zs_json_free(j);
	zs_error_release(&err);
	zs_conn_close(&b);
	return msg;
}

int main(void)
{
	struct zs_conn a, b;
	zs_error_t err = NULL;
	zs_json *j = NULL;
	const char *type = NULL;
	char data[5] = {0}, *m;
	int r;

	pair(&a, &b);
	r = zs_frame_send(&a, "{\"type\":\"file\",\"size\":5}", 24, &err);
	r |= zs_conn_write(&a, "hello", 5, &err);
	r |= zs_frame_recv(&b, &j, &type, &err);
	check(r == 0 && strcmp(type, "file") == 0, "a frame round trip");
	r = zs_conn_read(&b, data, 5, &err);
	check(r == 0 && memcmp(data, "hello", 5) == 0 && b.bytes_in == 4 + 24 + 5, "raw data after the header");
	zs_json_free(j);
	zs_frame_send_error(&a, "no space left", &err);
	r = zs_frame_expect(&b, "have", &j, &err);
	check(r < 0 && strcmp(zs_error_msg(err), "a: no space left") == 0, "an error frame becomes the error");
	zs_error_release(&err);
	zs_frame_send(&a, "{\"type\":\"ok\"}", 13, &err);
	r = zs_frame_expect(&b, "have", &j, &err);
	check(r < 0 && strstr(zs_error_msg(err), "sent `ok` where `have` was expected") != NULL,
	      "an unexpected frame is named");
	zs_error_release(&err);
	zs_conn_close(&a);
	r = zs_frame_recv(&b, &j, &type, &err);
	check(r < 0 && strstr(zs_error_msg(err), "closed the connection") != NULL, "a closed connection is an error");
	zs_error_release(&err);
	zs_conn_close(&b);

	m = recv_after("\x7f\xff\xff\xff{}", 6);
	check(m && strstr(m, "bad length") != NULL, "a length over the bound is refused before allocating");
	free(m);
	m = recv_after("\0\0\0\0", 4);
	check(m && strstr(m, "bad length") != NULL, "an empty frame is refused");
	free(m);
	m = recv_after("\0\0\0\x0e{\"type\":\"x\0\"}", 18);
	check(m && strstr(m, "NUL byte") != NULL, "a NUL byte in the header is refused");
	free(m);
	m = recv_after("\0\0\0\x05{nope", 9);
	check(m && strstr(m, "message from") != NULL, "a header that is not JSON is refused");
	free(m);
	m = recv_after("\0\0\0\x0a{\"type\":1}", 14);
	check(m && strstr(m, "string `type`") != NULL, "a header without a string type is refused");
	free(m);
	m = recv_after("\0\0\0\x05[1,2]", 9);
	check(m && strstr(m, "string `type`") != NULL, "a header that is not an object is refused");
	free(m);
	m = recv_after("\0\0\0\x10{\"type\"", 11);
	check(m && strstr(m, "closed the connection") != NULL, "a truncated header is an error");
	free(m);
	return check_done();
}
