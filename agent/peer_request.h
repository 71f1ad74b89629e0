/* zanshind — validation of what a peer sends the target of a move (offer,
 * bundle and image headers, each file's header), apart from the socket and
 * the store, so that a fuzz target (tests/fuzz/agent_request_fuzz.c) runs
 * exactly the checks the agent runs. */
#ifndef ZANSHIND_PEER_REQUEST_H
#define ZANSHIND_PEER_REQUEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"
#include "zanshin/json.h"

#define MAX_CONFIG (1u << 20)

/* offer: a valid move id, container id, bundle and rootfs digest, a known
 * mode; *LAZY: post-copy. */
int peer_check_offer(const zs_json *offer, bool *lazy, zs_error_t *err);

struct bundle_hdr {
	char *digest, *rdigest;
	uint64_t csize, size;
	bool reuse;
};
int peer_parse_bundle(const zs_json *h, struct bundle_hdr *b, zs_error_t *err);
void peer_bundle_free(struct bundle_hdr *b);

/* image: a valid image id and (a diff) parent image id */
int peer_check_image(const zs_json *h, zs_error_t *err);

struct mfile {
	char *name, *digest;
	uint64_t size;
};
/* image: its `files`, 1 to AGENT_MAX_FILES plain names, each once, with a
 * SHA-256 and a bounded size; *OUT is set even on error (free it). */
int peer_parse_manifest(const zs_json *h, struct mfile **out, size_t *n, uint64_t *total, zs_error_t *err);
void peer_mfiles_free(struct mfile *v, size_t n);

/* file: the header of the next file, WANT in the manifest; *SIZE its size */
int peer_check_file(const zs_json *f, const struct mfile *want, uint64_t *size, zs_error_t *err);

#endif
