/* zanshin — a checkpoint's hold on a container: ROOT/ID/checkpoint-hold.json
 * (format "zanshin-checkpoint-hold" version 1: the checkpoint's pid, its
 * start time, what it does).  A lazy dump keeps the container frozen while
 * it serves the memory to a post-copy move's target: the container must not
 * look running here (`state`, `list`: "paused"), nor be started, signalled,
 * resumed or deleted until the checkpoint ends (CRIU resumes it, or kills it
 * once the target has its memory).  The hold lasts as long as the process
 * that wrote it: a checkpoint killed leaves a file that no longer holds. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zanshin/json.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

#define HOLD_FORMAT "zanshin-checkpoint-hold"
#define HOLD_VERSION 1

static char *hold_path(const char *dir)
{
	return xasprintf("%s/checkpoint-hold.json", dir);
}

int zs_status_hold_set(const char *root, const char *id, const char *why, zs_error_t *err)
{
	cleanup_free char *dir = zs_status_dir(root, id), *path = hold_path(dir), *buf = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	size_t len = 0;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", HOLD_FORMAT);
	zs_jgen_kv_int(g, "version", HOLD_VERSION);
	zs_jgen_kv_int(g, "pid", getpid());
	zs_jgen_key(g, "start_time");
	zs_jgen_uint(g, zs_proc_start_time(getpid(), NULL));
	zs_jgen_kv_string(g, "what", why);
	zs_jgen_map_close(g);
	buf = zs_jgen_result(g, &len);
	if (write_file_replace(path, buf, len, 0600, err) < 0)
		return zs_error_wrap(err, "container %s: checkpoint hold", id);
	return 0;
}

void zs_status_hold_clear(const char *root, const char *id)
{
	cleanup_free char *dir = zs_status_dir(root, id), *path = hold_path(dir);

	unlink(path);
}

/* The hold's fields, checked; *WHAT NULL when there is none. */
static void hold_read(const char *path, int64_t *pid, uint64_t *start, char **what)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_json zs_json *j = NULL;
	const char *fmt;
	int64_t v = 0;

	*what = NULL;
	if (access(path, F_OK) < 0 || zs_json_parse_file(path, path, &j, &e) < 0)
		return;
	fmt = zs_json_string_value(zs_json_get(j, "format"));
	if (fmt == NULL || strcmp(fmt, HOLD_FORMAT) != 0 ||
	    zs_json_to_int64(zs_json_get(j, "version"), path, "version", ZS_JSON_REQUIRED, &v, &e) < 0 ||
	    v != HOLD_VERSION)
		return;
	if (zs_json_to_int64(zs_json_get(j, "pid"), path, "pid", ZS_JSON_REQUIRED, pid, &e) < 0 ||
	    zs_json_to_uint64(zs_json_get(j, "start_time"), path, "start_time", ZS_JSON_REQUIRED, start, &e) < 0)
		return;
	zs_json_to_string(zs_json_get(j, "what"), path, "what", ZS_JSON_REQUIRED, what, &e);
}

char *zs_status_hold(const struct zs_status *st)
{
	cleanup_free char *path = hold_path(st->dir), *what = NULL;
	int64_t pid = 0;
	uint64_t start = 0;
	char state = 0;

	hold_read(path, &pid, &start, &what);
	if (what == NULL || pid <= 0 || pid == getpid())
		return NULL;
	if (zs_proc_start_time((pid_t) pid, &state) != start || state == 'Z' || state == 'X')
		return NULL; /* the checkpoint that wrote it is gone */
	return xasprintf("%s (pid %lld)", what, (long long) pid);
}

int zs_status_check_hold(const struct zs_status *st, const char *action, zs_error_t *err)
{
	cleanup_free char *hold = zs_status_hold(st);

	if (hold == NULL)
		return 0;
	return zs_make_error(err, -EBUSY,
			     "container %s is frozen by %s, which serves its memory to another node: not %s (it "
			     "runs here again only if that move rolls back)",
			     st->id, hold, action);
}
