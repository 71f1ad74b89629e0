/* zanshind — validation of a peer's requests (agent/peer_request.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "peer_request.h"
#include "zanshin/image_manifest.h"
#include "zanshin/config.h"
#include "zanshin/utils.h"

bool valid_name(const char *s)
{
	size_t n = 0;

	if (s == NULL || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; s[n]; n++) {
		char ch = s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == '-' || ch == '+'))
			return false;
	}
	return n > 0 && n <= 128;
}

int peer_check_offer(const zs_json *offer, bool *lazy, zs_error_t *err)
{
	const char *id = zs_json_string_value(zs_json_get(offer, "move"));
	const char *cid = zs_json_string_value(zs_json_get(offer, "container"));
	const char *digest = zs_json_string_value(zs_json_get(offer, "bundle_digest"));
	const char *rdigest = zs_json_string_value(zs_json_get(offer, "rootfs_digest"));
	const char *mode = zs_json_string_value(zs_json_get(offer, "mode"));

	if (!valid_name(id) || zs_validate_id(cid, err) < 0 || !valid_name(digest) || !valid_name(rdigest))
		return zs_make_error(err, -EINVAL, "offer: invalid move id, container id, bundle or rootfs digest");
	if (mode && strcmp(mode, "stop-copy") != 0 && strcmp(mode, "pre-copy") != 0 && strcmp(mode, "post-copy") != 0)
		return zs_make_error(err, -EINVAL, "offer: unknown mode (stop-copy, pre-copy, post-copy)");
	*lazy = mode && strcmp(mode, "post-copy") == 0;
	return 0;
}

int peer_parse_bundle(const zs_json *h, struct bundle_hdr *b, zs_error_t *err)
{
	memset(b, 0, sizeof(*b));
	if (zs_json_to_string(zs_json_get(h, "digest"), "bundle", "digest", ZS_JSON_REQUIRED, &b->digest, err) < 0 ||
	    zs_json_to_string(zs_json_get(h, "rootfs_digest"), "bundle", "rootfs_digest", ZS_JSON_REQUIRED, &b->rdigest,
			      err) < 0 ||
	    zs_json_to_uint64(zs_json_get(h, "config_size"), "bundle", "config_size", ZS_JSON_REQUIRED, &b->csize,
			      err) < 0 ||
	    zs_json_to_uint64(zs_json_get(h, "size"), "bundle", "size", ZS_JSON_REQUIRED, &b->size, err) < 0 ||
	    zs_json_to_bool(zs_json_get(h, "reuse_rootfs"), "bundle", "reuse_rootfs", 0, &b->reuse, err) < 0)
		return -1;
	if (!valid_name(b->digest) || !valid_name(b->rdigest) || b->csize > MAX_CONFIG ||
	    b->size > AGENT_MAX_BUNDLE_SIZE || (b->reuse && b->size != 0))
		return zs_make_error(err, -EINVAL, "bundle: invalid digest or size");
	return 0;
}

void peer_bundle_free(struct bundle_hdr *b)
{
	free(b->digest);
	free(b->rdigest);
	b->digest = b->rdigest = NULL;
}

int peer_check_image(const zs_json *h, zs_error_t *err)
{
	const char *iid = zs_json_string_value(zs_json_get(h, "image_id"));
	const char *pid = zs_json_string_value(zs_json_get(h, "parent_image_id"));

	if (!valid_name(iid) || (pid && !valid_name(pid)))
		return zs_make_error(err, -EINVAL, "image: a second image, or an invalid image id");
	return 0;
}

int peer_parse_manifest(const zs_json *h, struct mfile **out, size_t *n, uint64_t *total, zs_error_t *err)
{
	const zs_json *files = zs_json_get(h, "files");
	const char *when = zs_json_string_value(zs_json_get(h, "digests"));
	bool after = when && strcmp(when, "after") == 0;
	size_t i, k = zs_json_array_len(files);
	struct mfile *v;

	*out = NULL;
	*n = 0;
	if (when && !after)
		return zs_make_error(err, -EINVAL, "image: `digests` must be \"after\" when given");
	if (!zs_json_is_array(files) || k == 0 || k > AGENT_MAX_FILES)
		return zs_make_error(err, -EINVAL, "image: `files` must be an array of 1 to %d files", AGENT_MAX_FILES);
	v = xzalloc(sizeof(*v) * k);
	*out = v;
	*n = k;
	*total = 0;
	for (i = 0; i < k; i++) {
		const zs_json *f = zs_json_array_at(files, i);
		if (zs_json_to_string(zs_json_get(f, "name"), "image", "files[].name", ZS_JSON_REQUIRED, &v[i].name,
				      err) < 0 ||
		    zs_json_to_string(zs_json_get(f, "digest"), "image", "files[].digest", after ? 0 : ZS_JSON_REQUIRED,
				      &v[i].digest, err) < 0 ||
		    zs_json_to_uint64(zs_json_get(f, "size"), "image", "files[].size", ZS_JSON_REQUIRED, &v[i].size,
				      err) < 0)
			return -1;
		if (!valid_name(v[i].name) || strcmp(v[i].name, "parent") == 0 || zs_image_manifest_file(v[i].name) ||
		    (after ? v[i].digest != NULL : strlen(v[i].digest) != 64) || v[i].size > AGENT_MAX_FILE_SIZE)
			return zs_make_error(err, -EINVAL, "image: file `%s`: invalid name, digest or size", v[i].name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[j].name, v[i].name) == 0)
				return zs_make_error(err, -EINVAL, "image: file `%s` listed twice", v[i].name);
		*total += v[i].size;
	}
	return 0;
}

void peer_mfiles_free(struct mfile *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].digest);
	}
	free(v);
}

int peer_check_file(const zs_json *f, const struct mfile *want, uint64_t *size, zs_error_t *err)
{
	const char *name = zs_json_string_value(zs_json_get(f, "name"));

	*size = 0;
	if (name == NULL || strcmp(name, want->name) != 0 ||
	    zs_json_to_uint64(zs_json_get(f, "size"), "file", "size", ZS_JSON_REQUIRED, size, err) < 0 ||
	    *size != want->size) {
		return zs_make_error(err, -EBADMSG, "file `%s`: not the next file of the manifest (%s, %llu bytes)",
				     name ? name : "", want->name, (unsigned long long) want->size);
	}
	return 0;
}

int peer_check_digest(const zs_json *f, const char *name, const char **want, zs_error_t *err)
{
	const char *n = zs_json_string_value(zs_json_get(f, "name"));
	const char *d = zs_json_string_value(zs_json_get(f, "digest"));

	*want = NULL;
	if (n == NULL || strcmp(n, name) != 0 || d == NULL || strlen(d) != 64)
		return zs_make_error(err, -EBADMSG, "file `%s`: not its digest (`%s`) after it", name, n ? n : "");
	*want = d;
	return 0;
}
