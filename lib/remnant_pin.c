/* zanshin — pins: the remnant store's own record of which generations live
 * containers need (include/zanshin/remnant.h).  The store cannot see the
 * runtimes' state roots (Podman, containerd and a user each pass their own
 * --root), so a restore that starts tracking, and a --leave-running
 * checkpoint that moves the baseline, write
 *   ROOT/containers/ID/pins/PID-STARTTIME.json  ("zanshin-pin" v1)
 * naming the baseline image id and the container's init (pid and its start
 * time, /proc/PID/stat field 22).  A pin is live while that process exists;
 * gc, merge and rm keep a live pin's generation and its chain, and remove
 * stale pins. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remnant_internal.h"
#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

#define ZS_PIN_FORMAT "zanshin-pin"
#define ZS_PIN_VERSION 1

static char *pins_dir(struct zs_remnant *r, const char *id)
{
	return xasprintf("%s/containers/%s/pins", r->root, id);
}

static char *pin_json(const char *id, const char *image_id, pid_t pid, unsigned long long start)
{
	cleanup_jgen zs_jgen *j = zs_jgen_new(true);
	cleanup_free char *created = zs_rem_now();
	char *text;

	zs_jgen_map_open(j);
	zs_jgen_kv_string(j, "format", ZS_PIN_FORMAT);
	zs_jgen_kv_int(j, "version", ZS_PIN_VERSION);
	zs_jgen_kv_string(j, "container", id);
	zs_jgen_kv_string(j, "image_id", image_id);
	zs_jgen_kv_int(j, "pid", pid);
	zs_jgen_key(j, "start_time");
	zs_jgen_uint(j, start);
	zs_jgen_kv_string(j, "created", created);
	zs_jgen_map_close(j);
	text = zs_jgen_result(j, NULL);
	return text;
}

int zs_remnant_pin(struct zs_remnant *r, const char *id, const char *image_id, pid_t pid, zs_error_t *err)
{
	cleanup_free char *dir = NULL, *path = NULL, *text = NULL;
	cleanup_close int lock = -1;
	unsigned long long start;

	if (r == NULL || image_id == NULL)
		return 0;
	start = zs_proc_start_time(pid, NULL);
	if (start == 0)
		return zs_make_error(err, ESRCH, "pin the baseline of `%s`: process %d is gone", id, (int) pid);
	/* under the container's lock: a gc or merge running now sees the pin
	 * either before it decides or not at all (then it ran before us) */
	if (zs_rem_lock(r, id, &lock, err) < 0)
		return -1;
	dir = pins_dir(r, id);
	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	path = xasprintf("%s/%d-%llu.json", dir, (int) pid, start);
	text = pin_json(id, image_id, pid, start);
	if (write_file_atomic(path, text, strlen(text), 0600, err) < 0)
		return zs_error_wrap(err, "pin the baseline of `%s`", id);
	return 0;
}

/* The image id of the pin at PATH while its process lives; NULL when the
 * pin is stale or unreadable (removed then). */
static char *pin_live_image(const char *path)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_json zs_json *j = NULL;
	char *image_id = NULL, *fmt = NULL;
	int64_t pid = 0, ver = 0;
	uint64_t start = 0;
	char state = 0;

	if (zs_json_parse_file(path, path, &j, &e) < 0 ||
	    zs_json_to_string(zs_json_get(j, "format"), path, "format", ZS_JSON_REQUIRED, &fmt, &e) < 0 ||
	    zs_json_to_int64(zs_json_get(j, "version"), path, "version", ZS_JSON_REQUIRED, &ver, &e) < 0 ||
	    zs_json_to_string(zs_json_get(j, "image_id"), path, "image_id", ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY,
			      &image_id, &e) < 0 ||
	    zs_json_to_int64(zs_json_get(j, "pid"), path, "pid", ZS_JSON_REQUIRED, &pid, &e) < 0 ||
	    zs_json_to_uint64(zs_json_get(j, "start_time"), path, "start_time", ZS_JSON_REQUIRED, &start, &e) < 0)
		zs_warn("remnant store: ignoring pin %s: %s", path, zs_error_msg(e));
	else if (strcmp(fmt, ZS_PIN_FORMAT) != 0 || ver != ZS_PIN_VERSION)
		zs_warn("remnant store: ignoring pin %s: not a %s v%d record", path, ZS_PIN_FORMAT, ZS_PIN_VERSION);
	else if (pid > 0 && zs_proc_start_time((pid_t) pid, &state) == start && state != 'Z' && state != 'X') {
		free(fmt);
		return image_id;
	}
	free(fmt);
	free(image_id);
	if (unlink(path) == 0)
		zs_debug("remnant store: removed stale pin %s", path);
	return NULL;
}

static bool is_json_name(const char *name)
{
	size_t l = strlen(name);

	return name[0] != '.' && l > 5 && strcmp(name + l - 5, ".json") == 0;
}

static bool has_str(char **a, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(a[i], s) == 0)
			return true;
	return false;
}

int zs_remnant_pinned(struct zs_remnant *r, const char *id, char ***image_ids, size_t *n_out, zs_error_t *err)
{
	cleanup_free char *dir = pins_dir(r, id);
	cleanup_dir DIR *d = opendir(dir);
	char **ids = xzalloc(sizeof(char *));
	struct dirent *de;
	size_t n = 0;

	if (d == NULL && errno != ENOENT) {
		free(ids);
		return zs_make_error(err, errno, "open `%s`", dir);
	}
	while (d && (de = readdir(d))) {
		cleanup_free char *path = NULL;
		char *img;
		if (!is_json_name(de->d_name))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		img = pin_live_image(path);
		if (img == NULL || has_str(ids, n, img)) {
			free(img);
			continue;
		}
		ids = xrealloc(ids, sizeof(char *) * (n + 2));
		ids[n++] = img;
		ids[n] = NULL;
	}
	*image_ids = ids;
	if (n_out)
		*n_out = n;
	return 0;
}

/* ---- which generations the pins keep ---- */

/* The generation a checkpoint would take as the baseline IMAGE_ID (as
 * zs_remnant_find: the full one, else the newest diff); -1 when none. */
ssize_t zs_rem_baseline_index(struct zs_remnant_gen **gens, size_t n, const char *image_id)
{
	ssize_t best = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(gens[i]->image_id, image_id) != 0)
			continue;
		if (best < 0 || gens[best]->diff)
			best = (ssize_t) i;
	}
	return best;
}

void zs_rem_mark_chain(struct zs_remnant_gen **gens, size_t n, size_t i, bool *mark)
{
	struct zs_remnant_gen *p = gens[i];
	unsigned depth = 0;
	size_t j;

	while (p && depth++ <= ZS_IMAGE_CHAIN_LIMIT) {
		for (j = 0; j < n; j++)
			if (gens[j] == p)
				mark[j] = true;
		p = zs_rem_by_name(gens, n, p->parent);
	}
}

int zs_rem_pinned_marks(struct zs_remnant *r, const char *id, struct zs_remnant_gen **gens, size_t n, bool **marks,
			zs_error_t *err)
{
	char **pins = NULL;
	size_t np, k;
	bool *m;

	if (zs_remnant_pinned(r, id, &pins, &np, err) < 0)
		return -1;
	m = xzalloc(n + 1);
	for (k = 0; k < np; k++) {
		ssize_t i = zs_rem_baseline_index(gens, n, pins[k]);
		if (i >= 0)
			zs_rem_mark_chain(gens, n, (size_t) i, m);
	}
	zs_free_string_array(pins);
	*marks = m;
	return 0;
}
