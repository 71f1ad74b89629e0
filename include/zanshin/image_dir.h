/* zanshin — the directories root hands to CRIU (--image-path, --work-path)
 * are checked before CRIU writes into them or reads them
 * (lib/image_dir.c; docs/security-images.md has the rules):
 *
 *  - each is a directory owned by root (or the caller's uid) and writable
 *    by nobody else: no group or other write bit, sticky or not (a user who
 *    can write there can plant `dump.log -> /etc/shadow`, pre-create a
 *    pages file to read the memory, or swap an image after it was checked);
 *  - no symlink, FIFO, socket or device in the place of a file CRIU writes
 *    (logs, stats-*, *.img on a dump, descriptors.json): refused by name;
 *  - a dump writes every image 0600: the process umask becomes 077 (CRIU's
 *    service process inherits it) and the regular files a dump will
 *    overwrite are made 0600 first (CRIU keeps an existing file's mode).
 *
 * The directories are checked through the fds CRIU gets, so nothing can
 * swap them between the check and CRIU's use. */
#ifndef ZANSHIN_IMAGE_DIR_H
#define ZANSHIN_IMAGE_DIR_H
#include <stdbool.h>
#include "zanshin/error.h"

enum zs_image_dir_use {
	ZS_IMAGE_DIR_DUMP,    /* checkpoint (and pre-dump): CRIU writes images and logs */
	ZS_IMAGE_DIR_RESTORE, /* restore: CRIU reads images, writes its log and stats */
};

/* Check the image directory IMAGE_FD (IMAGE_PATH names it) and the work
 * directory WORK_FD (WORK_PATH; WORK_FD < 0: the image directory is the
 * work directory) before CRIU is called for USE.  0, or an error naming
 * the directory or file and why; for ZS_IMAGE_DIR_DUMP also sets umask 077. */
int zs_image_dirs_check(int image_fd, const char *image_path, int work_fd, const char *work_path,
			enum zs_image_dir_use use, zs_error_t *err);

#endif
