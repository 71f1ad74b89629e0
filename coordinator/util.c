/* zanshin-api — small helpers: time, names, strict JSON objects. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coord.h"
#include "zanshin/utils.h"

double coord_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

char *fmt_double(double v)
{
	return xasprintf("%.6f", isfinite(v) ? v : 0.0);
}

/* node names are certificate CNs and file names on the agents */
bool valid_node_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 128 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-") == n;
}

/* the runtime's rule: [A-Za-z0-9_+-][A-Za-z0-9_+.-]* */
bool valid_container_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 1024 || s[0] == '.')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-") == n;
}

int json_only_keys(const zs_json *obj, const char *what, const char *const *keys, zs_error_t *err)
{
	size_t n = zs_json_object_len(obj);

	if (!zs_json_is_object(obj))
		return zs_make_error(err, -EINVAL, "%s: must be a JSON object", what);
	for (size_t i = 0; i < n; i++) {
		const char *k = zs_json_object_key(obj, i);
		size_t j;
		for (j = 0; keys[j]; j++)
			if (strcmp(keys[j], k) == 0)
				break;
		if (keys[j] == NULL)
			return zs_make_error(err, -EINVAL, "%s: unknown field `%s`", what, k);
	}
	return 0;
}
