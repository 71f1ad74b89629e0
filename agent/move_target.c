/* zanshind — the target side of a move.
 *
 *   receiving  offer answered (generations held, Bundle held), Bundle and
 *              image files arriving into a temporary generation of the
 *              store, each checked against the manifest as it arrives
 *   received   every file in; waiting for the source's commit
 *   restoring  committed to the store (the generation appears complete),
 *              `zanshin restore` with tracking running
 *   running    restored; aborted: never restored, nothing half-written kept
 * A status query (from a source whose commit got no answer) aborts a move
 * still receiving/received, so it can never run afterwards. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent.h"
#include "move_gens.h"
#include "move_rebase.h"
#include "wire.h"
#include "zanshin/image_manifest.h"
#include "peer_request.h"
#include "zanshin/config.h"
#include "zanshin/digest.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/utils.h"

#define CHUNK (1u << 20)

struct tgt {
	struct agent *a;
	struct zs_conn *c;
	struct move m;
	struct zs_remnant *store;
	char *work, *tmp; /* tmp: the store's temporary generation */
	bool received;
	unsigned rounds;    /* pre-copy rounds received */
	unsigned max_chain; /* pre-copy: the store's, merged after the restore */
	bool lazy;	    /* post-copy: tmp is WORK/img, never committed to the store
			     * (its pages stay on the source) */
	bool chunks;	    /* the data of the current frame comes in chunks */
	struct wire_rx rx;
	const char *file; /* the image file being received, NULL for a Bundle */
	unsigned stored;  /* generations committed ahead of the image (move_gens.c) */
	bool peer_known;  /* the peer moved this container before (peer_knows) */
	/* the image id of the newest generation this move stored whose whole
	 * chain came in this move (a pre-copy's rounds from a whole first
	 * one), and whether the image arriving is a diff against it: its
	 * deltas are against pages this peer sent, whoever it is */
	char *own_iid;
	bool own_parent;
};

static void put(struct tgt *t, const char *state)
{
	cleanup_error zs_error_t e = NULL;

	if (journal_put(t->a, &t->m, state, &e) < 0)
		zs_log("error", "%s", zs_error_msg(e));
}

/* The next piece of a file's data into BUF (at most CHUNK bytes), OFF
 * bytes into it: *N. */
static int recv_piece(struct tgt *t, char *buf, uint64_t off, uint64_t remaining, size_t *n, zs_error_t *err)
{
	struct zs_zchunk h;
	const void *base = NULL;

	if (!t->chunks) {
		*n = remaining < CHUNK ? (size_t) remaining : CHUNK;
		return zs_conn_read(t->c, buf, *n, err);
	}
	if (wire_recv_header(t->c, &t->rx, remaining, &h, err) < 0)
		return -1;
	*n = h.raw_len;
	if (h.kind == ZS_ZDELTA && !t->own_parent && !t->peer_known &&
	    !(t->peer_known = peer_knows(t->a, t->c->peer, t->m.container)))
		return zs_make_error(err, -EACCES, "a delta chunk from node %s, which never moved container %s here",
				     t->c->peer, t->m.container);
	if (h.kind == ZS_ZDELTA && wire_rx_base(&t->rx, t->tmp, t->file, off, h.raw_len, &base, err) < 0)
		return -1;
	return wire_recv_payload(t->c, &t->rx, &h, base, buf, err);
}

/* PATH gets SIZE bytes from the peer.  With DG_OUT (an image file) they
 * are hashed (*DG_OUT), must have the digest WANT_HEX when given (else the
 * caller checks the one that follows them) and the file is not synced
 * here: the store's commit fsyncs every file of the generation. */
static int recv_to_file(struct tgt *t, const char *path, uint64_t size, const char *want_hex, uint8_t *dg_out,
			zs_error_t *err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cleanup_free char *buf = xmalloc(CHUNK);
	zs_digest *d = dg_out ? zs_digest_new() : NULL;
	uint64_t done = 0;

	if (fd < 0)
		return zs_make_error(err, errno, "create `%s`", path);
	while (done < size) {
		size_t n = 0;
		if (recv_piece(t, buf, done, size - done, &n, err) < 0) {
			zs_digest_free(d);
			return zs_error_wrap(err, "receiving `%s`", path);
		}
		if (write_all(fd, buf, n) < 0) {
			zs_digest_free(d);
			return zs_make_error(err, errno, "receiving `%s`", path);
		}
		if (d)
			zs_digest_update(d, buf, n);
		done += n;
	}
	if (d) {
		uint8_t dg[ZS_DIGEST_LEN];
		char hex[2 * ZS_DIGEST_LEN + 1];
		zs_digest_final(d, dg);
		zs_digest_hex(dg, hex);
		if (want_hex && strcmp(hex, want_hex) != 0) {
			/* the digest of what was rebuilt stays in this node's log:
			 * the peer is not told a digest of pages it did not send */
			zs_log("warning", "%s: digest %s", path, hex);
			return zs_make_error(err, -EBADMSG, "%s: not the digest the manifest says (%s)", path,
					     want_hex);
		}
		/* an image file: the store's commit fsyncs it (and takes
		 * this digest of the bytes written: recv_image); a post-copy
		 * image is never committed (a crash aborts its move) */
		memcpy(dg_out, dg, ZS_DIGEST_LEN);
		return 0;
	}
	if (fsync(fd) < 0)
		return zs_make_error(err, errno, "fsync `%s`", path);
	return 0;
}

static int answer_offer(struct tgt *t, const zs_json *offer, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *st = NULL, *held = NULL;
	struct zs_remnant_gen **gens = NULL;
	size_t n = 0, i;
	const char *id = zs_json_string_value(zs_json_get(offer, "move"));
	const char *cid = zs_json_string_value(zs_json_get(offer, "container"));
	const char *digest = zs_json_string_value(zs_json_get(offer, "bundle_digest"));
	const char *rdigest = zs_json_string_value(zs_json_get(offer, "rootfs_digest"));
	const char *mode = zs_json_string_value(zs_json_get(offer, "mode"));
	cleanup_free char *rheld = NULL;

	if (peer_check_offer(offer, &t->lazy, err) < 0)
		return -1;
	if (journal_get(t->a, id, &t->m, err) == 0) {
		move_free(&t->m);
		return zs_make_error(err, -EEXIST, "move %s is already known on node %s", id, t->a->node);
	}
	zs_error_release(err);
	st = rt_status(t->a, cid);
	if (st)
		return zs_make_error(err, -EEXIST, "container %s already exists on node %s (%s)", cid, t->a->node, st);
	t->m.id = xstrdup(id);
	t->m.container = xstrdup(cid);
	t->m.peer = xstrdup(t->c->peer);
	t->m.role = xstrdup("target");
	t->m.mode = xstrdup(mode ? mode : "stop-copy");
	t->m.bundle_digest = xstrdup(digest);
	t->m.started = now_s();
	t->work = xasprintf("%s/work/%s", t->a->state_dir, id);
	if (mkdir_p(t->work, 0700, err) < 0)
		return -1;
	put(t, "receiving");
	if (zs_remnant_open(t->a->remnant_root, &t->store, err) < 0)
		return -1;
	zs_remnant_settle(t->store);
	if (zs_remnant_list(t->store, cid, &gens, &n, err) < 0) {
		zs_error_release(err);
		n = 0;
	}
	held = bundle_find(t->a, digest);
	rheld = held ? NULL : rootfs_find(t->a, rdigest);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "have");
	zs_jgen_key(g, "generations");
	zs_jgen_array_open(g);
	for (i = 0; i < n; i++)
		zs_jgen_string(g, gens[i]->image_id);
	zs_jgen_array_close(g);
	zs_jgen_key(g, "bundle");
	zs_jgen_bool(g, held != NULL);
	zs_jgen_key(g, "rootfs");
	zs_jgen_bool(g, held != NULL || rheld != NULL);
	wire_offer(g);
	zs_jgen_map_close(g);
	zs_remnant_gens_free(gens, n);
	return zs_frame_send_gen(t->c, g, err);
}

static int check_space(const char *dir, uint64_t need, zs_error_t *err)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) < 0)
		return zs_make_error(err, errno, "statvfs `%s`", dir);
	if ((uint64_t) sv.f_bavail * sv.f_frsize < need + (64u << 20))
		return zs_make_error(err, -ENOSPC, "not enough space in `%s` for %llu bytes (%llu free)", dir,
				     (unsigned long long) need,
				     (unsigned long long) sv.f_bavail * (unsigned long long) sv.f_frsize);
	return 0;
}

static int recv_bundle(struct tgt *t, const zs_json *h, zs_error_t *err)
{
	cleanup_free char *dir = xasprintf("%s/bundle", t->work), *cfg = NULL, *tar = NULL, *digest = NULL,
			  *rdigest = NULL;
	uint64_t csize = 0, size = 0;
	bool reuse = false;
	struct bundle_hdr b;
	int r = peer_parse_bundle(h, &b, err);

	digest = b.digest;
	rdigest = b.rdigest;
	csize = b.csize;
	size = b.size;
	reuse = b.reuse;
	if (r < 0 || wire_encoding(h, "bundle", &t->chunks, err) < 0)
		return -1;
	if (check_space(t->a->state_dir, csize + size, err) < 0)
		return -1;
	rm_rf(dir);
	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	cfg = xasprintf("%s/config.json", dir);
	tar = xasprintf("%s/rootfs.tar", dir);
	if (recv_to_file(t, cfg, csize, NULL, NULL, err) < 0 ||
	    (!reuse && recv_to_file(t, tar, size, NULL, NULL, err) < 0) ||
	    bundle_unpack(t->a, dir, digest, rdigest, reuse, err) < 0)
		return -1;
	rm_rf(dir);
	free(t->m.bundle_digest);
	t->m.bundle_digest = xstrdup(digest);
	free(t->m.rootfs_digest);
	t->m.rootfs_digest = xstrdup(rdigest);
	t->m.bytes_bundle = csize + size;
	t->m.rootfs_reused = reuse;
	return zs_frame_send(t->c, "{\"type\":\"ok\"}", 13, err);
}

/* The image's parent, when a diff, must be a generation held here: its
 * `parent` link in the temporary generation points at it. */
static int link_parent(struct tgt *t, const char *image_id, const char *parent_id, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;
	cleanup_free char *link = NULL, *target = NULL;
	int r;

	if (parent_id == NULL)
		return 0;
	r = zs_remnant_find(t->store, t->m.container, parent_id, &g, err);
	if (r == 0)
		return zs_make_error(err, -ENOENT, "image %s: its parent %s is not held by node %s", image_id,
				     parent_id, t->a->node);
	if (r < 0)
		return -1;
	link = xasprintf("%s/parent", t->tmp);
	target = xasprintf("../%s", g->name);
	zs_remnant_gen_free(g);
	if (symlink(target, link) < 0)
		return zs_make_error(err, errno, "symlink `%s`", link);
	return 0;
}

/* The `digest` frame after file NAME: it must be of NAME and be DG, the
 * digest of the bytes received. */
static int check_digest_after(struct tgt *t, const char *name, const uint8_t dg[ZS_DIGEST_LEN], zs_error_t *err)
{
	cleanup_json zs_json *f = NULL;
	char hex[2 * ZS_DIGEST_LEN + 1];
	const char *want;

	if (zs_frame_expect(t->c, "digest", &f, err) < 0 || peer_check_digest(f, name, &want, err) < 0)
		return -1;
	zs_digest_hex(dg, hex);
	if (strcmp(hex, want) != 0) {
		/* as in recv_to_file: the digest of what was rebuilt (deltas
		 * against pages held here) stays in this node's log */
		zs_log("warning", "file `%s`: digest %s", name, hex);
		return zs_make_error(err, -EBADMSG, "file `%s`: not the digest the source says (%s)", name, want);
	}
	return 0;
}

/* A generation stored: the newest of a chain all sent in this move when
 * it is whole or a diff against the one before. */
static void own_chain(struct tgt *t)
{
	bool own = t->m.parent_image_id == NULL || t->own_parent;

	free(t->own_iid);
	t->own_iid = own ? xstrdup(t->m.image_id) : NULL;
}

/* A pre-copy round in: a generation at once (the next image links to it). */
static int received_round(struct tgt *t, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *name = NULL;
	int r = precopy_commit_round(t->a, &t->m, t->store, t->tmp, &name, err);

	if (r < 0 && name == NULL)
		zs_remnant_gen_abort(t->store, t->tmp); /* not committed: nothing half-written stays */
	free(t->tmp);
	t->tmp = NULL;
	if (r < 0)
		return -1;
	t->rounds++;
	own_chain(t);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "received");
	zs_jgen_kv_string(g, "generation", name);
	zs_jgen_map_close(g);
	free(t->m.img_dir);
	t->m.img_dir = NULL;
	return zs_frame_send_gen(t->c, g, err);
}

/* Where the image's files go: a temporary generation of the store, or
 * (post-copy) the move's work directory. */
static int image_begin(struct tgt *t, zs_error_t *err)
{
	if (!t->lazy)
		return zs_remnant_gen_begin(t->store, t->m.container, &t->tmp, err);
	t->tmp = xasprintf("%s/img", t->work);
	rm_rf(t->tmp);
	return mkdir_p(t->tmp, 0700, err);
}

/* A generation the source sent ahead of its image (move_gens.c): every
 * file in and checked, committed to the store now. */
static int store_gen(struct tgt *t, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;

	if (zs_remnant_gen_commit(t->store, t->m.container, t->tmp, &g, err) < 0)
		return zs_error_wrap(err, "committing generation %s to the store of node %s", t->m.image_id,
				     t->a->node);
	zs_log("info", "move %s: generation %s of %s stored as %s", t->m.id, t->m.image_id, t->m.container, g->name);
	zs_remnant_gen_free(g);
	free(t->tmp);
	t->tmp = NULL;
	free(t->m.img_dir);
	t->m.img_dir = NULL;
	t->stored++;
	own_chain(t);
	return zs_frame_send(t->c, "{\"type\":\"received\"}", 19, err);
}

static int recv_image(struct tgt *t, const zs_json *h, zs_error_t *err)
{
	struct mfile *files = NULL;
	size_t n = 0, i;
	uint64_t total = 0;
	const char *iid = zs_json_string_value(zs_json_get(h, "image_id"));
	const char *pid = zs_json_string_value(zs_json_get(h, "parent_image_id"));
	bool store = false, pre = false;
	int ret = -1, r;

	if (t->tmp || peer_check_image(h, err) < 0 ||
	    zs_json_to_bool(zs_json_get(h, "store"), "image", "store", 0, &store, err) < 0 ||
	    zs_json_to_bool(zs_json_get(h, "pre_dump"), "image", "pre_dump", 0, &pre, err) < 0 ||
	    (store && !pre && (pid == NULL || t->stored >= AGENT_MAX_GENS))) {
		zs_error_release(err);
		zs_make_error(err, -EINVAL,
			      "image: a second image, an invalid image id, or a generation to store that is not a "
			      "diff (or one too many)");
		goto out;
	}
	/* a pre-dump round: a generation to store (its first may be whole),
	 * only in a pre-copy move, at most AGENT_MAX_PRECOPY_ROUNDS */
	if (pre && (!store || !is_precopy(&t->m) || t->rounds >= AGENT_MAX_PRECOPY_ROUNDS)) {
		zs_make_error(err, -EINVAL,
			      "image: a pre-dump round that is not a generation to store, outside a pre-copy move, "
			      "or more than %d",
			      AGENT_MAX_PRECOPY_ROUNDS);
		goto out;
	}
	free(t->m.image_id);
	free(t->m.parent_image_id);
	t->m.image_id = xstrdup(iid);
	t->m.parent_image_id = pid ? xstrdup(pid) : NULL;
	t->m.diff = pid != NULL;
	t->own_parent = pid && t->own_iid && strcmp(pid, t->own_iid) == 0;
	if (peer_parse_manifest(h, &files, &n, &total, err) < 0 ||
	    check_space(t->lazy ? t->work : t->a->remnant_root, total, err) < 0 || image_begin(t, err) < 0)
		goto out;
	free(t->m.img_dir);
	t->m.img_dir = xstrdup(t->tmp);
	put(t, "receiving");
	/* the source waits for this before it sends a file: a refusal (no
	 * space, no parent) reaches it as a clear error, not a broken pipe */
	if (link_parent(t, iid, pid, err) < 0 || zs_frame_send(t->c, "{\"type\":\"ready\"}", 16, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		cleanup_json zs_json *f = NULL;
		cleanup_free char *path = NULL;
		uint64_t size = 0;
		uint8_t dg[ZS_DIGEST_LEN];
		if (zs_frame_expect(t->c, "file", &f, err) < 0 || peer_check_file(f, &files[i], &size, err) < 0)
			goto out;
		path = xasprintf("%s/%s", t->tmp, files[i].name);
		t->file = files[i].name;
		r = wire_encoding(f, "file", &t->chunks, err);
		if (r == 0)
			r = recv_to_file(t, path, size, files[i].digest, dg, err);
		t->file = NULL;
		wire_rx_file_end(&t->rx);
		if (r < 0 || (files[i].digest == NULL && check_digest_after(t, files[i].name, dg, err) < 0))
			goto out;
		/* the commit's manifest takes this digest, not a second read */
		if (!t->lazy)
			zs_remnant_gen_known(t->tmp, files[i].name, dg, size);
		if (str_has_prefix(files[i].name, "pages-"))
			t->m.bytes_pages += size;
	}
	if (store) {
		ret = pre ? received_round(t, err) : store_gen(t, err);
		goto out;
	}
	t->received = true;
	put(t, "received");
	ret = zs_frame_send(t->c, "{\"type\":\"received\"}", 19, err);
out:
	peer_mfiles_free(files, n);
	return ret;
}

static int commit_restore(struct tgt *t, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;
	cleanup_free char *bundle = NULL, *now = NULL, *work = xasprintf("%s/restore", t->work);
	double t0;
	int r;

	if (!t->received)
		return zs_make_error(err, -EPROTO, "commit before the image was received");
	bundle = bundle_find(t->a, t->m.bundle_digest);
	if (bundle == NULL)
		return zs_make_error(err, -ENOENT, "bundle %s of %s is not held by node %s", t->m.bundle_digest,
				     t->m.container, t->a->node);
	r = journal_transition(t->a, t->m.id, "received", "restoring", &now, err);
	if (r <= 0)
		return r < 0 ? -1 : zs_make_error(err, -ECANCELED, "move %s was %s meanwhile", t->m.id, now);
	free(t->m.state);
	t->m.state = xstrdup("restoring");
	if (t->rounds)
		t->max_chain = precopy_hold_merge(t->store);
	t0 = now_s();
	if (zs_remnant_gen_commit(t->store, t->m.container, t->tmp, &g, err) < 0)
		return zs_error_wrap(err, "committing image %s to the store of node %s", t->m.image_id, t->a->node);
	t->m.commit_s = now_s() - t0;
	free(t->tmp);
	t->tmp = NULL;
	t->m.generation = xstrdup(g->name);
	t->m.bundle = xstrdup(bundle);
	put(t, NULL);
	r = rt_restore(t->a, &t->m, t->m.container, g->path, bundle, work, err);
	zs_remnant_gen_free(g);
	return r;
}

/* post-copy: restore at once, the pages follow from the source */
static int commit_postcopy(struct tgt *t, zs_error_t *err)
{
	cleanup_free char *bundle = NULL, *now = NULL, *work = xasprintf("%s/restore", t->work);
	int r;

	if (!t->received)
		return zs_make_error(err, -EPROTO, "commit before the image was received"), -2;
	bundle = bundle_find(t->a, t->m.bundle_digest);
	if (bundle == NULL)
		return zs_make_error(err, -ENOENT, "bundle %s of %s is not held by node %s", t->m.bundle_digest,
				     t->m.container, t->a->node),
		       -2;
	r = journal_transition(t->a, t->m.id, "received", "restoring", &now, err);
	if (r <= 0)
		return (r < 0 ? -1 : zs_make_error(err, -ECANCELED, "move %s was %s meanwhile", t->m.id, now)), -2;
	free(t->m.state);
	t->m.state = xstrdup("restoring");
	t->m.bundle = xstrdup(bundle);
	if (mkdir_p(work, 0700, err) < 0)
		return -2;
	return pc_tgt_serve(t->a, t->c, &t->m, t->tmp, bundle, work, err);
}

static void send_result(struct tgt *t, bool ok, const char *msg)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t e = NULL;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "result");
	zs_jgen_key(g, "ok");
	zs_jgen_bool(g, ok);
	zs_jgen_kv_int(g, "commit_us", (long long) (t->m.commit_s * 1e6));
	if (msg)
		zs_jgen_kv_string(g, "error", msg);
	zs_jgen_map_close(g);
	zs_frame_send_gen(t->c, g, &e);
}

static int serve_move(struct tgt *t, const zs_json *offer, zs_error_t *err)
{
	if (answer_offer(t, offer, err) < 0)
		return -1;
	for (;;) {
		cleanup_json zs_json *h = NULL;
		const char *type = NULL;
		int r;
		/* between messages the source may be checkpointing: a longer
		 * wait than inside one (a link cut mid-file is seen at once) */
		conn_set_timeout(t->c->fd, 10 * t->a->io_timeout);
		r = zs_frame_recv(t->c, &h, &type, err);
		conn_set_timeout(t->c->fd, t->a->io_timeout);
		if (r < 0)
			return -1;
		if (strcmp(type, "bundle") == 0)
			r = recv_bundle(t, h, err);
		else if (strcmp(type, "image") == 0)
			r = recv_image(t, h, err);
		else if (strcmp(type, "commit") == 0 && t->lazy)
			return commit_postcopy(t, err);
		else if (strcmp(type, "digests") == 0)
			r = rebase_answer(t->a, t->c, t->store, t->m.container, h, err);
		else if (strcmp(type, "commit") == 0)
			return commit_restore(t, err) < 0 ? -2 : 0;
		else
			r = zs_make_error(err, -EPROTO, "unexpected message `%s`", type);
		if (r < 0)
			return -1;
	}
}

static void tgt_abort(struct tgt *t, const char *why)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *now = NULL;

	if (t->tmp && t->lazy)
		rm_rf(t->tmp);
	else if (t->tmp)
		zs_remnant_gen_abort(t->store, t->tmp);
	free(t->tmp);
	t->tmp = NULL;
	if (t->m.id == NULL || t->m.state == NULL)
		return;
	if (strcmp(t->m.state, "restoring") != 0)
		precopy_drop_rounds(t->a, &t->m, t->store);
	free(t->m.error);
	t->m.error = xstrdup(why);
	if (strcmp(t->m.state, "restoring") == 0) {
		cleanup_free char *st = rt_status(t->a, t->m.container);
		put(t, st && strcmp(st, "running") == 0 ? "running" : "aborted");
		return;
	}
	if (journal_transition(t->a, t->m.id, t->m.state, "aborted", &now, &e) < 0)
		zs_log("error", "%s", zs_error_msg(e));
}

char *target_status(struct agent *a, const char *id)
{
	cleanup_error zs_error_t e = NULL;
	struct move m;
	char *now = NULL, *ret;
	int r;

	if (!valid_name(id) || journal_get(a, id, &m, &e) < 0)
		return xstrdup("unknown");
	if (strcmp(m.state, "receiving") == 0 || strcmp(m.state, "received") == 0) {
		r = journal_transition(a, id, m.state, "aborted", &now, &e);
		if (r > 0 && m.precopy_gens) {
			precopy_drop_rounds(a, &m, NULL);
			journal_put(a, &m, "aborted", &e);
		}
		move_free(&m);
		if (r > 0)
			return xstrdup("aborted");
		return now ? now : xstrdup("unknown");
	}
	ret = xstrdup(m.state);
	move_free(&m);
	return ret;
}

static void answer_status(struct agent *a, struct zs_conn *c, const zs_json *q)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *st = target_status(a, zs_json_string_value(zs_json_get(q, "move")));

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "status");
	zs_jgen_kv_string(g, "state", st);
	zs_jgen_map_close(g);
	zs_frame_send_gen(c, g, &e);
}

/* One request on the connection: 1 when it ended cleanly (the connection
 * may carry the next one), else 0.  IDLE: it follows a move (a close is
 * the peer letting go of a warm connection, not an error). */
static int serve_one(struct agent *a, struct zs_conn *c, bool idle)
{
	struct tgt t = {.a = a, .c = c};
	cleanup_error zs_error_t err = NULL;
	cleanup_json zs_json *first = NULL;
	const char *type = NULL;
	int r;
	uint64_t bytes0 = c->bytes_in + c->bytes_out;

	if (zs_frame_recv(c, &first, &type, &err) < 0) {
		zs_log(idle ? "debug" : "warning", "connection from %s: %s", c->peer, zs_error_msg(err));
		return 0;
	}
	if (strcmp(type, "status") == 0) {
		answer_status(a, c, first);
		return 1;
	}
	if (strcmp(type, "ping") == 0)
		return zs_frame_send(c, "{\"type\":\"pong\"}", 15, &err) == 0;
	if (strcmp(type, "offer") != 0) {
		zs_frame_send_error(c, "expected an offer, a ping or a status query", &err);
		return 0;
	}
	r = serve_move(&t, first, &err);
	t.m.bytes_raw = t.rx.raw;
	t.m.bytes_data = t.rx.wire;
	t.m.bytes_delta = t.rx.delta_raw;
	t.m.bytes_wire = c->bytes_in + c->bytes_out - bytes0;
	if (r == -3) {
		/* post-copy broke after the restore: journaled by postcopy.c */
		zs_log("warning", "move %s: %s", t.m.id, t.m.error ? t.m.error : "post-copy failed");
	} else if (r == 0) {
		put(&t, "running");
		if (!t.lazy)
			send_result(&t, true, NULL);
		zs_log("info", "move %s: %s from %s runs on %s", t.m.id, t.m.container, c->peer, a->node);
		if (t.rounds) /* once the source has its answer: outside the downtime */
			precopy_merge(a, &t.m, t.store, t.max_chain);
	} else {
		cleanup_free char *why = zs_error_text(err);
		zs_log("warning", "move %s of %s from %s: %s", t.m.id ? t.m.id : "?",
		       t.m.container ? t.m.container : "?", c->peer, why);
		tgt_abort(&t, why);
		if (r == -2)
			send_result(&t, false, why);
		else {
			cleanup_error zs_error_t e = NULL;
			zs_frame_send_error(c, why, &e);
		}
	}
	if (t.work && r == 0 && t.lazy)
		rm_rf(t.tmp); /* the daemon's and the restore's logs stay */
	else if (t.work && r == 0)
		rm_rf(t.work);
	wire_rx_free(&t.rx);
	free(t.own_iid);
	zs_remnant_close(t.store);
	free(t.work);
	move_free(&t.m);
	return r == 0;
}

void move_target(struct agent *a, struct zs_conn *c)
{
	/* after a move, the source may keep the connection for its next
	 * one (agent/peer_pool.c): wait a little longer than it keeps it */
	for (bool idle = false; serve_one(a, c, idle) == 1; idle = true)
		if (peer_wait_next(a, c, AGENT_PEER_IDLE_S + 10) <= 0)
			break;
}
