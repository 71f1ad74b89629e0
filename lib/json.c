/* zanshin — JSON through yajl (the only file that includes yajl). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "zanshin/json.h"
#include "zanshin/utils.h"

int zs_json_parse_buf(const char *buf, const char *name, zs_json **out, zs_error_t *err)
{
	char errbuf[1024];
	yajl_val v;

	errbuf[0] = '\0';
	v = yajl_tree_parse(buf, errbuf, sizeof(errbuf));
	if (v == NULL) {
		char *nl;
		while ((nl = strchr(errbuf, '\n')) != NULL)
			*nl = ' ';
		return zs_make_error(err, -EINVAL, "%s: invalid JSON: %s", name, errbuf[0] ? errbuf : "parse error");
	}
	*out = v;
	return 0;
}

int zs_json_parse_file(const char *path, const char *name, zs_json **out, zs_error_t *err)
{
	cleanup_free char *buf = NULL;
	int ret;

	ret = read_file(path, &buf, NULL, err);
	if (ret < 0)
		return ret;
	return zs_json_parse_buf(buf, name ? name : path, out, err);
}

void zs_json_free(zs_json *v)
{
	if (v)
		yajl_tree_free(v);
}

void cleanup_jsonp(zs_json **v)
{
	zs_json_free(*v);
}

bool zs_json_is_object(const zs_json *v)
{
	return v && YAJL_IS_OBJECT(v);
}

bool zs_json_is_array(const zs_json *v)
{
	return v && YAJL_IS_ARRAY(v);
}

bool zs_json_is_string(const zs_json *v)
{
	return v && YAJL_IS_STRING(v);
}

bool zs_json_is_number(const zs_json *v)
{
	return v && YAJL_IS_NUMBER(v);
}

bool zs_json_is_bool(const zs_json *v)
{
	return v && (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v));
}

bool zs_json_is_null(const zs_json *v)
{
	return v == NULL || YAJL_IS_NULL(v);
}

zs_json *zs_json_get(const zs_json *obj, const char *key)
{
	size_t i;

	if (!zs_json_is_object(obj))
		return NULL;
	for (i = 0; i < obj->u.object.len; i++) {
		if (strcmp(obj->u.object.keys[i], key) == 0) {
			yajl_val v = obj->u.object.values[i];
			return (v && YAJL_IS_NULL(v)) ? NULL : v;
		}
	}
	return NULL;
}

size_t zs_json_object_len(const zs_json *obj)
{
	return zs_json_is_object(obj) ? obj->u.object.len : 0;
}

const char *zs_json_object_key(const zs_json *obj, size_t i)
{
	return obj->u.object.keys[i];
}

zs_json *zs_json_object_value(const zs_json *obj, size_t i)
{
	return obj->u.object.values[i];
}

size_t zs_json_array_len(const zs_json *arr)
{
	return zs_json_is_array(arr) ? arr->u.array.len : 0;
}

zs_json *zs_json_array_at(const zs_json *arr, size_t i)
{
	return arr->u.array.values[i];
}

const char *zs_json_string_value(const zs_json *v)
{
	return zs_json_is_string(v) ? v->u.string : NULL;
}

static int absent(const zs_json *v, const char *file, const char *field, int flags, zs_error_t *err)
{
	if (!zs_json_is_null(v))
		return 0;
	if (flags & ZS_JSON_REQUIRED)
		return zs_make_error(err, -EINVAL, "%s: %s: missing", file, field);
	return 1;
}

int zs_json_check_object(const zs_json *v, const char *file, const char *field, int flags, zs_error_t *err)
{
	int r = absent(v, file, field, flags, err);
	if (r)
		return r < 0 ? r : 0;
	if (!zs_json_is_object(v))
		return zs_make_error(err, -EINVAL, "%s: %s: must be an object", file, field);
	return 0;
}

int zs_json_check_array(const zs_json *v, const char *file, const char *field, int flags, zs_error_t *err)
{
	int r = absent(v, file, field, flags, err);
	if (r)
		return r < 0 ? r : 0;
	if (!zs_json_is_array(v) || ((flags & ZS_JSON_NONEMPTY) && v->u.array.len == 0))
		return zs_make_error(err, -EINVAL, "%s: %s: must be %san array", file, field,
				     (flags & ZS_JSON_NONEMPTY) ? "a non-empty " : "");
	return 0;
}

int zs_json_to_string(const zs_json *v, const char *file, const char *field, int flags, char **out, zs_error_t *err)
{
	int r = absent(v, file, field, flags, err);
	if (r)
		return r < 0 ? r : 0;
	if (!zs_json_is_string(v) || ((flags & ZS_JSON_NONEMPTY) && v->u.string[0] == '\0'))
		return zs_make_error(err, -EINVAL, "%s: %s: must be a %sstring", file, field,
				     (flags & ZS_JSON_NONEMPTY) ? "non-empty " : "");
	free(*out);
	*out = xstrdup(v->u.string);
	return 0;
}

int zs_json_to_int64(const zs_json *v, const char *file, const char *field, int flags, int64_t *out, zs_error_t *err)
{
	int r = absent(v, file, field, flags, err);
	if (r)
		return r < 0 ? r : 0;
	if (!zs_json_is_number(v) || !YAJL_IS_INTEGER(v))
		return zs_make_error(err, -EINVAL, "%s: %s: must be an integer", file, field);
	*out = v->u.number.i;
	return 0;
}

int zs_json_to_double(const zs_json *v, const char *file, const char *field, int flags, double *out, zs_error_t *err)
{
	int r = absent(v, file, field, flags, err);

	if (r)
		return r < 0 ? r : 0;
	if (!zs_json_is_number(v) || !YAJL_IS_DOUBLE(v) || !isfinite(v->u.number.d))
		return zs_make_error(err, -EINVAL, "%s: %s: must be a finite number", file, field);
	*out = v->u.number.d;
	return 0;
}

int zs_json_to_uint64(const zs_json *v, const char *file, const char *field, int flags, uint64_t *out, zs_error_t *err)
{
	char *end;
	unsigned long long n;
	int r = absent(v, file, field, flags, err);

	if (r)
		return r < 0 ? r : 0;
	if (!zs_json_is_number(v) || v->u.number.r == NULL || v->u.number.r[0] == '-')
		return zs_make_error(err, -EINVAL, "%s: %s: must be a non-negative integer", file, field);
	errno = 0;
	n = strtoull(v->u.number.r, &end, 10);
	if (errno || *end)
		return zs_make_error(err, -EINVAL, "%s: %s: must be a non-negative integer", file, field);
	*out = n;
	return 0;
}

int zs_json_to_bool(const zs_json *v, const char *file, const char *field, int flags, bool *out, zs_error_t *err)
{
	int r = absent(v, file, field, flags, err);
	if (r)
		return r < 0 ? r : 0;
	if (!zs_json_is_bool(v))
		return zs_make_error(err, -EINVAL, "%s: %s: must be a boolean", file, field);
	*out = YAJL_IS_TRUE(v);
	return 0;
}

void zs_free_string_array(char **a)
{
	char **p;

	if (a == NULL)
		return;
	for (p = a; *p; p++)
		free(*p);
	free(a);
}

int zs_json_to_string_array(const zs_json *v, const char *file, const char *field, int flags, char ***out,
			    size_t *n_out, zs_error_t *err)
{
	char **a;
	size_t i, n;
	int r = absent(v, file, field, flags, err);

	if (r)
		return r < 0 ? r : 0;
	n = zs_json_array_len(v);
	if (!zs_json_is_array(v) || ((flags & ZS_JSON_NONEMPTY) && n == 0))
		goto bad;
	for (i = 0; i < n; i++)
		if (!zs_json_is_string(v->u.array.values[i]))
			goto bad;
	a = xzalloc((n + 1) * sizeof(char *));
	for (i = 0; i < n; i++)
		a[i] = xstrdup(v->u.array.values[i]->u.string);
	zs_free_string_array(*out);
	*out = a;
	if (n_out)
		*n_out = n;
	return 0;
bad:
	return zs_make_error(err, -EINVAL, "%s: %s: must be %sarray of strings", file, field,
			     (flags & ZS_JSON_NONEMPTY) ? "a non-empty " : "an ");
}

/* Generator. */
struct zs_jgen_s {
	yajl_gen g;
};

zs_jgen *zs_jgen_new(bool pretty)
{
	zs_jgen *g = xzalloc(sizeof(*g));

	g->g = yajl_gen_alloc(NULL);
	if (g->g == NULL)
		abort();
	yajl_gen_config(g->g, yajl_gen_beautify, pretty ? 1 : 0);
	yajl_gen_config(g->g, yajl_gen_validate_utf8, 0);
	if (pretty)
		yajl_gen_config(g->g, yajl_gen_indent_string, "  ");
	return g;
}

void zs_jgen_free(zs_jgen *g)
{
	if (g == NULL)
		return;
	yajl_gen_free(g->g);
	free(g);
}

void cleanup_jgenp(zs_jgen **g)
{
	zs_jgen_free(*g);
}

void zs_jgen_map_open(zs_jgen *g)
{
	yajl_gen_map_open(g->g);
}

void zs_jgen_map_close(zs_jgen *g)
{
	yajl_gen_map_close(g->g);
}

void zs_jgen_array_open(zs_jgen *g)
{
	yajl_gen_array_open(g->g);
}

void zs_jgen_array_close(zs_jgen *g)
{
	yajl_gen_array_close(g->g);
}

void zs_jgen_string(zs_jgen *g, const char *s)
{
	if (s == NULL)
		s = "";
	yajl_gen_string(g->g, (const unsigned char *) s, strlen(s));
}

void zs_jgen_key(zs_jgen *g, const char *k)
{
	zs_jgen_string(g, k);
}

void zs_jgen_int(zs_jgen *g, long long n)
{
	yajl_gen_integer(g->g, n);
}

void zs_jgen_uint(zs_jgen *g, unsigned long long n)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%llu", n);
	yajl_gen_number(g->g, buf, len);
}

void zs_jgen_double(zs_jgen *g, double v, int decimals)
{
	char buf[64];
	int len = snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	yajl_gen_number(g->g, buf, len);
}

void zs_jgen_bool(zs_jgen *g, bool b)
{
	yajl_gen_bool(g->g, b);
}

void zs_jgen_null(zs_jgen *g)
{
	yajl_gen_null(g->g);
}

void zs_jgen_kv_string(zs_jgen *g, const char *k, const char *s)
{
	zs_jgen_key(g, k);
	zs_jgen_string(g, s);
}

void zs_jgen_kv_int(zs_jgen *g, const char *k, long long n)
{
	zs_jgen_key(g, k);
	zs_jgen_int(g, n);
}

void zs_jgen_value(zs_jgen *g, const zs_json *v)
{
	size_t i;

	if (v == NULL || YAJL_IS_NULL(v)) {
		yajl_gen_null(g->g);
	} else if (YAJL_IS_STRING(v)) {
		zs_jgen_string(g, v->u.string);
	} else if (YAJL_IS_NUMBER(v)) {
		yajl_gen_number(g->g, v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g->g, YAJL_IS_TRUE(v));
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g->g);
		for (i = 0; i < v->u.object.len; i++) {
			zs_jgen_key(g, v->u.object.keys[i]);
			zs_jgen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g->g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g->g);
		for (i = 0; i < v->u.array.len; i++)
			zs_jgen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g->g);
	}
}

char *zs_jgen_result(zs_jgen *g, size_t *len)
{
	const unsigned char *buf;
	size_t l;
	char *r;

	yajl_gen_get_buf(g->g, &buf, &l);
	r = xmalloc(l + 1);
	memcpy(r, buf, l);
	r[l] = '\0';
	if (len)
		*len = l;
	return r;
}
