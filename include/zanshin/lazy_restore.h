/* zanshin — lazy restore: the fault server that fills a restored
 * container's private anonymous memory from images on first touch, with a
 * background prefetch, while memory tracking stays exact (criu-patches
 * 0019; docs/lazy-restore.md).
 *
 * Usage (lib/restore.c; the agent's post-copy target can do the same with
 * CRIU's page server as the source):
 *   zs_lazy_server_start()  before CRIU restores: `criu lazy-pages
 *                           --track-mem` listens on WORK_DIR/lazy-pages.socket
 *   criu restore --lazy-pages --track-mem (libcriu: criu_local_set_lazy_pages)
 *   zs_lazy_server_abort()  only when the restore failed
 * The server outlives us: it serves faults as long as the restored tasks
 * live, and CRIU's tracking keeper kills them if it dies. */
#ifndef ZANSHIN_LAZY_RESTORE_H
#define ZANSHIN_LAZY_RESTORE_H

#include <stddef.h>
#include <sys/types.h>

#include "zanshin/error.h"

struct zs_lazy_server {
	pid_t pid;
	int pidfd;
};

#define ZS_LAZY_SERVER_INIT                                                                                            \
	{                                                                                                              \
		.pid = -1, .pidfd = -1                                                                                 \
	}

/* Start `CRIU lazy-pages` for the images in IMAGE_DIR (and their parent
 * chain), its socket, log (lazy-pages.log) and pid file in WORK_DIR;
 * BLOCKS (or NULL): the list of zs_lazy_verify_prepare(), which the server
 * reads before it returns. */
int zs_lazy_server_start(const char *criu, const char *image_dir, const char *work_dir, const char *blocks,
			 struct zs_lazy_server *s, zs_error_t *err);

/* A lazy restore from IMAGE_DIR, which has manifests with manifest.blocks
 * (lib/lazy_verify.c): verifies now every file the restore reads but the
 * tasks' pages images, and of those the blocks CRIU restores before the
 * tasks resume; writes LIST, the block digests of the rest for the server
 * (checked as served).  *WHOLE (NULL-terminated, *NWHOLE): levels with a
 * manifest without manifest.blocks, still to be verified whole before the
 * tasks resume.  1 done, 0 no level has manifest.blocks (nothing written:
 * verify as for an eager restore), < 0 an error (a mismatch names the file
 * and block). */
int zs_lazy_verify_prepare(const char *image_dir, const char *list, char ***whole, size_t *nwhole, zs_error_t *err);

/* The restore failed: stop the server (it would wait for a restore). */
void zs_lazy_server_abort(struct zs_lazy_server *s);

/* Forget the server (it runs on); closes our pidfd. */
void zs_lazy_server_release(struct zs_lazy_server *s);

/* Has the server filled every image page of the restored task PID (host
 * pid)? CRIU marks it in its tracking state directory. */
int zs_lazy_filled(pid_t pid);

#endif
