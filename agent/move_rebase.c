/* zanshind — a diff flattened against what the target holds.
 *
 * When the target holds a generation of the container but neither its
 * baseline nor a chain this node can send (move_gens.c), the source asks
 * it, during setup, for the digests of that generation's pages (`digests`
 * → per pagemap, the virtual address and the first 16 bytes of the
 * SHA-256 of every page it restores).  After the checkpoint, the image is
 * rewritten as a diff against that generation (lib/image_rebase.c): a page
 * whose digest matches is taken from the target's generation, the others
 * travel.  Used when that halves what would be sent, at least.  The target
 * checks every file against the manifest as for any image, and CRIU checks
 * the parent's image id at restore. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "move_rebase.h"
#include "zanshin/criu_image.h"
#include "zanshin/digest.h"
#include "zanshin/image_rebase.h"
#include "zanshin/log.h"
#include "zanshin/page_delta.h"
#include "zanshin/remnant.h"
#include "zanshin/utils.h"

#define REC 24			 /* vaddr (u64 BE) + 16 bytes of digest */
#define MAX_DIGESTS (256u << 20) /* bytes of digests: ~11 M pages */
#define MAX_PAGEMAPS 4096

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t) v;
}

void rebase_map_free(struct rebase_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->pm[i].name);
	free(m->pm);
	free(m->data);
	free(m->image_id);
	memset(m, 0, sizeof(*m));
}

/* ---- target: the digests of a generation's pages ---- */

struct dig {
	char **names;
	uint64_t *counts;
	size_t n;
	uint8_t *data;
	size_t len, cap;
};

static int dig_page(void *arg, const char *pagemap, uint64_t vaddr, const uint8_t *page, zs_error_t *err)
{
	struct dig *d = arg;
	uint8_t h[ZS_DIGEST_LEN];

	(void) err;
	if (d->n == 0 || strcmp(d->names[d->n - 1], pagemap) != 0) {
		d->names = xrealloc(d->names, sizeof(char *) * (d->n + 1));
		d->counts = xrealloc(d->counts, sizeof(uint64_t) * (d->n + 1));
		d->names[d->n] = xstrdup(pagemap);
		d->counts[d->n++] = 0;
	}
	if (d->len + REC > d->cap) {
		d->cap = d->cap ? 2 * d->cap : 1u << 20;
		d->data = xrealloc(d->data, d->cap);
	}
	zs_digest_buf(page, 4096, h);
	put64(d->data + d->len, vaddr);
	memcpy(d->data + d->len + 8, h, 16);
	d->len += REC;
	d->counts[d->n - 1]++;
	return 0;
}

bool peer_knows(struct agent *a, const char *peer, const char *container)
{
	cleanup_error zs_error_t e = NULL;
	char **ids = NULL;
	size_t n = 0;
	bool known = false;

	if (peer == NULL || journal_list(a, &ids, &n, &e) < 0)
		return false;
	for (size_t i = 0; i < n && !known; i++) {
		struct move m;
		cleanup_error zs_error_t ge = NULL;
		if (journal_get(a, ids[i], &m, &ge) < 0)
			continue;
		known = m.peer && strcmp(m.peer, peer) == 0 && strcmp(m.container, container) == 0 &&
			(strcmp(m.state, "done") == 0 || strcmp(m.state, "running") == 0);
		move_free(&m);
	}
	zs_free_string_array(ids);
	return known;
}

int rebase_answer(struct agent *a, struct zs_conn *c, struct zs_remnant *store, const char *container, const zs_json *h,
		  zs_error_t *err)
{
	const char *id = zs_json_string_value(zs_json_get(h, "image_id"));
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	struct zs_remnant_gen *gen = NULL;
	struct dig d = {0};
	int ret = -1;

	/* any node of the cluster may be the container's holder now (it may
	 * never have moved it to or from this node): digests, not pages, are
	 * given to any authenticated peer that names the container
	 * (docs/agent.md, "Exposure") */

	if (id == NULL || !valid_name(id) || zs_remnant_find(store, container, id, &gen, err) <= 0)
		return zs_make_error(err, -ENOENT, "digests: node %s holds no generation %s of %s", a->node,
				     id ? id : "?", container);
	if (zs_page_each(gen->path, dig_page, &d, err) < 0)
		goto out;
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "digests");
	zs_jgen_key(g, "pagemaps");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < d.n; i++) {
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "name", d.names[i]);
		zs_jgen_key(g, "pages");
		zs_jgen_uint(g, d.counts[i]);
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
	zs_jgen_key(g, "size");
	zs_jgen_uint(g, d.len);
	zs_jgen_map_close(g);
	if (zs_frame_send_gen(c, g, err) < 0 || (d.len && zs_conn_write(c, d.data, d.len, err) < 0))
		goto out;
	ret = 0;
out:
	for (size_t i = 0; i < d.n; i++)
		free(d.names[i]);
	free(d.names);
	free(d.counts);
	free(d.data);
	zs_remnant_gen_free(gen);
	return ret;
}

/* ---- source ---- */

int rebase_prepare(struct agent *a, struct zs_conn *c, const char *image_id, struct rebase_map *m, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_json zs_json *ans = NULL;
	const zs_json *pms;
	uint64_t size = 0, total = 0, off = 0;

	memset(m, 0, sizeof(*m));
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "digests");
	zs_jgen_kv_string(g, "image_id", image_id);
	zs_jgen_map_close(g);
	conn_set_timeout(c->fd, 10 * a->io_timeout); /* the target hashes its generation */
	if (zs_frame_send_gen(c, g, err) < 0 || zs_frame_expect(c, "digests", &ans, err) < 0)
		return -1;
	conn_set_timeout(c->fd, a->io_timeout);
	pms = zs_json_get(ans, "pagemaps");
	if (zs_json_to_uint64(zs_json_get(ans, "size"), "digests", "size", ZS_JSON_REQUIRED, &size, err) < 0)
		return -1;
	if (!zs_json_is_array(pms) || zs_json_array_len(pms) > MAX_PAGEMAPS || size > MAX_DIGESTS || size % REC)
		return zs_make_error(err, -EBADMSG, "digests: bad pagemaps or size");
	m->n = zs_json_array_len(pms);
	m->pm = xzalloc(sizeof(*m->pm) * (m->n + 1));
	for (size_t i = 0; i < m->n; i++) {
		const zs_json *p = zs_json_array_at(pms, i);
		uint64_t k = 0;
		if (zs_json_to_string(zs_json_get(p, "name"), "digests", "name", ZS_JSON_REQUIRED, &m->pm[i].name,
				      err) < 0 ||
		    zs_json_to_uint64(zs_json_get(p, "pages"), "digests", "pages", ZS_JSON_REQUIRED, &k, err) < 0)
			return -1;
		if (!valid_name(m->pm[i].name) || k > size / REC)
			return zs_make_error(err, -EBADMSG, "digests: bad pagemap entry");
		m->pm[i].off = off;
		m->pm[i].n = k;
		off += k * REC;
		total += k;
	}
	if (total * REC != size)
		return zs_make_error(err, -EBADMSG, "digests: %llu pages in %llu bytes", (unsigned long long) total,
				     (unsigned long long) size);
	m->data = xmalloc(size ? size : 1);
	if (size && zs_conn_read(c, m->data, size, err) < 0)
		return -1;
	m->image_id = xstrdup(image_id);
	m->pages = total;
	return 0;
}

static int same(void *arg, const char *pagemap, uint64_t vaddr, const uint8_t *page)
{
	const struct rebase_map *m = arg;
	uint8_t d[ZS_DIGEST_LEN];

	for (size_t i = 0; i < m->n; i++) {
		const uint8_t *base = m->data + m->pm[i].off;
		size_t lo = 0, hi = m->pm[i].n;
		if (strcmp(m->pm[i].name, pagemap) != 0)
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			uint64_t v = get64(base + mid * REC);
			if (v == vaddr) {
				zs_digest_buf(page, 4096, d);
				return memcmp(d, base + mid * REC + 8, 16) == 0;
			}
			if (v < vaddr)
				lo = mid + 1;
			else
				hi = mid;
		}
		return 0;
	}
	return 0;
}

char *rebase_apply(const char *img, const char *work, const struct rebase_map *m, uint64_t *kept, zs_error_t *err)
{
	cleanup_free char *out = xasprintf("%s/img-rebased", work);
	struct zs_rebase_stats st;
	struct zs_image_info info = {0};
	uint64_t all;

	*kept = 0;
	if (zs_image_info(img, &info, err) < 0)
		return NULL;
	all = info.pages + info.parent_pages;
	zs_image_info_free(&info);
	if (zs_image_rebase(img, out, m->image_id, same, (void *) m, &st, err) < 0)
		return NULL;
	if (st.pages * 2 > all) {
		zs_log("info", "%s: %llu of %llu pages differ from %s: a full image instead", img,
		       (unsigned long long) st.pages, (unsigned long long) all, m->image_id);
		rm_rf(out);
		return NULL;
	}
	*kept = st.parent_pages;
	return steal_pointer(&out);
}
