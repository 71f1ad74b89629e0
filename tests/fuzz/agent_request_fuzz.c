/* libFuzzer target for what a peer sends the target of a move: the input is
 * the byte stream of a connection (frames: a 4-byte big-endian length and a
 * JSON header, raw data after a header with "size"), read by the agent's own
 * frame reader (lib/frame.c) from one end of a socketpair, and each header
 * checked as the target checks it (agent/peer_request.c): offer, bundle,
 * image (ids and manifest), then each file header against the next file
 * of the manifest, its data skipped; commit and status are read as frames.
 * No store and no network: only the parsing and validation of peer input. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "peer_request.h"
#include "zanshin/error.h"
#include "zanshin/frame.h"
#include "zanshin/json.h"

#define MAX_INPUT (64u << 10) /* below a socketpair's buffer: one write */

static void skip_data(struct zs_conn *c, const zs_json *h)
{
	uint64_t size = 0;
	zs_error_t err = NULL;
	char buf[4096];

	if (zs_json_to_uint64(zs_json_get(h, "size"), "frame", "size", 0, &size, &err) < 0) {
		zs_error_release(&err);
		return;
	}
	while (size > 0) {
		size_t n = size < sizeof(buf) ? (size_t) size : sizeof(buf);
		if (zs_conn_read(c, buf, n, &err) < 0)
			break;
		size -= n;
	}
	zs_error_release(&err);
}

static void one_stream(int fd)
{
	struct zs_conn c = {.fd = fd};
	struct mfile *files = NULL;
	size_t nfiles = 0, next = 0;

	for (;;) {
		zs_json *h = NULL;
		const char *type = NULL;
		zs_error_t err = NULL;
		bool lazy;
		uint64_t total, size;
		struct bundle_hdr b;

		if (zs_frame_recv(&c, &h, &type, &err) < 0) {
			if (err == NULL || zs_error_msg(err) == NULL || zs_error_msg(err)[0] == '\0')
				abort(); /* every refusal says why */
			zs_error_release(&err);
			break;
		}
		if (strcmp(type, "offer") == 0) {
			peer_check_offer(h, &lazy, &err);
		} else if (strcmp(type, "bundle") == 0) {
			peer_parse_bundle(h, &b, &err);
			peer_bundle_free(&b);
		} else if (strcmp(type, "image") == 0) {
			peer_mfiles_free(files, nfiles);
			files = NULL;
			nfiles = next = 0;
			if (peer_check_image(h, &err) < 0 ||
			    peer_parse_manifest(h, &files, &nfiles, &total, &err) < 0) {
				peer_mfiles_free(files, nfiles);
				files = NULL;
				nfiles = 0;
			}
		} else if (strcmp(type, "file") == 0 && next < nfiles) {
			if (peer_check_file(h, &files[next], &size, &err) == 0) {
				/* what the receiver then writes: a plain name in its directory */
				if (!valid_name(files[next].name) || strchr(files[next].name, '/'))
					abort();
				next++;
			}
		}
		skip_data(&c, h);
		zs_error_release(&err);
		zs_json_free(h);
	}
	peer_mfiles_free(files, nfiles);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];

	if (size > MAX_INPUT)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (size && write(sv[1], data, size) != (ssize_t) size)
		abort();
	close(sv[1]);
	one_stream(sv[0]);
	close(sv[0]);
	return 0;
}
