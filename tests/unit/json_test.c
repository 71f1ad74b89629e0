/* Unit tests for lib/json.c and lib/error.c (TAP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/json.h"
#include "zanshin/utils.h"
#include "check.h"

int main(void)
{
	cleanup_json zs_json *j = NULL;
	cleanup_error zs_error_t err = NULL;
	char **args = NULL, *s = NULL;
	int64_t i64 = 0;
	uint64_t u64 = 0;
	bool b = false;
	int r;

	r = zs_json_parse_buf("{\"process\":{\"args\":[\"sh\",\"-c\"],\"cwd\":\"/\",\"bad\":[1]},"
			      "\"n\":-5,\"big\":18446744073709551615,\"t\":true,\"null\":null}",
			      "config.json", &j, &err);
	check(r == 0 && j != NULL, "parse valid object");
	r = zs_json_to_string_array(zs_json_get(zs_json_get(j, "process"), "args"), "config.json", "process.args",
				    ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY, &args, NULL, &err);
	check(r == 0 && args && strcmp(args[1], "-c") == 0 && args[2] == NULL, "string array");
	r = zs_json_to_string_array(zs_json_get(zs_json_get(j, "process"), "bad"), "config.json", "process.bad",
				    ZS_JSON_REQUIRED, &args, NULL, &err);
	check(r < 0 && strcmp(zs_error_msg(err), "config.json: process.bad: must be an array of strings") == 0,
	      "error names the field");
	zs_error_release(&err);
	r = zs_json_to_string(zs_json_get(j, "missing"), "config.json", "missing", ZS_JSON_REQUIRED, &s, &err);
	check(r < 0 && strstr(zs_error_msg(err), "missing: missing") != NULL, "required field missing");
	zs_error_release(&err);
	r = zs_json_to_string(zs_json_get(j, "missing"), "config.json", "missing", 0, &s, &err);
	check(r == 0 && s == NULL, "optional field missing leaves default");
	check(zs_json_get(j, "null") == NULL, "null member reads as absent");
	r = zs_json_to_int64(zs_json_get(j, "n"), "f", "n", 0, &i64, &err);
	check(r == 0 && i64 == -5, "int64");
	r = zs_json_to_uint64(zs_json_get(j, "big"), "f", "big", 0, &u64, &err);
	check(r == 0 && u64 == 18446744073709551615ULL, "uint64 max");
	r = zs_json_to_uint64(zs_json_get(j, "n"), "f", "n", 0, &u64, &err);
	check(r < 0, "negative rejected as uint64");
	zs_error_release(&err);
	r = zs_json_to_bool(zs_json_get(j, "t"), "f", "t", 0, &b, &err);
	check(r == 0 && b, "bool");
	{
		zs_json *bad = NULL;
		r = zs_json_parse_buf("{\"a\": [1, 2", "config.json", &bad, &err);
		check(r < 0 && strncmp(zs_error_msg(err), "config.json: invalid JSON", 25) == 0, "malformed JSON");
		zs_error_release(&err);
	}
	{
		cleanup_jgen zs_jgen *g = zs_jgen_new(false);
		cleanup_free char *out = NULL;
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "msg", "a\"b\n");
		zs_jgen_key(g, "p");
		zs_jgen_value(g, zs_json_get(j, "process"));
		zs_jgen_key(g, "u");
		zs_jgen_uint(g, 18446744073709551615ULL);
		zs_jgen_map_close(g);
		out = zs_jgen_result(g, NULL);
		check(strcmp(out, "{\"msg\":\"a\\\"b\\n\",\"p\":{\"args\":[\"sh\",\"-c\"],\"cwd\":\"/\",\"bad\":[1]},"
				  "\"u\":18446744073709551615}") == 0,
		      "generator round-trip");
	}
	{
		zs_error_t e = NULL;
		int ret = zs_make_error(&e, 2, "open `%s`", "x");
		zs_error_wrap(&e, "load %s", "cfg");
		check(ret == -2 && zs_error_errno(e) == 2 && strcmp(zs_error_msg(e), "load cfg: open `x`") == 0,
		      "error make + wrap");
		zs_error_release(&e);
		check(e == NULL, "error release");
	}
	zs_free_string_array(args);
	free(s);
	return check_done();
}
