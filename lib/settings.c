/* zanshin — runtime settings (include/zanshin/settings.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/json.h"
#include "zanshin/settings.h"
#include "zanshin/utils.h"

void zs_settings_defaults(struct zs_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->track_mem = true;
	s->restore_timeout = 600;
	s->remnant.max_chain = 4;
	s->remnant.max_age = 7ull * 24 * 3600;
	s->remnant.max_bytes = 10ull << 30;
	s->remnant.keep_rootfs_max_bytes = 1ull << 30;
	s->remnant.tmp_grace = 600;
}

const char *zs_settings_path(const char *path)
{
	const char *env = getenv("ZANSHIN_CONFIG");

	if (path)
		return path;
	if (env && *env)
		return env;
	return ZS_SETTINGS_DEFAULT_PATH;
}

static bool str_has_suffix_dots(const char *p)
{
	size_t l = strlen(p);

	return (l >= 2 && strcmp(p + l - 2, "/.") == 0) || (l >= 3 && strcmp(p + l - 3, "/..") == 0);
}

static int unknown_key(const zs_json *obj, const char *name, const char *prefix, const char *const *known,
		       zs_error_t *err)
{
	size_t i, k;

	for (i = 0; i < zs_json_object_len(obj); i++) {
		const char *key = zs_json_object_key(obj, i);
		for (k = 0; known[k]; k++)
			if (strcmp(key, known[k]) == 0)
				break;
		if (known[k] == NULL)
			return zs_make_error(err, -EINVAL, "%s: %s%s: unknown setting", name, prefix, key);
	}
	return 0;
}

static int get_u64(const zs_json *obj, const char *key, const char *name, uint64_t min, uint64_t *out, zs_error_t *err)
{
	cleanup_free char *field = xasprintf("remnant.%s", key);
	uint64_t v = *out;
	int ret;

	ret = zs_json_to_uint64(zs_json_get(obj, key), name, field, 0, &v, err);
	if (ret < 0)
		return ret;
	if (v < min)
		return zs_make_error(err, -EINVAL, "%s: %s: must be at least %llu", name, field,
				     (unsigned long long) min);
	*out = v;
	return 0;
}

/* remnant.root: an absolute path, no "." or ".." component. */
static int get_root(const zs_json *rem, const char *name, struct zs_settings *s, zs_error_t *err)
{
	cleanup_free char *root = NULL;
	int ret;

	ret = zs_json_to_string(zs_json_get(rem, "root"), name, "remnant.root", ZS_JSON_NONEMPTY, &root, err);
	if (ret < 0 || root == NULL)
		return ret;
	if (root[0] != '/' || strstr(root, "/../") || strstr(root, "/./") || str_has_suffix_dots(root))
		return zs_make_error(err, -EINVAL, "%s: remnant.root: must be an absolute path without . or ..", name);
	if (strlen(root) >= sizeof(s->remnant.root))
		return zs_make_error(err, -EINVAL, "%s: remnant.root: longer than %zu bytes", name,
				     sizeof(s->remnant.root) - 1);
	strcpy(s->remnant.root, root);
	return 0;
}

static int parse_remnant(const zs_json *rem, const char *name, struct zs_settings *s, zs_error_t *err)
{
	static const char *const known[] = {"root",	 "max_chain", "max_age", "max_bytes", "keep_rootfs_max_bytes",
					    "tmp_grace", NULL};
	uint64_t chain = s->remnant.max_chain;
	int ret;

	ret = zs_json_check_object(rem, name, "remnant", 0, err);
	if (ret < 0 || rem == NULL)
		return ret;
	ret = unknown_key(rem, name, "remnant.", known, err);
	if (ret == 0)
		ret = get_root(rem, name, s, err);
	if (ret == 0)
		ret = get_u64(rem, "max_chain", name, 1, &chain, err);
	if (ret == 0 && chain > 64)
		return zs_make_error(err, -EINVAL, "%s: remnant.max_chain: must be at most 64", name);
	s->remnant.max_chain = (unsigned) chain;
	if (ret == 0)
		ret = get_u64(rem, "max_age", name, 0, &s->remnant.max_age, err);
	if (ret == 0)
		ret = get_u64(rem, "max_bytes", name, 0, &s->remnant.max_bytes, err);
	if (ret == 0)
		ret = get_u64(rem, "keep_rootfs_max_bytes", name, 0, &s->remnant.keep_rootfs_max_bytes, err);
	if (ret == 0)
		ret = get_u64(rem, "tmp_grace", name, 0, &s->remnant.tmp_grace, err);
	return ret;
}

int zs_settings_parse(const char *text, const char *name, struct zs_settings *s, zs_error_t *err)
{
	static const char *const known[] = {"track_mem", "restore_timeout", "remnant", NULL};
	cleanup_json zs_json *root = NULL;
	int ret;

	zs_settings_defaults(s);
	ret = zs_json_parse_buf(text, name, &root, err);
	if (ret < 0)
		return ret;
	if (!zs_json_is_object(root))
		return zs_make_error(err, -EINVAL, "%s: must be a JSON object", name);
	ret = unknown_key(root, name, "", known, err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_bool(zs_json_get(root, "track_mem"), name, "track_mem", 0, &s->track_mem, err);
	if (ret == 0)
		ret = get_u64(root, "restore_timeout", name, 0, &s->restore_timeout, err);
	if (ret < 0)
		return ret;
	return parse_remnant(zs_json_get(root, "remnant"), name, s, err);
}

int zs_settings_load(const char *path, struct zs_settings *s, zs_error_t *err)
{
	const char *p = zs_settings_path(path);
	cleanup_free char *text = NULL;
	size_t len;
	int ret;

	zs_settings_defaults(s);
	ret = read_file(p, &text, &len, err);
	if (ret < 0 && zs_error_errno(*err) == ENOENT) {
		zs_error_release(err);
		return 0;
	}
	if (ret < 0)
		return ret;
	return zs_settings_parse(text, p, s, err);
}
