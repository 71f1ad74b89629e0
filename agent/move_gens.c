/* zanshind — the source sends the generations the target lacks.
 *
 * When the target holds an older generation of the container's chain but
 * not the container's baseline (the generation it was restored from), and
 * this node's store holds every generation in between as a diff, those
 * generations travel first, oldest first, while the container still runs
 * (setup, not downtime), each committed by the target to its store as it
 * arrives (`image` with "store": true), and the checkpoint is a diff
 * against the baseline — when their bytes are fewer than the full
 * image's.  Each generation's file digests come from its
 * manifest in the store (no hashing while the container is frozen); the
 * target checks every file against them as it arrives, as for any image,
 * and a generation it committed is complete (a move that fails later
 * leaves it in the store as a remnant, never half-written). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "move_gens.h"
#include "zanshin/criu_image.h"
#include "zanshin/digest.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

#define CHUNK (1u << 20)

/* While this process sends them, the store's merge and gc keep the
 * baseline and its chain (a pin of this process, removed after). */
static char *pin_path(struct agent *a, const char *container)
{
	return xasprintf("%s/containers/%s/pins/%d-%llu.json", a->remnant_root, container, (int) getpid(),
			 zs_proc_start_time(getpid(), NULL));
}

void gens_plan_free(struct gens_plan *p)
{
	if (p->pin) {
		unlink(p->pin);
		free(p->pin);
	}
	for (size_t i = 0; i < p->n; i++)
		zs_remnant_gen_free(p->gens[i]);
	free(p->gens);
	memset(p, 0, sizeof(*p));
}

static bool held(char **gens, const char *id)
{
	for (size_t i = 0; id && gens && gens[i]; i++)
		if (strcmp(gens[i], id) == 0)
			return true;
	return false;
}

/* The pages of memory an image restores: its own and its parents'. */
static uint64_t full_bytes(const char *dir)
{
	struct zs_image_info info = {0};
	cleanup_error zs_error_t e = NULL;
	uint64_t b = 0;

	if (zs_image_info(dir, &info, &e) == 0)
		b = (info.pages + info.parent_pages) * 4096;
	zs_image_info_free(&info);
	return b;
}

int gens_plan(struct agent *a, const char *container, const char *base_id, char **target_gens, struct gens_plan *p)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_remnant *r = NULL;
	const char *id = base_id;
	uint64_t full = 0;

	memset(p, 0, sizeof(*p));
	if (base_id == NULL || held(target_gens, base_id) || zs_remnant_open(a->remnant_root, &r, &e) < 0)
		return 0;
	zs_remnant_settle(r);
	if (zs_remnant_pin(r, container, base_id, getpid(), &e) == 0)
		p->pin = pin_path(a, container);
	while (id && !held(target_gens, id) && p->n < AGENT_MAX_GENS) {
		struct zs_remnant_gen *g = NULL;
		if (zs_remnant_find(r, container, id, &g, &e) <= 0 || !g->diff || g->parent_image_id == NULL) {
			zs_remnant_gen_free(g);
			break;
		}
		if (p->n == 0)
			full = full_bytes(g->path);
		p->gens = xrealloc(p->gens, sizeof(*p->gens) * (p->n + 1));
		p->gens[p->n++] = g;
		p->bytes += g->bytes;
		id = g->parent_image_id;
	}
	zs_remnant_close(r);
	if (p->n == 0 || !held(target_gens, id) || p->bytes >= full) {
		if (p->n)
			zs_log("info",
			       "container %s: the target lacks %zu generation(s) of %llu bytes: a full image (%llu) "
			       "instead",
			       container, p->n, (unsigned long long) p->bytes, (unsigned long long) full);
		gens_plan_free(p);
		return 0;
	}
	/* oldest first */
	for (size_t i = 0; i < p->n / 2; i++) {
		struct zs_remnant_gen *t = p->gens[i];
		p->gens[i] = p->gens[p->n - 1 - i];
		p->gens[p->n - 1 - i] = t;
	}
	return 1;
}

struct mentry {
	char *name, *hash;
	uint64_t size;
};

/* The files of the generation DIR as its manifest lists them, with their
 * digests, each checked against the file's size now. */
static int read_manifest(const char *dir, struct mentry **out, size_t *n, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/manifest.json", dir);
	cleanup_json zs_json *j = NULL;
	const zs_json *files;
	const char *algo;
	size_t k;

	*out = NULL;
	*n = 0;
	if (zs_json_parse_file(path, "manifest", &j, err) < 0)
		return -1;
	algo = zs_json_string_value(zs_json_get(j, "hash"));
	files = zs_json_get(j, "files");
	if (algo == NULL || strcmp(algo, ZS_DIGEST_NAME) != 0 || !zs_json_is_array(files))
		return zs_make_error(err, -EINVAL, "%s: not a %s manifest", path, ZS_DIGEST_NAME);
	k = zs_json_array_len(files);
	*out = xzalloc(sizeof(**out) * (k + 1));
	for (size_t i = 0; i < k; i++) {
		const zs_json *f = zs_json_array_at(files, i);
		struct mentry *m = &(*out)[(*n)++];
		cleanup_free char *fp = NULL;
		struct stat st;
		if (zs_json_to_string(zs_json_get(f, "name"), path, "files[].name", ZS_JSON_REQUIRED, &m->name, err) <
			0 ||
		    zs_json_to_string(zs_json_get(f, "hash"), path, "files[].hash", ZS_JSON_REQUIRED, &m->hash, err) <
			0 ||
		    zs_json_to_uint64(zs_json_get(f, "size"), path, "files[].size", ZS_JSON_REQUIRED, &m->size, err) <
			0)
			return -1;
		fp = xasprintf("%s/%s", dir, m->name);
		if (!valid_name(m->name) || lstat(fp, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (uint64_t) st.st_size != m->size)
			return zs_make_error(err, -EINVAL, "%s: `%s` is not as the manifest says", dir, m->name);
	}
	return 0;
}

static void mentries_free(struct mentry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].hash);
	}
	free(v);
}

static bool is_pages(const char *name)
{
	return str_has_prefix(name, "pages-") && strstr(name, ".img") != NULL;
}

static int send_data(struct gens_ctx *x, const char *dir, const struct mentry *f, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, f->name), *buf = xmalloc(CHUNK);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t done = 0;

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	x->tx->meta = !is_pages(f->name);
	wire_file_begin(x->tx, dir, f->name, true, err);
	while (done < f->size) {
		size_t want = f->size - done < CHUNK ? (size_t) (f->size - done) : CHUNK;
		ssize_t r = read(fd, buf, want);
		if (r <= 0)
			return zs_make_error(err, r < 0 ? errno : -EIO, "read `%s`", path);
		if (x->cancelled(x->m, err) < 0 || wire_send_at(x->c, x->tx, buf, (size_t) r, done, err) < 0)
			return -1;
		done += (uint64_t) r;
	}
	wire_file_end(x->tx);
	if (is_pages(f->name))
		x->m->bytes_pages += f->size;
	return 0;
}

static int send_file(struct gens_ctx *x, const char *dir, const struct mentry *f, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "file");
	zs_jgen_kv_string(g, "name", f->name);
	zs_jgen_key(g, "size");
	zs_jgen_uint(g, f->size);
	wire_frame_encoding(x->tx, g);
	zs_jgen_map_close(g);
	if (zs_frame_send_gen(x->c, g, err) < 0)
		return -1;
	return send_data(x, dir, f, err);
}

static bool sent_name(const char *name, bool pages)
{
	return is_pages(name) == pages && strcmp(name, "manifest.json") != 0 && strcmp(name, "lineage.json") != 0;
}

/* One generation: `image` (store), its files (pages last), `received`. */
static int send_gen(struct gens_ctx *x, const struct zs_remnant_gen *gen, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_json zs_json *ok = NULL;
	struct mentry *files = NULL;
	size_t n = 0;
	int ret = -1;

	if (read_manifest(gen->path, &files, &n, err) < 0)
		goto out;
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "image");
	zs_jgen_kv_string(g, "image_id", gen->image_id);
	zs_jgen_kv_string(g, "parent_image_id", gen->parent_image_id);
	zs_jgen_key(g, "store");
	zs_jgen_bool(g, true);
	zs_jgen_key(g, "files");
	zs_jgen_array_open(g);
	for (int pages = 0; pages < 2; pages++)
		for (size_t i = 0; i < n; i++) {
			if (!sent_name(files[i].name, pages))
				continue;
			zs_jgen_map_open(g);
			zs_jgen_kv_string(g, "name", files[i].name);
			zs_jgen_key(g, "size");
			zs_jgen_uint(g, files[i].size);
			zs_jgen_kv_string(g, "digest", files[i].hash);
			zs_jgen_map_close(g);
		}
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	if (zs_frame_send_gen(x->c, g, err) < 0 || x->expect(x->s, "ready", &ok, err) < 0)
		goto out;
	for (int pages = 0; pages < 2; pages++)
		for (size_t i = 0; i < n; i++)
			if (sent_name(files[i].name, pages) && send_file(x, gen->path, &files[i], err) < 0)
				goto out;
	zs_json_free(ok);
	ok = NULL;
	ret = x->expect(x->s, "received", &ok, err);
out:
	mentries_free(files, n);
	return ret < 0 ? zs_error_wrap(err, "generation %s (%s)", gen->image_id, gen->name) : 0;
}

int gens_send(struct gens_ctx *x, const struct gens_plan *p, zs_error_t *err)
{
	for (size_t i = 0; i < p->n; i++) {
		if (send_gen(x, p->gens[i], err) < 0)
			return zs_error_wrap(err, "sending the generations node %s lacks", x->m->peer);
		x->m->generations_sent++;
	}
	zs_log("info", "move %s: %zu generation(s) node %s lacked sent (%llu bytes in the store)", x->m->id, p->n,
	       x->m->peer, (unsigned long long) p->bytes);
	return 0;
}
