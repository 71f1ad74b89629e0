/* zanshin-api — the audit log: every write, with who did it (a token,
 * an admin certificate, a node), in the same transaction as the write. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "coord.h"
#include "zanshin/utils.h"

int audit(struct coord *co, const struct who *who, const char *action, const char *target, const char *detail,
	  zs_error_t *err)
{
	cleanup_free char *id = random_id("a"), *ts = fmt_double(coord_now());
	const char *p[] = {id, ts, who->name, action, target, detail};

	return db_exec(co->db, "INSERT INTO audit(id, ts, who, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
		       p, 6, NULL, err);
}

int api_audit(struct req *r, struct reply *rep)
{
	cleanup_dbres struct db_result *res = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t err = NULL;

	if (db_exec(r->co->db, "SELECT ts, who, action, target, detail FROM audit ORDER BY ts DESC, id LIMIT 1000",
		    NULL, 0, &res, &err) < 0)
		return reply_internal(rep, err);
	zs_jgen_map_open(g);
	zs_jgen_key(g, "audit");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < res->rows; i++) {
		zs_jgen_map_open(g);
		zs_jgen_key(g, "ts");
		zs_jgen_double(g, atof(db_cell(res, i, "ts")), 3);
		zs_jgen_kv_string(g, "who", db_cell(res, i, "who"));
		zs_jgen_kv_string(g, "action", db_cell(res, i, "action"));
		zs_jgen_kv_string(g, "target", db_cell(res, i, "target"));
		zs_jgen_kv_string(g, "detail", db_cell(res, i, "detail"));
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	return reply_gen(rep, 200, g);
}
