/* zanshind — the move journal: one record per move in
 * STATE_DIR/moves/ID.json ("zanshind-move" v1), written atomically (temp
 * file, fsync, rename, fsync the directory) at every state change, so an
 * agent restarted after a crash knows how far each move got (recover.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define JOURNAL_FORMAT "zanshind-move"
#define JOURNAL_VERSION 1

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

char *move_new_id(void)
{
	unsigned char r[4] = {0};
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		r[0] = (unsigned char) getpid();
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	return xasprintf("m%s-%02x%02x%02x%02x", ts, r[0], r[1], r[2], r[3]);
}

bool move_terminal(const char *state)
{
	static const char *const done[] = {"done", "failed", "rolled-back", "aborted", "running", NULL};
	size_t i;

	for (i = 0; done[i]; i++)
		if (state && strcmp(state, done[i]) == 0)
			return true;
	return false;
}

static char *moves_dir(struct agent *a)
{
	return xasprintf("%s/moves", a->state_dir);
}

int journal_init(struct agent *a, zs_error_t *err)
{
	cleanup_free char *d = moves_dir(a), *b = xasprintf("%s/bundles", a->state_dir),
			  *l = xasprintf("%s/logs", a->state_dir), *w = xasprintf("%s/work", a->state_dir);

	if (mkdir_p(a->state_dir, 0700, err) < 0 || mkdir_p(d, 0700, err) < 0 || mkdir_p(b, 0700, err) < 0 ||
	    mkdir_p(l, 0700, err) < 0 || mkdir_p(w, 0700, err) < 0)
		return zs_error_wrap(err, "--state-dir");
	chmod(a->state_dir, 0700);
	return 0;
}

/* The string fields of a record, by name. */
static const struct {
	const char *key;
	size_t off;
} str_fields[] = {
#define F(k)                                                                                                           \
	{                                                                                                              \
#k, offsetof(struct move, k)                                                                           \
	}
    F(id),	   F(container),       F(peer),
    F(role),	   F(state),	       F(error),
    F(mode),	   F(image_id),	       F(parent_image_id),
    F(generation), F(bundle_digest),   F(rootfs_digest),
    F(img_dir),	   F(restore_from),    F(bundle),
    F(compress),   F(compress_levels), F(precopy_gens),
    F(order),
#undef F
};

void move_free(struct move *m)
{
	size_t i;

	for (i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
		char **p = (char **) ((char *) m + str_fields[i].off);
		free(*p);
		*p = NULL;
	}
	free(m->rounds);
	m->rounds = NULL;
	m->n_rounds = 0;
}

/* The compression metrics (agent/wire.c). */
static const struct {
	const char *key;
	size_t off;
} wire_fields[] = {
    {"bytes_raw", offsetof(struct move, bytes_raw)},
    {"bytes_data", offsetof(struct move, bytes_data)},
    {"bytes_delta", offsetof(struct move, bytes_delta)},
    {"bytes_wire", offsetof(struct move, bytes_wire)},
    {"generations_sent", offsetof(struct move, generations_sent)},
    {"pages_from_target", offsetof(struct move, pages_from_target)},
};

static void journal_put_wire(const struct move *m, zs_jgen *g)
{
	for (size_t i = 0; i < sizeof(wire_fields) / sizeof(wire_fields[0]); i++) {
		zs_jgen_key(g, wire_fields[i].key);
		zs_jgen_uint(g, *(const uint64_t *) ((const char *) m + wire_fields[i].off));
	}
}

static int journal_get_wire(const zs_json *j, const char *path, struct move *m, zs_error_t *err)
{
	for (size_t i = 0; i < sizeof(wire_fields) / sizeof(wire_fields[0]); i++)
		if (zs_json_to_uint64(zs_json_get(j, wire_fields[i].key), path, wire_fields[i].key, 0,
				      (uint64_t *) ((char *) m + wire_fields[i].off), err) < 0)
			return -1;
	return 0;
}

void move_to_json(const struct move *m, zs_jgen *g)
{
	size_t i;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", JOURNAL_FORMAT);
	zs_jgen_kv_int(g, "version", JOURNAL_VERSION);
	for (i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
		const char *v = *(char *const *) ((const char *) m + str_fields[i].off);
		if (v)
			zs_jgen_kv_string(g, str_fields[i].key, v);
	}
	zs_jgen_key(g, "diff");
	zs_jgen_bool(g, m->diff);
	zs_jgen_key(g, "bundle_sent");
	zs_jgen_bool(g, m->bundle_sent);
	zs_jgen_key(g, "rootfs_reused");
	zs_jgen_bool(g, m->rootfs_reused);
	zs_jgen_kv_int(g, "restore_pid", m->restore_pid);
	zs_jgen_kv_int(g, "pid", m->pid);
	if (m->helper_pid)
		zs_jgen_kv_int(g, "helper_pid", m->helper_pid);
	if (m->mode && strcmp(m->mode, "post-copy") == 0) {
		zs_jgen_key(g, "postcopy_faults");
		zs_jgen_uint(g, m->faults);
		zs_jgen_kv_int(g, "postcopy_last_page_us", (long long) (m->last_page_s * 1e6));
	}
	/* times in microseconds: the JSON module writes integers */
	zs_jgen_kv_int(g, "started_us", (long long) (m->started * 1e6));
	zs_jgen_kv_int(g, "setup_us", (long long) (m->setup_s * 1e6));
	zs_jgen_kv_int(g, "downtime_us", (long long) (m->downtime_s * 1e6));
	zs_jgen_kv_int(g, "total_us", (long long) (m->total_s * 1e6));
	zs_jgen_kv_int(g, "checkpoint_us", (long long) (m->checkpoint_s * 1e6));
	zs_jgen_kv_int(g, "transfer_us", (long long) (m->transfer_s * 1e6));
	zs_jgen_kv_int(g, "commit_us", (long long) (m->commit_s * 1e6));
	zs_jgen_key(g, "bytes_pages");
	zs_jgen_uint(g, m->bytes_pages);
	zs_jgen_key(g, "bytes_bundle");
	zs_jgen_uint(g, m->bytes_bundle);
	zs_jgen_key(g, "bytes_metadata");
	zs_jgen_uint(g, m->bytes_metadata);
	journal_put_wire(m, g);
	zs_jgen_key(g, "warm");
	zs_jgen_bool(g, m->warm);
	precopy_rounds_to_json(m, g);
	zs_jgen_map_close(g);
}

static char *rec_path(struct agent *a, const char *id)
{
	return xasprintf("%s/moves/%s.json", a->state_dir, id);
}

int journal_put(struct agent *a, struct move *m, const char *state, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	cleanup_free char *path = rec_path(a, m->id), *text = NULL;
	size_t len = 0;

	if (state) {
		free(m->state);
		m->state = xstrdup(state);
	}
	move_to_json(m, g);
	text = zs_jgen_result(g, &len);
	if (write_file_atomic(path, text, len, 0600, err) < 0)
		return zs_error_wrap(err, "journal of move %s", m->id);
	return 0;
}

static int str_field(const zs_json *j, const char *k, char **out, zs_error_t *err)
{
	return zs_json_to_string(zs_json_get(j, k), "journal", k, 0, out, err);
}

static double us_field(const zs_json *j, const char *k)
{
	int64_t v = 0;
	zs_error_t e = NULL;

	zs_json_to_int64(zs_json_get(j, k), "journal", k, 0, &v, &e);
	zs_error_release(&e);
	return (double) v / 1e6;
}

int journal_get(struct agent *a, const char *id, struct move *m, zs_error_t *err)
{
	cleanup_free char *path = NULL;
	cleanup_json zs_json *j = NULL;
	const char *fmt;
	int64_t v = 0;
	int ret = 0;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (!valid_name(id))
		return zs_make_error(err, -EINVAL, "invalid move id `%s`", id);
	path = rec_path(a, id);
	if (zs_json_parse_file(path, "journal", &j, err) < 0)
		return -1;
	fmt = zs_json_string_value(zs_json_get(j, "format"));
	if (fmt == NULL || strcmp(fmt, JOURNAL_FORMAT) != 0 ||
	    zs_json_to_int64(zs_json_get(j, "version"), path, "version", ZS_JSON_REQUIRED, &v, err) < 0 ||
	    v != JOURNAL_VERSION)
		return zs_make_error(err, -EINVAL, "%s: not a %s v%d record", path, JOURNAL_FORMAT, JOURNAL_VERSION);
	for (i = 0; ret == 0 && i < sizeof(str_fields) / sizeof(str_fields[0]); i++)
		ret = str_field(j, str_fields[i].key, (char **) ((char *) m + str_fields[i].off), err);
	if (ret == 0)
		ret = zs_json_to_bool(zs_json_get(j, "diff"), path, "diff", 0, &m->diff, err);
	if (ret == 0)
		ret = zs_json_to_bool(zs_json_get(j, "bundle_sent"), path, "bundle_sent", 0, &m->bundle_sent, err);
	if (ret == 0)
		ret =
		    zs_json_to_bool(zs_json_get(j, "rootfs_reused"), path, "rootfs_reused", 0, &m->rootfs_reused, err);
	if (ret == 0) {
		int64_t pid = 0;
		ret = zs_json_to_int64(zs_json_get(j, "restore_pid"), path, "restore_pid", 0, &pid, err);
		m->restore_pid = pid;
		pid = 0;
		if (ret == 0)
			ret = zs_json_to_int64(zs_json_get(j, "pid"), path, "pid", 0, &pid, err);
		m->pid = pid;
		pid = 0;
		if (ret == 0)
			ret = zs_json_to_int64(zs_json_get(j, "helper_pid"), path, "helper_pid", 0, &pid, err);
		m->helper_pid = pid;
	}
	if (ret == 0)
		ret = zs_json_to_uint64(zs_json_get(j, "postcopy_faults"), path, "postcopy_faults", 0, &m->faults, err);
	m->last_page_s = us_field(j, "postcopy_last_page_us");
	if (ret == 0)
		ret = zs_json_to_uint64(zs_json_get(j, "bytes_pages"), path, "bytes_pages", 0, &m->bytes_pages, err);
	if (ret == 0)
		ret = zs_json_to_uint64(zs_json_get(j, "bytes_bundle"), path, "bytes_bundle", 0, &m->bytes_bundle, err);
	if (ret == 0)
		ret = zs_json_to_uint64(zs_json_get(j, "bytes_metadata"), path, "bytes_metadata", 0, &m->bytes_metadata,
					err);
	if (ret == 0)
		ret = journal_get_wire(j, path, m, err);
	if (ret == 0)
		ret = zs_json_to_bool(zs_json_get(j, "warm"), path, "warm", 0, &m->warm, err);
	if (ret == 0)
		ret = precopy_rounds_from_json(j, m, err);
	m->started = us_field(j, "started_us");
	m->setup_s = us_field(j, "setup_us");
	m->downtime_s = us_field(j, "downtime_us");
	m->total_s = us_field(j, "total_us");
	m->checkpoint_s = us_field(j, "checkpoint_us");
	m->transfer_s = us_field(j, "transfer_us");
	m->commit_s = us_field(j, "commit_us");
	if (ret == 0 && (m->id == NULL || m->state == NULL || m->role == NULL || m->container == NULL))
		ret = zs_make_error(err, -EINVAL, "%s: id, state, role or container missing", path);
	if (ret < 0)
		move_free(m);
	return ret;
}

int journal_transition(struct agent *a, const char *id, const char *from, const char *to, char **now, zs_error_t *err)
{
	cleanup_free char *lp = xasprintf("%s/moves/%s.lock", a->state_dir, id);
	cleanup_close int fd = -1;
	struct move m;
	int ret;

	if (now)
		*now = NULL;
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", lp);
	if (flock(fd, LOCK_EX) < 0)
		return zs_make_error(err, errno, "lock `%s`", lp);
	if (journal_get(a, id, &m, err) < 0)
		return -1;
	ret = 0;
	if (strcmp(m.state, from) == 0)
		ret = journal_put(a, &m, to, err) < 0 ? -1 : 1;
	else if (now)
		*now = xstrdup(m.state);
	move_free(&m);
	return ret;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *) x, *(char *const *) y);
}

int journal_list(struct agent *a, char ***ids, size_t *n, zs_error_t *err)
{
	cleanup_free char *d = moves_dir(a);
	cleanup_dir DIR *dir = opendir(d);
	struct dirent *de;
	char **v = NULL;
	size_t k = 0;

	*ids = NULL;
	*n = 0;
	if (dir == NULL)
		return zs_make_error(err, errno, "open `%s`", d);
	while ((de = readdir(dir))) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0 || de->d_name[0] == '.')
			continue;
		v = xrealloc(v, sizeof(*v) * (k + 2));
		v[k++] = xasprintf("%.*s", (int) (l - 5), de->d_name);
		v[k] = NULL;
	}
	if (k)
		qsort(v, k, sizeof(*v), cmp_str);
	*ids = v;
	*n = k;
	return 0;
}
