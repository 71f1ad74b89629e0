/* zanshin — framed messages between zanshind and its peers / local clients.
 *
 * A connection (struct zs_conn) is a socket, wrapped in a TLS session when
 * TLS is set (peers; the local Unix socket is plain).  A frame is a 4-byte
 * big-endian length and that many bytes of one JSON object with a string
 * member "type".  When a frame's header has "size": N, N bytes of raw data
 * follow it (file contents), read by the receiver with zs_conn_read().
 * Headers are bounded (ZS_FRAME_MAX) so a peer cannot make us allocate
 * without limit; everything in them is validated by the receiver. */
#ifndef ZANSHIN_FRAME_H
#define ZANSHIN_FRAME_H
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"
#include "zanshin/json.h"

#define ZS_FRAME_MAX (1u << 20)

struct zs_conn {
	int fd;
	void *tls;  /* gnutls_session_t, or NULL for a plain socket */
	char *peer; /* the peer's node name, from its certificate (TLS only) */
	uint64_t bytes_in, bytes_out;
};

/* Exactly N bytes; an error names the peer and says whether it closed. */
int zs_conn_read(struct zs_conn *c, void *buf, size_t n, zs_error_t *err);
int zs_conn_write(struct zs_conn *c, const void *buf, size_t n, zs_error_t *err);
/* Close (TLS bye first when TLS), free the peer name; C itself stays. */
void zs_conn_close(struct zs_conn *c);

/* Send the JSON text of one object as a frame. */
int zs_frame_send(struct zs_conn *c, const char *json, size_t len, zs_error_t *err);
/* Send what the generator holds (and free nothing). */
int zs_frame_send_gen(struct zs_conn *c, zs_jgen *g, zs_error_t *err);
/* Receive one frame: a JSON object with a string "type"; *TYPE points into
 * *OUT.  An error when the frame is too big, not JSON or has no type. */
int zs_frame_recv(struct zs_conn *c, zs_json **out, const char **type, zs_error_t *err);
/* Receive a frame that must be of type WANT; a frame {"type": "error",
 * "error": TEXT} becomes an error with TEXT. */
int zs_frame_expect(struct zs_conn *c, const char *want, zs_json **out, zs_error_t *err);
/* {"type": "error", "error": MSG} */
int zs_frame_send_error(struct zs_conn *c, const char *msg, zs_error_t *err);

/* The local agent's Unix socket (zanshind --socket). */
#define ZS_AGENT_SOCKET "/run/zanshin/zanshind.sock"
/* Connect to the agent's socket PATH (NULL: the default). */
int zs_agent_connect(const char *path, struct zs_conn *c, zs_error_t *err);

#endif
