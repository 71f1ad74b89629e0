/* zanshin — what an image says about its tasks, read without CRIU: the
 * process tree (pstree.img), every thread's credentials and seccomp state
 * (core-<tid>.img: thread_core.creds, thread_core.seccomp_mode), each
 * task's namespace ids (core-<pid>.img: ids) and those of the CRIU that
 * dumped it (inventory.img: root_ids), and the seccomp filters
 * (seccomp.img).  Field numbers are CRIU 4.2.1's (images/core.proto,
 * creds.proto, pstree.proto, inventory.proto, seccomp.proto). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/utils.h"

#define PSTREE_MAGIC 0x50273030u
#define CORE_MAGIC 0x55053847u
#define SECCOMP_MAGIC 0x64413049u
#define IDS_MAGIC 0x54432030u
#define USERNS_MAGIC 0x55474906u
#define ZS_IMG_MAX_SECCOMP (16u << 20)
#define MAX_THREADS (1u << 20)

/* NAME of DFD: a CRIU image with MAGIC, read whole (at most MAX bytes);
 * *IT iterates its entries. */
static int img_load(int dfd, const char *dir, const char *name, uint32_t magic, size_t max, uint8_t **buf,
		    struct zs_img_iter *it, char **what, zs_error_t *err)
{
	uint32_t head[2];
	size_t len;

	*what = xasprintf("%s/%s", dir, name);
	if (zs_img_slurp(dfd, dir, name, max, buf, &len, err) < 0)
		return -1;
	if (len < sizeof(head))
		return zs_make_error(err, -EINVAL, "%s: truncated header (%zu bytes)", *what, len);
	memcpy(head, *buf, sizeof(head));
	if (head[0] != ZS_IMG_COMMON_MAGIC || head[1] != magic)
		return zs_make_error(err, -EINVAL, "%s: bad magic (not a CRIU %s image)", *what, name);
	it->what = *what;
	it->base = *buf;
	it->pos = *buf + sizeof(head);
	it->end = *buf + len;
	return 0;
}

/* A repeated uint32: one varint, or a packed run of them. */
static int put_u32s(const struct zs_pb_field *f, uint32_t **v, size_t *n)
{
	const uint8_t *p, *end;
	uint64_t x;

	if (f->wire == ZS_PB_VARINT) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = (uint32_t) f->v;
		return f->v <= UINT32_MAX ? 0 : -1;
	}
	if (f->wire != ZS_PB_LEN)
		return -1;
	p = f->data, end = f->data + f->len;
	while (p < end) {
		if (!zs_pb_get_varint(&p, end, &x) || x > UINT32_MAX)
			return -1;
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = (uint32_t) x;
	}
	return 0;
}

/* Capability words (u32, low first) as a mask; *HIGH set if a capability
 * above 63 is there. */
static int cap_words(const struct zs_pb_field *f, uint64_t *mask, unsigned *idx, bool *high)
{
	uint32_t *w = NULL;
	size_t n = 0, i;
	int ret = put_u32s(f, &w, &n);

	for (i = 0; i < n; i++, (*idx)++) {
		if (*idx < 2)
			*mask |= (uint64_t) w[i] << (32 * *idx);
		else if (w[i])
			*high = true;
	}
	free(w);
	return ret;
}

static int decode_creds(const uint8_t *m, size_t len, struct zs_image_creds *c)
{
	const uint8_t *end = m + len;
	unsigned idx[ZS_IMG_CAP_SETS] = {0};
	struct zs_pb_field f;
	int r;

	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.num >= 1 && f.num <= 8 && f.wire == ZS_PB_VARINT) {
			c->ids[f.num - 1] = (uint32_t) f.v;
			c->ids_seen |= 1u << (f.num - 1);
		} else if (f.num >= 9 && f.num <= 12) {
			if (cap_words(&f, &c->caps[f.num - 9], &idx[f.num - 9], &c->caps_high) < 0)
				return -1;
		} else if (f.num == 19) {
			if (cap_words(&f, &c->caps[ZS_IMG_CAP_AMB], &idx[ZS_IMG_CAP_AMB], &c->caps_high) < 0)
				return -1;
		} else if (f.num == 13 && f.wire == ZS_PB_VARINT) {
			c->secbits = (uint32_t) f.v;
		} else if (f.num == 14) {
			if (put_u32s(&f, &c->groups, &c->n_groups) < 0)
				return -1;
		} else if (f.num == 18 && f.wire == ZS_PB_VARINT) {
			c->no_new_privs = f.v != 0;
		}
	}
	return r < 0 || c->ids_seen != 0xff ? -1 : 0;
}

static int decode_thread_core(const uint8_t *m, size_t len, struct zs_image_thread *t)
{
	const uint8_t *end = m + len;
	struct zs_pb_field f;
	int r;

	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.num == 10 && f.wire == ZS_PB_LEN) {
			if (decode_creds(f.data, f.len, &t->creds) < 0)
				return -1;
			t->has_creds = true;
		} else if (f.num == 11 && f.wire == ZS_PB_VARINT) {
			t->seccomp_mode = (uint32_t) f.v;
			t->has_seccomp_mode = true;
		} else if (f.num == 12 && f.wire == ZS_PB_VARINT) {
			t->seccomp_filter = (uint32_t) f.v;
			t->has_seccomp_filter = true;
		}
	}
	return r < 0 ? -1 : 0;
}

/* TaskCoreEntry: the task's state, and the deprecated per-task seccomp
 * mode (CRIU moves it to the thread when the thread has none). */
static int decode_task_core(const uint8_t *m, size_t len, struct zs_image_thread *t, uint32_t *old_mode, bool *has_old)
{
	const uint8_t *end = m + len;
	struct zs_pb_field f;
	int r;

	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.num == 1 && f.wire == ZS_PB_VARINT) {
			t->task_state = (uint32_t) f.v;
		} else if (f.num == 11 && f.wire == ZS_PB_VARINT) {
			*old_mode = (uint32_t) f.v;
			*has_old = true;
		} else if (f.num == 12 && f.wire == ZS_PB_VARINT && !t->has_seccomp_filter) {
			t->seccomp_filter = (uint32_t) f.v;
			t->has_seccomp_filter = true;
		}
	}
	return r < 0 ? -1 : 0;
}

/* TaskKobjIdsEntry: the namespace ids, fields 5..12 (pid, net, ipc, uts,
 * mnt, user, cgroup, time: the order of enum zs_img_ns). */
static int decode_ids(const uint8_t *m, size_t len, struct zs_img_ns_ids *ids)
{
	const uint8_t *end = m + len;
	struct zs_pb_field f;
	int r;

	memset(ids, 0, sizeof(*ids));
	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.num >= 5 && f.num <= 12 && f.wire == ZS_PB_VARINT) {
			ids->id[f.num - 5] = (uint32_t) f.v;
			ids->has |= 1u << (f.num - 5);
		}
	}
	ids->present = true;
	return r < 0 ? -1 : 0;
}

static int decode_core(const char *what, const uint8_t *m, size_t len, struct zs_image_thread *t, zs_error_t *err)
{
	const uint8_t *end = m + len;
	uint32_t old_mode = 0;
	bool has_old = false;
	struct zs_pb_field f;
	int r, bad = 0;
	const char *field = "core_entry";

	while (bad == 0 && (r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.wire != ZS_PB_LEN)
			continue;
		if (f.num == 5 && (bad = decode_thread_core(f.data, f.len, t)) < 0)
			field = "thread_core";
		else if (f.num == 3 && (bad = decode_task_core(f.data, f.len, t, &old_mode, &has_old)) < 0)
			field = "tc";
		else if (f.num == 4 && (bad = decode_ids(f.data, f.len, &t->ns)) < 0)
			field = "ids";
	}
	if (bad < 0 || r < 0)
		return zs_make_error(err, -EINVAL, "%s: %s: malformed message", what, field);
	if (!t->has_seccomp_mode && has_old) {
		t->seccomp_mode = old_mode;
		t->has_seccomp_mode = true;
	}
	return 0;
}

static int read_core(int dfd, const char *dir, struct zs_image_thread *t, zs_error_t *err)
{
	cleanup_free uint8_t *buf = NULL;
	cleanup_free char *what = NULL;
	struct zs_img_iter it;
	const uint8_t *m;
	size_t mlen;
	int r;

	snprintf(t->file, sizeof(t->file), "core-%" PRIu32 ".img", t->tid);
	snprintf(t->ns_file, sizeof(t->ns_file), "%s: ids.", t->file);
	if (img_load(dfd, dir, t->file, CORE_MAGIC, ZS_IMG_MAX_CORE, &buf, &it, &what, err) < 0)
		return -1;
	r = zs_img_next(&it, &m, &mlen, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return zs_make_error(err, -EINVAL, "%s: no core entry", what);
	return decode_core(what, m, mlen, t, err);
}

/* ids-<pid>.img: what CRIU restores the task's namespaces from (the
 * core's ids only when this file has no entry, criu/pstree.c). */
static int read_ids(int dfd, const char *dir, struct zs_image_thread *t, zs_error_t *err)
{
	cleanup_free uint8_t *buf = NULL;
	cleanup_free char *what = NULL;
	struct zs_img_iter it;
	const uint8_t *m;
	char name[32];
	size_t mlen;
	int r;

	snprintf(name, sizeof(name), "ids-%" PRIu32 ".img", t->pid);
	if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return 0;
	if (img_load(dfd, dir, name, IDS_MAGIC, ZS_IMG_MAX_CORE, &buf, &it, &what, err) < 0)
		return -1;
	r = zs_img_next(&it, &m, &mlen, err);
	if (r <= 0)
		return r;
	snprintf(t->ns_file, sizeof(t->ns_file), "%s: ", name);
	if (decode_ids(m, mlen, &t->ns) < 0)
		return zs_make_error(err, -EINVAL, "%s: task_kobj_ids_entry: malformed message", what);
	return 0;
}

static void add_thread(struct zs_image_tasks *ts, uint32_t pid, uint32_t tid)
{
	struct zs_image_thread *t;

	ts->threads = xrealloc(ts->threads, (ts->n + 1) * sizeof(*ts->threads));
	t = &ts->threads[ts->n++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->tid = tid;
}

/* PstreeEntry: pid (1), threads (5); a task without threads is its own
 * only thread (CRIU's read_pstree_image). */
static int decode_pstree_entry(const char *what, size_t idx, const uint8_t *m, size_t len, struct zs_image_tasks *ts,
			       zs_error_t *err)
{
	const uint8_t *end = m + len;
	uint32_t *threads = NULL;
	size_t n = 0, i;
	uint64_t pid = 0;
	bool has_pid = false;
	struct zs_pb_field f;
	int r;

	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.num == 1 && f.wire == ZS_PB_VARINT)
			pid = f.v, has_pid = true;
		else if (f.num == 5 && put_u32s(&f, &threads, &n) < 0)
			r = -1;
		if (r < 0)
			break;
	}
	if (r < 0 || !has_pid || pid == 0 || pid > INT32_MAX || ts->n + n > MAX_THREADS) {
		free(threads);
		return zs_make_error(err, -EINVAL, "%s: entry %zu: malformed pstree_entry", what, idx);
	}
	if (n == 0)
		add_thread(ts, (uint32_t) pid, (uint32_t) pid);
	for (i = 0; i < n; i++)
		add_thread(ts, (uint32_t) pid, threads[i]);
	free(threads);
	return 0;
}

static int read_pstree(int dfd, const char *dir, struct zs_image_tasks *ts, zs_error_t *err)
{
	cleanup_free uint8_t *buf = NULL;
	cleanup_free char *what = NULL;
	struct zs_img_iter it;
	const uint8_t *m;
	size_t mlen, idx = 0;
	int r;

	if (img_load(dfd, dir, "pstree.img", PSTREE_MAGIC, ZS_IMG_MAX_PSTREE, &buf, &it, &what, err) < 0)
		return -1;
	while ((r = zs_img_next(&it, &m, &mlen, err)) > 0)
		if (decode_pstree_entry(what, idx++, m, mlen, ts, err) < 0)
			return -1;
	if (r == 0 && ts->n == 0)
		return zs_make_error(err, -EINVAL, "%s: no task", what);
	return r;
}

/* inventory_entry.root_ids (3): the namespaces of the CRIU that dumped. */
static int read_root_ids(int dfd, const char *dir, struct zs_image_tasks *ts, zs_error_t *err)
{
	struct zs_inventory inv;
	const uint8_t *m, *end;
	struct zs_pb_field f;
	int r, ret = 0;

	if (zs_inventory_read(dfd, dir, &inv, err) < 0)
		return -1;
	m = inv.msg, end = inv.msg + inv.msg_len;
	while ((r = zs_pb_next(&m, end, &f)) > 0)
		if (f.num == 3 && f.wire == ZS_PB_LEN && decode_ids(f.data, f.len, &ts->root_ids) < 0)
			r = -1;
	if (r < 0)
		ret = zs_make_error(err, -EINVAL, "%s/inventory.img: root_ids: malformed message", dir);
	zs_inventory_free(&inv);
	return ret;
}

/* seccomp.img: SeccompEntry { repeated seccomp_filter seccomp_filters = 1 },
 * seccomp_filter { bytes filter = 1; uint64 prev = 2; uint32 flags = 3 }. */
static int decode_filter(const uint8_t *m, size_t len, struct zs_image_filter *flt)
{
	const uint8_t *end = m + len;
	struct zs_pb_field f;
	int r;

	flt->prev = -1;
	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.num == 1 && f.wire == ZS_PB_LEN) {
			free(flt->bpf);
			flt->bpf = xmalloc(f.len ? f.len : 1);
			memcpy(flt->bpf, f.data, f.len);
			flt->len = f.len;
		} else if (f.num == 2 && f.wire == ZS_PB_VARINT) {
			flt->prev = f.v > INT32_MAX ? -2 : (long) f.v;
		} else if (f.num == 3 && f.wire == ZS_PB_VARINT) {
			flt->flags = (uint32_t) f.v;
		}
	}
	return r < 0 ? -1 : 0;
}

static int read_seccomp(int dfd, const char *dir, struct zs_image_tasks *ts, zs_error_t *err)
{
	cleanup_free uint8_t *buf = NULL;
	cleanup_free char *what = NULL;
	struct zs_img_iter it;
	const uint8_t *m, *end;
	struct zs_pb_field f;
	size_t mlen;
	int r;

	if (faccessat(dfd, "seccomp.img", F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return 0;
	if (img_load(dfd, dir, "seccomp.img", SECCOMP_MAGIC, ZS_IMG_MAX_SECCOMP, &buf, &it, &what, err) < 0)
		return -1;
	r = zs_img_next(&it, &m, &mlen, err);
	if (r <= 0)
		return r;
	end = m + mlen;
	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.num != 1 || f.wire != ZS_PB_LEN)
			continue;
		ts->filters = xrealloc(ts->filters, (ts->n_filters + 1) * sizeof(*ts->filters));
		memset(&ts->filters[ts->n_filters], 0, sizeof(*ts->filters));
		if (decode_filter(f.data, f.len, &ts->filters[ts->n_filters++]) < 0)
			r = -1;
		if (r < 0)
			break;
	}
	if (r < 0)
		return zs_make_error(err, -EINVAL, "%s: seccomp_entry: malformed message", what);
	return 0;
}

/* uid_gid_extent { first = 1, lower_first = 2, count = 3 } */
static int decode_extent(const uint8_t *m, size_t len, struct zs_image_extent *e)
{
	const uint8_t *end = m + len;
	struct zs_pb_field f;
	int r;

	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.wire != ZS_PB_VARINT || f.num < 1 || f.num > 3)
			continue;
		if (f.num == 1)
			e->first = (uint32_t) f.v;
		else if (f.num == 2)
			e->lower_first = (uint32_t) f.v;
		else
			e->count = (uint32_t) f.v;
	}
	return r < 0 ? -1 : 0;
}

/* userns-<id>.img of the root task's user namespace: the mappings CRIU
 * writes for it. */
static int read_userns(int dfd, const char *dir, struct zs_image_tasks *ts, zs_error_t *err)
{
	const struct zs_image_thread *root = &ts->threads[0];
	cleanup_free uint8_t *buf = NULL;
	cleanup_free char *what = NULL;
	struct zs_img_iter it;
	const uint8_t *m, *end;
	struct zs_pb_field f;
	char name[48];
	size_t mlen;
	int r;

	if (!(root->ns.has & (1u << ZS_IMG_NS_USER)))
		return 0;
	snprintf(ts->userns_file, sizeof(ts->userns_file), "userns-%" PRIu32 ".img", root->ns.id[ZS_IMG_NS_USER]);
	snprintf(name, sizeof(name), "%s", ts->userns_file);
	if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return 0;
	if (img_load(dfd, dir, name, USERNS_MAGIC, ZS_IMG_MAX_CORE, &buf, &it, &what, err) < 0)
		return -1;
	r = zs_img_next(&it, &m, &mlen, err);
	if (r <= 0)
		return r;
	ts->has_userns = true;
	end = m + mlen;
	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		struct zs_image_extent **v = f.num == 1 ? &ts->uid_map : &ts->gid_map;
		size_t *n = f.num == 1 ? &ts->n_uid_map : &ts->n_gid_map;

		if ((f.num != 1 && f.num != 2) || f.wire != ZS_PB_LEN || *n >= 4096)
			continue;
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		memset(&(*v)[*n], 0, sizeof(**v));
		if (decode_extent(f.data, f.len, &(*v)[(*n)++]) < 0)
			r = -1;
		if (r < 0)
			break;
	}
	if (r < 0)
		return zs_make_error(err, -EINVAL, "%s: userns_entry: malformed message", what);
	return 0;
}

int zs_image_tasks_read(int at, const char *dir, struct zs_image_tasks *ts, zs_error_t *err)
{
	cleanup_close int dfd = at >= 0 ? fcntl(at, F_DUPFD_CLOEXEC, 3) : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t i;

	memset(ts, 0, sizeof(*ts));
	if (dfd < 0)
		return zs_make_error(err, errno, "%s", dir);
	if (read_root_ids(dfd, dir, ts, err) < 0 || read_pstree(dfd, dir, ts, err) < 0 ||
	    read_seccomp(dfd, dir, ts, err) < 0)
		goto fail;
	for (i = 0; i < ts->n; i++)
		if (read_core(dfd, dir, &ts->threads[i], err) < 0 ||
		    (ts->threads[i].tid == ts->threads[i].pid && read_ids(dfd, dir, &ts->threads[i], err) < 0))
			goto fail;
	if (read_userns(dfd, dir, ts, err) < 0)
		goto fail;
	return 0;
fail:
	zs_image_tasks_free(ts);
	return -1;
}

void zs_image_tasks_free(struct zs_image_tasks *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		free(ts->threads[i].creds.groups);
	for (i = 0; i < ts->n_filters; i++)
		free(ts->filters[i].bpf);
	free(ts->threads);
	free(ts->filters);
	free(ts->uid_map);
	free(ts->gid_map);
	memset(ts, 0, sizeof(*ts));
}
