/* zanshin — JSON: the only module that includes yajl.
 *
 * Parsing gives a read-only tree (zs_json).  Typed accessors take the node
 * (NULL when the field is absent), the file name and the field's dotted path,
 * and produce errors such as
 *   config.json: process.args: must be a non-empty array of strings
 */
#ifndef ZANSHIN_JSON_H
#define ZANSHIN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"

typedef struct yajl_val_s zs_json;

int zs_json_parse_file(const char *path, const char *name, zs_json **out, zs_error_t *err);
int zs_json_parse_buf(const char *buf, const char *name, zs_json **out, zs_error_t *err);
void zs_json_free(zs_json *v);
void cleanup_jsonp(zs_json **v);
#define cleanup_json __attribute__((cleanup(cleanup_jsonp)))

bool zs_json_is_object(const zs_json *v);
bool zs_json_is_array(const zs_json *v);
bool zs_json_is_string(const zs_json *v);
bool zs_json_is_number(const zs_json *v);
bool zs_json_is_bool(const zs_json *v);
bool zs_json_is_null(const zs_json *v);

/* Member of an object, NULL if v is not an object or has no such key (a JSON
 * null member is returned as NULL too: absent and null mean the same). */
zs_json *zs_json_get(const zs_json *obj, const char *key);
size_t zs_json_object_len(const zs_json *obj);
const char *zs_json_object_key(const zs_json *obj, size_t i);
zs_json *zs_json_object_value(const zs_json *obj, size_t i);
size_t zs_json_array_len(const zs_json *arr);
zs_json *zs_json_array_at(const zs_json *arr, size_t i);
/* String value or NULL (no error). */
const char *zs_json_string_value(const zs_json *v);

enum {
	ZS_JSON_REQUIRED = 1 << 0, /* absent is an error */
	ZS_JSON_NONEMPTY = 1 << 1, /* empty string / array is an error */
};

/* Each: absent and not required -> returns 0 and leaves *out unchanged. */
int zs_json_check_object(const zs_json *v, const char *file, const char *field, int flags, zs_error_t *err);
int zs_json_check_array(const zs_json *v, const char *file, const char *field, int flags, zs_error_t *err);
int zs_json_to_string(const zs_json *v, const char *file, const char *field, int flags, char **out, zs_error_t *err);
int zs_json_to_int64(const zs_json *v, const char *file, const char *field, int flags, int64_t *out, zs_error_t *err);
/* any finite number (integer or not) */
int zs_json_to_double(const zs_json *v, const char *file, const char *field, int flags, double *out, zs_error_t *err);
int zs_json_to_uint64(const zs_json *v, const char *file, const char *field, int flags, uint64_t *out, zs_error_t *err);
int zs_json_to_bool(const zs_json *v, const char *file, const char *field, int flags, bool *out, zs_error_t *err);
/* NULL-terminated array of strings; *n_out (optional) gets the count. */
int zs_json_to_string_array(const zs_json *v, const char *file, const char *field, int flags, char ***out,
			    size_t *n_out, zs_error_t *err);
void zs_free_string_array(char **a);

/* Generator. */
typedef struct zs_jgen_s zs_jgen;
zs_jgen *zs_jgen_new(bool pretty);
void zs_jgen_free(zs_jgen *g);
void zs_jgen_map_open(zs_jgen *g);
void zs_jgen_map_close(zs_jgen *g);
void zs_jgen_array_open(zs_jgen *g);
void zs_jgen_array_close(zs_jgen *g);
void zs_jgen_key(zs_jgen *g, const char *k);
void zs_jgen_string(zs_jgen *g, const char *s); /* NULL -> "" */
void zs_jgen_int(zs_jgen *g, long long n);
void zs_jgen_uint(zs_jgen *g, unsigned long long n);
/* A finite number with DECIMALS digits after the point. */
void zs_jgen_double(zs_jgen *g, double v, int decimals);
void zs_jgen_bool(zs_jgen *g, bool b);
void zs_jgen_null(zs_jgen *g);
/* Write a parsed value (any kind) into the generator. */
void zs_jgen_value(zs_jgen *g, const zs_json *v);
/* Convenience: key + string / int. */
void zs_jgen_kv_string(zs_jgen *g, const char *k, const char *s);
void zs_jgen_kv_int(zs_jgen *g, const char *k, long long n);
/* Returns a malloc'd copy of the generated text. */
char *zs_jgen_result(zs_jgen *g, size_t *len);
void cleanup_jgenp(zs_jgen **g);
#define cleanup_jgen __attribute__((cleanup(cleanup_jgenp)))

#endif
