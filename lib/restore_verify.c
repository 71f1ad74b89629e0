/* zanshin — a restore from --image-path verifies the image and its parent
 * chain against their manifests (lib/image_manifest.c) on a thread of its
 * own while CRIU restores; CRIU's post-restore notification (every task
 * restored, none resumed) waits for the verdict, and a mismatch fails it:
 * CRIU then kills the restored tree, nothing of the image ever runs.  A
 * directory without a manifest (runc's, an older zanshin's) is restored
 * with a warning. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "criu_internal.h"
#include "zanshin/digest.h"
#include "zanshin/image_manifest.h"
#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

struct zs_restore_verify {
	pthread_t tid;
	bool started, joined;
	bool all_cores; /* --lazy: CRIU restores no memory meanwhile */
	char **dirs;	/* the directories with a manifest */
	size_t n;
	int ret;
	zs_error_t err;
};

static void *verify_thread(void *arg)
{
	struct zs_restore_verify *v = arg;
	size_t i;

	/* CRIU restores on one core meanwhile: the others hash; a lazy
	 * restore copies no memory before the tasks resume, which waits for
	 * this: every core hashes */
	unsigned threads = zs_digest_threads() > 1 && !v->all_cores ? zs_digest_threads() - 1 : zs_digest_threads();

	for (i = 0; i < v->n && v->ret == 0; i++)
		if (zs_image_manifest_verify_threads(v->dirs[i], threads, &v->err) < 0)
			v->ret = -1;
	return NULL;
}

/* The thread that verifies V->dirs (none: nothing to wait for). */
static int start_thread(struct zs_restore_verify *v, zs_error_t *err)
{
	int e;

	if (v->n == 0)
		return 0;
	e = pthread_create(&v->tid, NULL, verify_thread, v);
	if (e != 0)
		return zs_make_error(err, e, "start the image verification");
	v->started = true;
	return 0;
}

int zs_restore_verify_start(const char *image_dir, bool lazy, bool all_cores, struct zs_restore_verify **out,
			    zs_error_t *err)
{
	struct zs_restore_verify *v = xzalloc(sizeof(*v));
	size_t n, i;
	char **chain = zs_image_chain_dirs(image_dir, &n);

	v->dirs = xzalloc(sizeof(char *) * (n + 1));
	for (i = 0; i < n; i++) {
		if (zs_image_has_manifest(chain[i]))
			v->dirs[v->n++] = steal_pointer(&chain[i]);
		else if (lazy)
			/* a lazy dump is restored while it still serves its
			 * pages: its manifest cannot exist yet (runc's flow) */
			zs_debug("%s: no manifest (a lazy dump still running): restored without verifying it",
				 chain[i]);
		else
			zs_warn("%s: no manifest (an image written by runc, a stock CRIU or an older zanshin): "
				"restored without verifying its contents",
				chain[i]);
	}
	for (i = 0; i < n; i++)
		free(chain[i]);
	free(chain);
	v->all_cores = all_cores;
	*out = v;
	return start_thread(v, err);
}

int zs_restore_verify_start_dirs(char **dirs, size_t n, struct zs_restore_verify **out, zs_error_t *err)
{
	struct zs_restore_verify *v = xzalloc(sizeof(*v));

	v->dirs = dirs;
	v->n = n;
	v->all_cores = true; /* a lazy restore copies no memory meanwhile */
	*out = v;
	return start_thread(v, err);
}

int zs_restore_verify_wait(struct zs_restore_verify *v, zs_error_t *err)
{
	if (v == NULL || !v->started)
		return 0;
	if (!v->joined) {
		pthread_join(v->tid, NULL);
		v->joined = true;
	}
	if (v->ret == 0)
		return 0;
	*err = steal_pointer(&v->err);
	v->ret = 0; /* reported once */
	return zs_error_wrap(err, "restore refused: the image does not match its manifest; the restored tasks are "
				  "killed before they resume");
}

void zs_restore_verify_free(struct zs_restore_verify *v)
{
	size_t i;

	if (v == NULL)
		return;
	if (v->started && !v->joined)
		pthread_join(v->tid, NULL);
	for (i = 0; i < v->n; i++)
		free(v->dirs[i]);
	free(v->dirs);
	zs_error_release(&v->err);
	free(v);
}
