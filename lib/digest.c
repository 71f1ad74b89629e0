/* zanshin — the "sha256-4k" file digest (include/zanshin/digest.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/crypto.h>

#include "digest_internal.h"
#include "zanshin/digest.h"
#include "zanshin/utils.h"

#define MAX_THREADS 8u

struct zs_digest {
	gnutls_hash_hd_t list; /* SHA-256 of the block digests */
	uint8_t part[ZS_DIGEST_BLOCK];
	size_t plen;
};

zs_digest *zs_digest_new(void)
{
	zs_digest *d = xzalloc(sizeof(*d));

	if (gnutls_hash_init(&d->list, GNUTLS_DIG_SHA256) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

static void add_block(zs_digest *d, const void *p, size_t len)
{
	uint8_t b[ZS_DIGEST_LEN];

	gnutls_hash_fast(GNUTLS_DIG_SHA256, p, len, b);
	gnutls_hash(d->list, b, sizeof(b));
}

void zs_digest_update(zs_digest *d, const void *p, size_t len)
{
	const uint8_t *s = p;

	if (d->plen) {
		size_t k = ZS_DIGEST_BLOCK - d->plen < len ? ZS_DIGEST_BLOCK - d->plen : len;

		memcpy(d->part + d->plen, s, k);
		d->plen += k, s += k, len -= k;
		if (d->plen < ZS_DIGEST_BLOCK)
			return;
		add_block(d, d->part, ZS_DIGEST_BLOCK);
		d->plen = 0;
	}
	for (; len >= ZS_DIGEST_BLOCK; s += ZS_DIGEST_BLOCK, len -= ZS_DIGEST_BLOCK)
		add_block(d, s, ZS_DIGEST_BLOCK);
	memcpy(d->part, s, len);
	d->plen = len;
}

void zs_digest_final(zs_digest *d, uint8_t out[ZS_DIGEST_LEN])
{
	if (d->plen)
		add_block(d, d->part, d->plen);
	gnutls_hash_deinit(d->list, out);
	free(d);
}

void zs_digest_free(zs_digest *d)
{
	if (d == NULL)
		return;
	gnutls_hash_deinit(d->list, NULL);
	free(d);
}

static unsigned max_threads = MAX_THREADS;

void zs_digest_set_max_threads(unsigned n)
{
	max_threads = n == 0 || n > MAX_THREADS ? MAX_THREADS : n;
}

unsigned zs_digest_threads(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = (int) sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return (unsigned) n > max_threads ? max_threads : (unsigned) n;
}

/* ---- block digests of memory, on several threads ---- */

static pthread_once_t x16_once = PTHREAD_ONCE_INIT;
static bool x16_on;

static void x16_init(void)
{
	x16_on = zs_sha256_x16_usable();
}

void zs_digest_set_x16(bool on)
{
	pthread_once(&x16_once, x16_init);
	x16_on = on && zs_sha256_x16_usable();
}

static bool use_x16(void)
{
	pthread_once(&x16_once, x16_init);
	return x16_on;
}

struct blk_job {
	const uint8_t *p;
	uint64_t len; /* bytes from P: whole blocks, but for the very last job */
	uint8_t *out;
	bool ok;
};

static void *blk_run(void *arg)
{
	struct blk_job *j = arg;
	uint64_t off = 0;

	/* sixteen whole blocks at a time where the CPU can */
	if (use_x16())
		for (; j->len - off >= 16 * ZS_DIGEST_BLOCK; off += 16 * ZS_DIGEST_BLOCK)
			zs_sha256_x16(j->p + off, j->out + off / ZS_DIGEST_BLOCK * ZS_DIGEST_LEN);
	for (; off < j->len; off += ZS_DIGEST_BLOCK) {
		uint64_t n = j->len - off < ZS_DIGEST_BLOCK ? j->len - off : ZS_DIGEST_BLOCK;

		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, j->p + off, n, j->out + off / ZS_DIGEST_BLOCK * ZS_DIGEST_LEN) <
		    0)
			return NULL;
	}
	j->ok = true;
	return NULL;
}

/* Below this, one thread: starting another costs more than it saves. */
#define PARALLEL_MIN (1u << 20)

int zs_digest_blocks(const void *p, uint64_t len, uint8_t *out, unsigned threads)
{
	struct blk_job jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = {0};
	uint64_t nb = zs_digest_nblocks(len), per, off = 0;
	unsigned i, n;
	int ret = 0;

	if (threads == 0)
		threads = zs_digest_threads();
	n = len < PARALLEL_MIN ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
	if (n > nb)
		n = nb ? (unsigned) nb : 1;
	per = (nb + n - 1) / n;
	for (i = 0; i < n; i++) {
		uint64_t b = i * per < nb ? i * per : nb, e = (i + 1) * per < nb ? (i + 1) * per : nb;

		off = b * ZS_DIGEST_BLOCK;
		jobs[i] = (struct blk_job){.p = (const uint8_t *) p + off,
					   .len = (e * ZS_DIGEST_BLOCK < len ? e * ZS_DIGEST_BLOCK : len) - off,
					   .out = out + b * ZS_DIGEST_LEN};
	}
	for (i = 1; i < n; i++)
		started[i] = pthread_create(&tid[i], NULL, blk_run, &jobs[i]) == 0;
	blk_run(&jobs[0]);
	for (i = 1; i < n; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			blk_run(&jobs[i]);
	}
	for (i = 0; i < n; i++)
		if (!jobs[i].ok)
			ret = -1;
	return ret;
}

int zs_digest_of_blocks(const uint8_t *blocks, uint64_t n, uint8_t out[ZS_DIGEST_LEN])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, n ? (const void *) blocks : "", n * ZS_DIGEST_LEN, out) < 0 ? -1 : 0;
}

int zs_digest_buf(const void *p, uint64_t len, uint8_t out[ZS_DIGEST_LEN])
{
	cleanup_free uint8_t *b = xmalloc(zs_digest_nblocks(len) * ZS_DIGEST_LEN + 1);

	if (zs_digest_blocks(p, len, b, 0) < 0)
		return -1;
	return zs_digest_of_blocks(b, zs_digest_nblocks(len), out);
}

/* ---- a file, read on several threads ---- */

#define READ_CHUNK (1u << 20) /* a multiple of the block */

struct fd_job {
	int fd;
	uint64_t off, len; /* LEN bytes from OFF: whole blocks, but for the last job */
	uint8_t *out;
	int err; /* errno, -1: SHA-256 failed, -2: the file ended early */
};

static void *fd_run(void *arg)
{
	struct fd_job *j = arg;
	cleanup_free uint8_t *buf = xmalloc(READ_CHUNK);
	uint64_t done = 0;

	while (done < j->len) {
		size_t want = j->len - done < READ_CHUNK ? j->len - done : READ_CHUNK;
		ssize_t r = pread(j->fd, buf, want, j->off + done);
		struct blk_job b;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			j->err = errno;
			return NULL;
		}
		if ((size_t) r != want) { /* short: only at the end of a file, which is earlier than it was */
			j->err = -2;
			return NULL;
		}
		b = (struct blk_job){.p = buf, .len = want, .out = j->out + done / ZS_DIGEST_BLOCK * ZS_DIGEST_LEN};
		blk_run(&b);
		if (!b.ok) {
			j->err = -1;
			return NULL;
		}
		done += want;
	}
	return NULL;
}

int zs_digest_fd(int fd, const char *what, uint8_t out[ZS_DIGEST_LEN], uint64_t *size, zs_error_t *err)
{
	struct fd_job jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = {0};
	cleanup_free uint8_t *blocks = NULL;
	uint64_t len, nb, per;
	unsigned i, n;
	struct stat st;
	char c;

	if (fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "stat `%s`", what);
	len = st.st_size;
	nb = zs_digest_nblocks(len);
	blocks = xmalloc(nb * ZS_DIGEST_LEN + 1);
	n = len < PARALLEL_MIN ? 1 : zs_digest_threads();
	per = (nb + n - 1) / n;
	for (i = 0; i < n; i++) {
		uint64_t b = i * per < nb ? i * per : nb, e = (i + 1) * per < nb ? (i + 1) * per : nb;

		jobs[i] = (struct fd_job){.fd = fd,
					  .off = b * ZS_DIGEST_BLOCK,
					  .len = (e * ZS_DIGEST_BLOCK < len ? e * ZS_DIGEST_BLOCK : len) -
						 b * ZS_DIGEST_BLOCK,
					  .out = blocks + b * ZS_DIGEST_LEN};
	}
	for (i = 1; i < n; i++)
		started[i] = pthread_create(&tid[i], NULL, fd_run, &jobs[i]) == 0;
	fd_run(&jobs[0]);
	for (i = 1; i < n; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			fd_run(&jobs[i]);
	}
	for (i = 0; i < n; i++) {
		if (jobs[i].err == -1)
			return zs_make_error(err, EIO, "%s: SHA-256 not available", what);
		if (jobs[i].err == -2)
			return zs_make_error(err, -EIO, "`%s` became shorter while it was read", what);
		if (jobs[i].err)
			return zs_make_error(err, jobs[i].err, "read `%s`", what);
	}
	/* grown since the fstat: not the file that was measured */
	if (pread(fd, &c, 1, len) == 1)
		return zs_make_error(err, -EIO, "`%s` grew while it was read", what);
	if (zs_digest_of_blocks(blocks, nb, out) < 0)
		return zs_make_error(err, EIO, "%s: SHA-256 not available", what);
	*size = len;
	return 0;
}

void zs_digest_hex(const uint8_t d[ZS_DIGEST_LEN], char hex[2 * ZS_DIGEST_LEN + 1])
{
	static const char x[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < ZS_DIGEST_LEN; i++) {
		hex[2 * i] = x[d[i] >> 4];
		hex[2 * i + 1] = x[d[i] & 15];
	}
	hex[2 * ZS_DIGEST_LEN] = '\0';
}
