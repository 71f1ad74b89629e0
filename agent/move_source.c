/* zanshind — the source side of a move (stop-and-copy; pre-copy rounds
 * in precopy.c come before its checkpoint, post-copy in postcopy.c after
 * the setup).
 *
 *   negotiating   offer → the target says which generations of the
 *                 container it holds and whether it holds its Bundle
 *   (bundle)      the Bundle, only when the target lacks it; then the
 *                 generations the target lacks (move_gens.c)
 *   (pre-copy)    pre-dump rounds, each stored by the target at once
 *   checkpointing `zanshin checkpoint` (a diff against the baseline when
 *                 the container is tracked and the target holds it)
 *   sending       image manifest, then every file
 *   commit-sent   the target commits to its store and restores
 *   done          the target runs it; this node keeps its remnant
 * Any failure before the target's restore succeeded: rolled-back (the
 * container restored here from this node's own checkpoint).  See
 * docs/agent.md. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "source.h"
#include "zanshin/image_manifest.h"
#include "zanshin/config.h"
#include "zanshin/container.h"
#include "zanshin/criu_image.h"
#include "zanshin/digest.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

#define CHUNK (1u << 20)

/* SIGUSR1 (zanshin move cancel, through the agent): the move stops at
 * the next step before its commit, and rolls back if it checkpointed. */
static volatile sig_atomic_t cancel_flag;
/* --timeout: the move is cancelled the same way once it passes (0: none) */
static double deadline;

/* the connection to the target while the --timeout runs: when it passes,
 * SIGALRM shuts it down, so that no wait for the target outlasts it */
static volatile int deadline_fd = -1;

static void on_cancel(int sig)
{
	(void) sig;
	cancel_flag = 1;
}

static void on_deadline(int sig)
{
	(void) sig;
	if (deadline_fd >= 0)
		shutdown(deadline_fd, SHUT_RDWR);
}

static void arm_deadline(double seconds)
{
	struct sigaction sa = {.sa_handler = on_deadline, .sa_flags = SA_RESTART};
	struct itimerval it = {.it_value = {.tv_sec = (time_t) seconds, .tv_usec = 1000}};

	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* From the commit on the move is the target's to finish: no deadline. */
static void disarm_deadline(void)
{
	struct itimerval none = {0};

	setitimer(ITIMER_REAL, &none, NULL);
	deadline_fd = -1;
	deadline = 0;
}

static bool timed_out(void)
{
	return deadline > 0 && now_s() > deadline;
}

static int why_stopped(const struct move *m, zs_error_t *err)
{
	if (cancel_flag)
		return zs_make_error(err, -ECANCELED, "move %s cancelled by request", m->id);
	return zs_make_error(err, -ETIMEDOUT, "move %s: its --timeout of %.0f s passed before the commit", m->id,
			     deadline - m->started);
}

static int cancelled(const struct move *m, zs_error_t *err)
{
	if (!cancel_flag && !timed_out())
		return 0;
	return why_stopped(m, err);
}

int src_cancelled(struct src *s, zs_error_t *err)
{
	return cancelled(s->m, err);
}

static void src_free(struct src *s)
{
	peer_conn_put(&s->c, s->m->peer, s->m->state && strcmp(s->m->state, "done") == 0);
	zs_status_free(s->st);
	free(s->work);
	free(s->img);
	free(s->parent_rel);
	free(s->own_iid);
	zs_free_string_array(s->target_gens);
	wire_tx_free(&s->tx);
	gens_plan_free(&s->plan);
	rebase_map_free(&s->rb);
}

static void put(struct src *s, const char *state)
{
	cleanup_error zs_error_t e = NULL;

	if (journal_put(s->a, s->m, state, &e) < 0)
		zs_log("error", "%s", zs_error_msg(e));
	if (state) {
		s->phase = state;
		move_progress(s->a, s->m, state, 0, 0, true);
	}
}

void src_put(struct src *s, const char *state)
{
	put(s, state);
}

/* An answer that follows work on the target (its store settled, a Bundle
 * unpacked, files synced): a longer wait than for bytes in flight. */
static int expect_answer(struct src *s, const char *type, zs_json **out, zs_error_t *err)
{
	int r;

	conn_set_timeout(s->c.fd, 10 * s->a->io_timeout);
	r = zs_frame_expect(&s->c, type, out, err);
	conn_set_timeout(s->c.fd, s->a->io_timeout);
	return r;
}

static int check_request(struct src *s, const char *id, const char *to, zs_error_t *err)
{
	struct agent *a = s->a;
	const char *status;

	if (zs_validate_id(id, err) < 0)
		return -1;
	if (to == NULL || !valid_name(to))
		return zs_make_error(err, -EINVAL, "invalid node name `%s`", to ? to : "");
	if (strcmp(to, a->node) == 0)
		return zs_make_error(err, -EINVAL, "container %s is already on node %s", id, to);
	if (agent_peer(a, to) == NULL)
		return zs_make_error(err, -ENOENT, "unknown node `%s` (node %s has no --peer of that name)", to,
				     a->node);
	if (zs_status_load(a->root, id, &s->st, err) < 0)
		return zs_error_wrap(err, "container %s on node %s", id, a->node);
	status = zs_container_status(s->st);
	if (strcmp(status, "running") != 0)
		return zs_make_error(err, -EINVAL, "container %s is not running (%s): cannot move it", id, status);
	return 0;
}

/* One move of a container at a time on this node. */
static int lock_container(struct agent *a, const char *id, zs_error_t *err)
{
	cleanup_free char *p = xasprintf("%s/work/%s.lock", a->state_dir, id);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", p);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return zs_make_error(err, -EBUSY, "a move of container %s is already in progress", id);
	}
	return fd;
}

static int negotiate(struct src *s, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_json zs_json *have = NULL;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "offer");
	zs_jgen_kv_string(g, "move", s->m->id);
	zs_jgen_kv_string(g, "container", s->m->container);
	zs_jgen_kv_string(g, "mode", s->m->mode);
	zs_jgen_kv_string(g, "bundle_digest", s->m->bundle_digest);
	zs_jgen_kv_string(g, "rootfs_digest", s->m->rootfs_digest);
	if (s->st->image_id)
		zs_jgen_kv_string(g, "baseline", s->st->image_id);
	wire_offer(g);
	zs_jgen_map_close(g);
	if (zs_frame_send_gen(&s->c, g, err) < 0 || expect_answer(s, "have", &have, err) < 0)
		return -1;
	if (zs_json_to_bool(zs_json_get(have, "bundle"), "have", "bundle", ZS_JSON_REQUIRED, &s->target_bundle, err) <
		0 ||
	    zs_json_to_bool(zs_json_get(have, "rootfs"), "have", "rootfs", 0, &s->target_rootfs, err) < 0 ||
	    zs_json_to_string_array(zs_json_get(have, "generations"), "have", "generations", ZS_JSON_REQUIRED,
				    &s->target_gens, NULL, err) < 0)
		return zs_error_wrap(err, "node %s", s->m->peer);
	wire_have(&s->tx, have);
	if (s->st->tracking)
		gens_plan(s->a, s->m->container, s->st->image_id, s->target_gens, &s->plan);
	return 0;
}

/* SIZE bytes of PATH to the peer; with D, hashed as they go. */
static int send_file_data(struct src *s, const char *path, uint64_t size, zs_digest *d, zs_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = xmalloc(CHUNK);
	uint64_t done = 0;

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	while (done < size) {
		size_t want = size - done < CHUNK ? (size_t) (size - done) : CHUNK;
		ssize_t r = read(fd, buf, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return zs_make_error(err, r < 0 ? errno : -EIO, "read `%s`: %s", path,
					     r < 0 ? "error" : "shorter than it was");
		if (cancelled(s->m, err) < 0 || wire_send_at(&s->c, &s->tx, buf, (size_t) r, done, err) < 0)
			return -1;
		if (d)
			zs_digest_update(d, buf, (size_t) r);
		done += (uint64_t) r;
		s->sent += (uint64_t) r;
		move_progress(s->a, s->m, s->phase, s->sent, s->to_send, false);
	}
	return 0;
}

/* The Bundle: config.json, and the rootfs tar unless the target holds a
 * rootfs with the same digest (then it copies that one locally). */
static int send_bundle(struct src *s, zs_error_t *err)
{
	cleanup_free char *cfg = xasprintf("%s/config.json", s->work), *tar = xasprintf("%s/rootfs.tar", s->work);
	cleanup_free char *digest = NULL, *rdigest = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_json zs_json *ok = NULL;
	bool reuse = s->target_rootfs;
	struct stat cs, ts = {0};

	if (access(tar, F_OK) < 0 && bundle_pack(s->st->bundle, s->st->rootfs, s->work, err) < 0)
		return -1;
	if (bundle_digests(cfg, tar, &digest, &rdigest, err) < 0 || stat(cfg, &cs) < 0 || stat(tar, &ts) < 0)
		return zs_make_error(err, errno, "bundle of %s", s->m->container);
	if (strcmp(digest, s->m->bundle_digest) != 0) {
		/* the bundle changed since its digests were recorded: the
		 * target's rootfs (matched on the old digest) may not be it */
		free(s->m->bundle_digest);
		free(s->m->rootfs_digest);
		s->m->bundle_digest = xstrdup(digest);
		s->m->rootfs_digest = xstrdup(rdigest);
		reuse = false;
		bundle_record(s->a, s->m->container, digest, rdigest, s->st->bundle, s->st->rootfs, err);
		zs_error_release(err);
	}
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "bundle");
	zs_jgen_kv_string(g, "digest", digest);
	zs_jgen_kv_string(g, "rootfs_digest", rdigest);
	zs_jgen_kv_int(g, "config_size", (long long) cs.st_size);
	zs_jgen_kv_int(g, "size", reuse ? 0 : (long long) ts.st_size);
	zs_jgen_key(g, "reuse_rootfs");
	zs_jgen_bool(g, reuse);
	wire_frame_encoding(&s->tx, g);
	zs_jgen_map_close(g);
	s->tx.meta = false;
	s->sent = 0;
	s->to_send = (uint64_t) cs.st_size + (reuse ? 0 : (uint64_t) ts.st_size);
	if (zs_frame_send_gen(&s->c, g, err) < 0 || send_file_data(s, cfg, (uint64_t) cs.st_size, NULL, err) < 0 ||
	    (!reuse && send_file_data(s, tar, (uint64_t) ts.st_size, NULL, err) < 0) ||
	    expect_answer(s, "ok", &ok, err) < 0)
		return zs_error_wrap(err, "sending the bundle of %s to %s", s->m->container, s->m->peer);
	s->m->bytes_bundle = (uint64_t) cs.st_size + (reuse ? 0 : (uint64_t) ts.st_size);
	s->m->bundle_sent = true;
	s->m->rootfs_reused = reuse;
	return 0;
}

static bool target_holds(struct src *s, const char *image_id)
{
	size_t i;

	for (i = 0; image_id && s->target_gens && s->target_gens[i]; i++)
		if (strcmp(s->target_gens[i], image_id) == 0)
			return true;
	return false;
}

/* --parent-path for a diff against BASE (this node's generation): relative
 * to the image directory, as runc's option is. */
char *src_parent_path(const char *img, const char *base)
{
	size_t depth = 0, i;
	char *rel = xstrdup("");

	for (i = 0; img[i]; i++)
		if (img[i] == '/' && img[i + 1] && img[i + 1] != '/')
			depth++;
	for (i = 0; i < depth; i++) {
		char *n = xasprintf("%s../", rel);
		free(rel);
		rel = n;
	}
	{
		char *n = xasprintf("%s%s", rel, base + 1);
		free(rel);
		rel = n;
	}
	return rel;
}

/* The generation a diff can be made against: the container's baseline,
 * held here and by the target. */
char *src_diff_base(struct src *s)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_remnant *r = NULL;
	struct zs_remnant_gen *g = NULL;
	char *path = NULL;

	if (!s->st->tracking || s->st->image_id == NULL || (!target_holds(s, s->st->image_id) && s->plan.n == 0))
		return NULL;
	if (zs_remnant_open(s->a->remnant_root, &r, &e) < 0)
		return NULL;
	zs_remnant_settle(r);
	if (zs_remnant_find(r, s->m->container, s->st->image_id, &g, &e) > 0)
		path = xstrdup(g->path);
	zs_remnant_gen_free(g);
	zs_remnant_close(r);
	return path;
}

static int checkpoint(struct src *s, zs_error_t *err)
{
	cleanup_free char *base = s->parent_rel ? NULL : src_diff_base(s), *rel = NULL;
	char *args[] = {"checkpoint", "--image-path", s->img, NULL, NULL, s->m->container, NULL};

	if (s->parent_rel) {
		args[3] = "--parent-path";
		args[4] = s->parent_rel;
	} else if (base) {
		rel = src_parent_path(s->img, base);
		args[3] = "--parent-path";
		args[4] = rel;
	} else {
		args[3] = s->m->container;
		args[4] = NULL;
	}
	s->m->img_dir = xstrdup(s->img);
	s->m->restore_from = xstrdup(s->img);
	put(s, "checkpointing");
	s->t_freeze = now_s();
	return rt_run(s->a, s->work, "checkpoint", args, err);
}

static bool is_pages(const char *name)
{
	return str_has_prefix(name, "pages-") && strstr(name, ".img") != NULL;
}

static bool sent_file(const char *name)
{
	size_t l = strlen(name);

	/* manifest.json, lineage.json, manifest.blocks: the store's or the
	 * image's own records, not CRIU's (an export of a store generation
	 * carries them, a checkpoint into --image-path writes them) */
	return valid_name(name) && strcmp(name, "parent") != 0 && !zs_image_manifest_file(name) &&
	       !(l > 4 && strcmp(name + l - 4, ".log") == 0);
}

/* One file of the manifest: its name and size.  Its sha256-4k digest
 * follows the file's bytes ("digests": "after"): hashed while sent, not
 * in a pass of its own before the first byte leaves (the container is
 * stopped meanwhile). */
static void manifest_entry(struct src *s, zs_jgen *g, const char *name, uint64_t size, char ***names, uint64_t **sizes,
			   size_t *n)
{
	s->to_send += size;
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "name", name);
	zs_jgen_key(g, "size");
	zs_jgen_uint(g, size);
	zs_jgen_map_close(g);
	*names = xrealloc(*names, sizeof(char *) * (*n + 2));
	*sizes = xrealloc(*sizes, sizeof(uint64_t) * (*n + 1));
	(*sizes)[*n] = size;
	(*names)[(*n)++] = xstrdup(name);
	(*names)[*n] = NULL;
}

/* The image's files (regular, not logs, not the parent link) with their
 * sizes: the manifest.  The pages files come last: a page travelling as
 * a delta is rebuilt by the target from the pagemap it already has. */
static int image_manifest(struct src *s, const char *dir, zs_jgen *g, char ***names, uint64_t **sizes, zs_error_t *err)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return zs_make_error(err, errno, "open `%s`", dir);
	zs_jgen_kv_string(g, "digests", "after");
	zs_jgen_key(g, "files");
	zs_jgen_array_open(g);
	for (int pages = 0; pages < 2; pages++) {
		rewinddir(d);
		while ((de = readdir(d))) {
			cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
			struct stat st;
			if (is_pages(de->d_name) != pages || !sent_file(de->d_name) || lstat(p, &st) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			manifest_entry(s, g, de->d_name, (uint64_t) st.st_size, names, sizes, &n);
		}
	}
	zs_jgen_array_close(g);
	return 0;
}

/* {"type": "digest", "name", "digest"} after a file's bytes */
static int send_digest(struct src *s, const char *name, zs_digest *d, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	uint8_t dg[ZS_DIGEST_LEN];
	char hex[2 * ZS_DIGEST_LEN + 1];

	zs_digest_final(d, dg);
	zs_digest_hex(dg, hex);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "digest");
	zs_jgen_kv_string(g, "name", name);
	zs_jgen_kv_string(g, "digest", hex);
	zs_jgen_map_close(g);
	return zs_frame_send_gen(&s->c, g, err);
}

/* File NAME of the image DIR (SIZE bytes, as its manifest said; a diff
 * against its parent when DIFF: pages may go as deltas), through the wire
 * layer, hashed as it goes, its digest after it. */
static int send_one(struct src *s, const char *dir, const char *name, uint64_t size, bool diff, zs_error_t *err)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	zs_digest *d = zs_digest_new();

	if (d == NULL)
		return zs_make_error(err, -ENOSYS, "SHA-256 is not available");
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "file");
	zs_jgen_kv_string(g, "name", name);
	zs_jgen_kv_int(g, "size", (long long) size);
	wire_frame_encoding(&s->tx, g);
	zs_jgen_map_close(g);
	s->tx.meta = !is_pages(name);
	/* the size announced in the manifest: a file that changed since is
	 * an error (read shorter) or sent as it was listed */
	if (zs_frame_send_gen(&s->c, g, err) < 0 || wire_file_begin(&s->tx, dir, name, diff, err) < 0 ||
	    send_file_data(s, p, size, d, err) < 0) {
		zs_digest_free(d);
		return -1;
	}
	wire_file_end(&s->tx);
	if (send_digest(s, name, d, err) < 0)
		return -1;
	if (is_pages(name))
		s->m->bytes_pages += size;
	return 0;
}

/* Whether the target takes deltas against PARENT_ID's pages (the rule of
 * move_target.c's recv_piece). */
static bool deltas_taken(struct src *s, const char *parent_id)
{
	if (s->own_iid && strcmp(parent_id, s->own_iid) == 0)
		return true;
	if (s->known < 0)
		s->known = peer_knows(s->a, s->m->peer, s->m->container);
	return s->known > 0;
}

int src_send_image(struct src *s, const char *dir, unsigned round, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_json zs_json *ok = NULL;
	struct zs_image_info info = {0};
	cleanup_free char *iid = NULL;
	char **names = NULL;
	cleanup_free uint64_t *sizes = NULL;
	bool diff, own;
	int ret = -1;
	size_t i;

	if (zs_image_info(dir, &info, err) < 0)
		return -1;
	if (info.image_id == NULL) {
		zs_image_info_free(&info);
		return zs_make_error(err, -EINVAL, "%s: the checkpoint has no image id", dir);
	}
	if (round == 0) {
		/* the checkpoint (a pre-dump round is never restored from) */
		s->m->image_id = xstrdup(info.image_id);
		s->m->diff = info.parent_image_id != NULL;
		if (info.parent_image_id)
			s->m->parent_image_id = xstrdup(info.parent_image_id);
		put(s, "sending");
	}
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "image");
	zs_jgen_kv_string(g, "image_id", info.image_id);
	if (info.parent_image_id)
		zs_jgen_kv_string(g, "parent_image_id", info.parent_image_id);
	if (round > 0) {
		/* a generation the target stores at once (as move_gens.c's),
		 * marked a pre-dump: removed again if the move aborts */
		zs_jgen_key(g, "store");
		zs_jgen_bool(g, true);
		zs_jgen_key(g, "pre_dump");
		zs_jgen_bool(g, true);
		zs_jgen_kv_int(g, "round", round);
	}
	diff = info.parent_image_id != NULL && deltas_taken(s, info.parent_image_id);
	own = info.parent_image_id == NULL || (s->own_iid && strcmp(info.parent_image_id, s->own_iid) == 0);
	iid = xstrdup(info.image_id);
	zs_image_info_free(&info);
	s->sent = s->to_send = 0;
	if (image_manifest(s, dir, g, &names, &sizes, err) < 0)
		goto out;
	zs_jgen_map_close(g);
	if (zs_frame_send_gen(&s->c, g, err) < 0 || expect_answer(s, "ready", &ok, err) < 0)
		goto out;
	zs_json_free(ok);
	ok = NULL;
	for (i = 0; names && names[i]; i++)
		if (send_one(s, dir, names[i], sizes[i], diff, err) < 0)
			goto out;
	move_progress(s->a, s->m, s->phase, s->sent, s->to_send, true);
	ret = expect_answer(s, "received", &ok, err);
	if (ret == 0 && round > 0) {
		free(s->own_iid);
		s->own_iid = own ? steal_pointer(&iid) : NULL;
	}
out:
	zs_free_string_array(names);
	return ret < 0 ? zs_error_wrap(err, "sending the checkpoint of %s to %s", s->m->container, s->m->peer) : 0;
}

static int expect_cb(void *s, const char *type, zs_json **out, zs_error_t *err)
{
	return expect_answer(s, type, out, err);
}

/* The generations the target lacks, before the checkpoint (move_gens.c). */
static int send_gens(struct src *s, zs_error_t *err)
{
	struct gens_ctx x = {.s = s, .c = &s->c, .tx = &s->tx, .m = s->m, .cancelled = cancelled, .expect = expect_cb};

	return gens_send(&x, &s->plan, err);
}

/* The target holds a generation of the container, but neither its
 * baseline nor a chain to it: the digests of that generation's pages
 * (move_rebase.c), during setup. */
static int rebase_setup(struct src *s, zs_error_t *err)
{
	size_t n = 0;

	while (s->target_gens && s->target_gens[n])
		n++;
	/* pre-copy: the rounds are diffs against what the target holds */
	if (n == 0 || !s->tx.rebase || s->plan.n || target_holds(s, s->st->image_id) || is_precopy(s->m))
		return 0;
	if (rebase_prepare(s->a, &s->c, s->target_gens[n - 1], &s->rb, err) < 0) {
		/* a full image then; a broken connection fails the next step */
		zs_log("warning", "move %s: digests of %s on %s: %s", s->m->id, s->target_gens[n - 1], s->m->peer,
		       zs_error_msg(*err));
		zs_error_release(err);
		rebase_map_free(&s->rb);
	}
	return 0;
}

/* The checkpoint as a diff against that generation, when much smaller. */
static void rebase_image(struct src *s)
{
	cleanup_error zs_error_t e = NULL;
	char *img;

	if (s->rb.image_id == NULL)
		return;
	img = rebase_apply(s->img, s->work, &s->rb, &s->m->pages_from_target, &e);
	if (e)
		zs_log("warning", "move %s: a diff against %s: %s", s->m->id, s->rb.image_id, zs_error_msg(e));
	if (img) {
		free(s->img);
		s->img = img;
	}
}

static void finish_metrics(struct src *s, bool done)
{
	double t = now_s();

	s->m->total_s = t - s->m->started;
	if (done)
		s->m->downtime_s = t - s->t_freeze;
	if (s->c.bytes_out >= s->m->bytes_pages + s->m->bytes_bundle)
		s->m->bytes_metadata = s->c.bytes_out + s->c.bytes_in - s->m->bytes_pages - s->m->bytes_bundle;
	wire_metrics(&s->tx, &s->c, s->m);
}

/* 1: the target runs it; 0: it does not and never will; < 0: unknown. */
static int commit(struct src *s, zs_error_t *err)
{
	cleanup_json zs_json *res = NULL;
	bool ok = false;
	const char *msg;

	if (cancelled(s->m, err) < 0)
		return 0; /* nothing committed: rolled back */
	disarm_deadline();
	put(s, "commit-sent");
	if (zs_frame_send(&s->c, "{\"type\":\"commit\"}", 17, err) < 0)
		return -1;
	/* the target restores meanwhile: a large image takes a while */
	conn_set_timeout(s->c.fd, 10 * s->a->io_timeout);
	if (zs_frame_expect(&s->c, "result", &res, err) < 0)
		return -1;
	zs_json_to_bool(zs_json_get(res, "ok"), "result", "ok", 0, &ok, err);
	{
		uint64_t us = 0; /* the target's store commit, when it says */
		if (zs_json_to_uint64(zs_json_get(res, "commit_us"), "result", "commit_us", 0, &us, err) < 0)
			zs_error_release(err);
		s->m->commit_s = (double) us / 1e6;
	}
	if (ok)
		return 1;
	msg = zs_json_string_value(zs_json_get(res, "error"));
	zs_make_error(err, -EIO, "node %s: %s", s->m->peer, msg ? msg : "restore failed");
	return 0;
}

/* After a commit whose answer was lost: ask the target what became of
 * the move (it aborts a move that has not reached its restore). */
int source_ask(struct agent *a, struct move *m, int tries, zs_error_t *err)
{
	int i;

	for (i = 0; i < tries; i++) {
		struct zs_conn c = {.fd = -1};
		cleanup_error zs_error_t e = NULL;
		cleanup_json zs_json *st = NULL;
		cleanup_jgen zs_jgen *g = zs_jgen_new(false);
		const char *state = NULL;
		if (i)
			sleep(2);
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "type", "status");
		zs_jgen_kv_string(g, "move", m->id);
		zs_jgen_map_close(g);
		if (tls_connect(a, m->peer, &c, &e) == 0 && zs_frame_send_gen(&c, g, &e) == 0 &&
		    zs_frame_expect(&c, "status", &st, &e) == 0)
			state = zs_json_string_value(zs_json_get(st, "state"));
		zs_conn_close(&c);
		if (state && strcmp(state, "running") == 0)
			return 1;
		if (state && (strcmp(state, "aborted") == 0 || strcmp(state, "unknown") == 0))
			return 0;
		zs_log("warning", "move %s: state on node %s: %s", m->id, m->peer,
		       state ? state : (e ? zs_error_msg(e) : "?"));
	}
	return zs_make_error(err, -ETIMEDOUT, "move %s: node %s did not say whether it runs %s", m->id, m->peer,
			     m->container);
}

/* What a rollback restores from: the store's generation of the checkpoint
 * (its parent may have been merged away meanwhile: a chain longer than the
 * store's max_chain is flattened into one generation with the newest image
 * id), else the checkpoint's own directory. */
static char *rollback_image(struct agent *a, struct move *m)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_image_info info = {0};
	struct zs_remnant *r = NULL;
	struct zs_remnant_gen *g = NULL;
	char *path = NULL;

	if (m->image_id == NULL && zs_image_info(m->restore_from, &info, &e) == 0 && info.image_id)
		m->image_id = xstrdup(info.image_id);
	zs_image_info_free(&info);
	if (m->image_id && zs_remnant_open(a->remnant_root, &r, &e) == 0) {
		zs_remnant_settle(r);
		if (zs_remnant_find(r, m->container, m->image_id, &g, &e) > 0)
			path = xstrdup(g->path);
		zs_remnant_gen_free(g);
		zs_remnant_close(r);
	}
	return path ? path : xstrdup(m->restore_from);
}

/* Restore the container here from this node's own checkpoint. */
int source_rollback(struct agent *a, struct move *m, zs_error_t *err)
{
	cleanup_free char *work = xasprintf("%s/work/%s/rollback", a->state_dir, m->id);
	cleanup_free char *st = rt_status(a, m->container), *img = NULL;

	if (st && strcmp(st, "running") == 0)
		return 0;
	if (m->restore_from == NULL || m->bundle == NULL)
		return zs_make_error(err, -ENOENT, "move %s: nothing to restore %s from", m->id, m->container);
	if (st) {
		char *args[] = {"delete", "-f", m->container, NULL};
		rt_run(a, m->restore_from, "delete-before-rollback", args, err);
		zs_error_release(err);
	}
	journal_put(a, m, "rolling-back", err);
	zs_error_release(err);
	img = rollback_image(a, m);
	if (rt_restore(a, m, m->container, img, m->bundle, work, err) < 0)
		return zs_error_wrap(err, "rollback of move %s: restoring %s on node %s", m->id, m->container, a->node);
	return journal_put(a, m, "rolled-back", err);
}

/* A cancel interrupts whatever the move was doing (a write to the peer
 * may fail with it): the error says it was cancelled. */
static void cancel_reason(struct src *s, zs_error_t *err)
{
	if (!cancel_flag && !timed_out())
		return;
	zs_error_release(err);
	why_stopped(s->m, err);
}

static int fail_rollback(struct src *s, zs_error_t *err)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *why = (cancel_reason(s, err), zs_error_text(*err));

	disarm_deadline(); /* the rollback runs to its end */
	free(s->m->error);
	s->m->error = xstrdup(why);
	finish_metrics(s, false);
	if (source_rollback(s->a, s->m, &e) < 0) {
		zs_log("error", "%s", zs_error_msg(e));
		zs_error_release(err);
		return zs_make_error(err, -EIO, "%s; and then %s", why, zs_error_msg(e));
	}
	zs_error_release(err);
	return zs_make_error(err, -EIO, "%s (container %s runs again on node %s)", why, s->m->container, s->a->node);
}

/* --mode post-copy (postcopy.c): a lazy dump, the image without its
 * pages, then the pages while the container already runs there. */
static int run_postcopy(struct src *s, zs_error_t *err)
{
	struct pc_src p = {.init = s->st->pid, .work = s->work};
	struct move *m = s->m;
	int r;

	m->img_dir = xstrdup(s->img);
	put(s, "checkpointing");
	s->t_freeze = now_s();
	if (pc_src_dump(s->a, m, s->work, s->img, &p, err) < 0)
		return -2;
	if (cancelled(m, err) < 0 || src_send_image(s, s->img, 0, err) < 0) {
		r = 0;
	} else {
		disarm_deadline(); /* from the commit on: the target's to finish */
		r = pc_src_commit(s->a, m, &s->c, &p, s->t_freeze, err);
	}
	if (r == 1)
		return 0;
	cancel_reason(s, err);
	free(m->error);
	m->error = zs_error_text(*err);
	finish_metrics(s, false);
	zs_error_release(err);
	if (r == 0 && pc_src_rollback(s->a, m, &p, err) == 0)
		return zs_make_error(err, -EIO, "%s (container %s runs again on node %s)", m->error, m->container,
				     s->a->node);
	if (r < 0) {
		put(s, "failed");
		return zs_make_error(err, -EIO, "%s", m->error);
	}
	return -1;
}

static int run_move(struct src *s, zs_error_t *err)
{
	struct move *m = s->m;
	int r;

	if (bundle_ident(s->a, m->container, s->st->bundle, s->st->rootfs, s->work, &m->bundle_digest,
			 &m->rootfs_digest, err) < 0 ||
	    peer_conn_get(s->a, m->peer, &s->c, &m->warm, err) < 0 || (deadline_fd = s->c.fd, negotiate(s, err) < 0) ||
	    (!s->target_bundle && (put(s, "bundle"), send_bundle(s, err) < 0)) ||
	    (s->plan.n && send_gens(s, err) < 0) || rebase_setup(s, err) < 0)
		goto failed;
	m->setup_s = now_s() - m->started;
	if (cancelled(m, err) < 0)
		goto failed;
	if (is_postcopy(m)) {
		r = run_postcopy(s, err);
		if (r == -2)
			goto failed;
		if (r == 0) {
			finish_metrics(s, false);
			put(s, "done");
		}
		return r;
	}
	if (is_precopy(m) && precopy_run(s, err) < 0)
		goto failed; /* the container runs on: pre-dumps leave it running */
	if (checkpoint(s, err) < 0) {
		cleanup_free char *st = rt_status(s->a, m->container);
		if (st == NULL)
			return fail_rollback(s, err);
		goto failed;
	}
	s->t_dumped = now_s();
	rebase_image(s);
	if (cancelled(m, err) < 0 || src_send_image(s, s->img, 0, err) < 0)
		return fail_rollback(s, err);
	s->t_sent = now_s();
	m->checkpoint_s = s->t_dumped - s->t_freeze;
	m->transfer_s = s->t_sent - s->t_dumped;
	r = commit(s, err);
	if (r < 0) {
		zs_log("warning", "move %s: %s; asking node %s", m->id, zs_error_msg(*err), m->peer);
		zs_error_release(err);
		r = source_ask(s->a, m, 30, err);
		if (r < 0) {
			put(s, "in-doubt");
			return zs_error_wrap(err, "container %s stays stopped until node %s answers", m->container,
					     m->peer);
		}
		if (r == 0)
			zs_make_error(err, -EIO, "node %s did not restore %s", m->peer, m->container);
	}
	if (r == 0)
		return fail_rollback(s, err);
	finish_metrics(s, true);
	zs_log("info",
	       "move %s: downtime %.3f s: checkpoint %.3f s, image sent in %.3f s, commit and restore on %s %.3f s",
	       m->id, m->downtime_s, s->t_dumped - s->t_freeze, s->t_sent - s->t_dumped, m->peer,
	       s->t_freeze + m->downtime_s - s->t_sent);
	put(s, "done");
	return 0;
failed:
	cancel_reason(s, err);
	free(m->error);
	m->error = zs_error_text(*err);
	finish_metrics(s, false);
	put(s, "failed");
	return -1;
}

int move_source(struct agent *a, const char *container, const char *to, const char *mode, struct move *m,
		zs_error_t *err)
{
	struct src s = {.a = a, .m = m, .c = {.fd = -1}, .known = -1};
	cleanup_close int lock = -1;
	int ret;

	cancel_flag = 0; /* a process may run several moves (a warm connection) */
	if (mode && strcmp(mode, "stop-copy") != 0 && strcmp(mode, "pre-copy") != 0 && strcmp(mode, "post-copy") != 0)
		return zs_make_error(err, -EINVAL, "unknown mode `%s` (stop-copy, pre-copy, post-copy)", mode);
	if (wire_request(&s.tx, m, err) < 0)
		return -1;
	if (check_request(&s, container, to, err) < 0) {
		src_free(&s);
		return -1;
	}
	lock = lock_container(a, container, err);
	if (lock < 0) {
		src_free(&s);
		return -1;
	}
	m->id = move_new_id();
	m->container = xstrdup(container);
	m->peer = xstrdup(to);
	m->role = xstrdup("source");
	m->mode = xstrdup(mode ? mode : "stop-copy");
	m->bundle = xstrdup(s.st->bundle);
	m->started = now_s();
	m->pid = getpid();
	deadline = a->req && a->req->timeout_s > 0 ? m->started + a->req->timeout_s : 0;
	if (deadline > 0)
		arm_deadline(a->req->timeout_s);
	{
		struct sigaction sa = {.sa_handler = on_cancel, .sa_flags = SA_RESTART};
		sigaction(SIGUSR1, &sa, NULL);
	}
	s.work = xasprintf("%s/work/%s", a->state_dir, m->id);
	s.img = xasprintf("%s/img", s.work);
	if (mkdir_p(s.work, 0700, err) < 0) {
		src_free(&s);
		return -1;
	}
	put(&s, "negotiating");
	ret = run_move(&s, err);
	disarm_deadline();
	zs_log("info", "move %s of %s to %s: %s%s%s", m->id, container, to, m->state, ret < 0 ? ": " : "",
	       ret < 0 ? zs_error_msg(*err) : "");
	src_free(&s);
	return ret;
}
