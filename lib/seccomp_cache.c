/* zanshin — a cache of compiled seccomp programs.  libseccomp needs 2 ms for
 * a one-architecture profile and ~20 ms for Podman's usual three (x86_64,
 * x86, x32); containers and execs of one profile reuse its program.
 *
 * A cache file holds a canonical text of the whole profile (plus the
 * libseccomp version and the native architecture) and the program; the
 * file name is only a hash of that text, and a hit requires the stored text
 * to be byte-for-byte equal, so a hash collision can never load another
 * profile's filter. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/filter.h>
#include <seccomp.h>

#include "zanshin/seccomp.h"
#include "zanshin/utils.h"

#define CACHE_MAGIC "zanshin-seccomp-cache/1\n"

static void append(char **buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char **buf, size_t *len, const char *fmt, ...)
{
	cleanup_free char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	*buf = xrealloc(*buf, *len + (size_t) n + 1);
	memcpy(*buf + *len, s, (size_t) n + 1);
	*len += (size_t) n;
}

/* Canonical text of everything that decides the program.  Names are
 * written with their length, so no name can forge a separator. */
static char *profile_key(const struct zs_seccomp *s, size_t *len)
{
	const struct scmp_version *v = seccomp_version();
	char *k = NULL;

	*len = 0;
	append(&k, len, "libseccomp %u.%u.%u native %" PRIu32 "\n", v->major, v->minor, v->micro,
	       seccomp_arch_native());
	append(&k, len, "default %d %d %" PRIu32 " flags %u\n", (int) s->default_action, (int) s->default_errno_set,
	       s->default_errno, s->flags);
	for (size_t i = 0; i < s->n_architectures; i++)
		append(&k, len, "arch %zu:%s\n", strlen(s->architectures[i]), s->architectures[i]);
	for (size_t i = 0; i < s->n_rules; i++) {
		const struct zs_seccomp_rule *r = &s->rules[i];
		append(&k, len, "rule %d %d %" PRIu32 "\n", (int) r->action, (int) r->errno_ret_set, r->errno_ret);
		for (size_t j = 0; j < r->n_names; j++)
			append(&k, len, " name %zu:%s\n", strlen(r->names[j]), r->names[j]);
		for (size_t j = 0; j < r->n_args; j++)
			append(&k, len, " arg %u %d %" PRIu64 " %" PRIu64 "\n", r->args[j].index, (int) r->args[j].op,
			       r->args[j].value, r->args[j].value_two);
	}
	return k;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char) p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The cached program, or NULL (miss, or a file we do not trust). */
static void *cache_read(const char *path, const char *key, size_t klen, size_t *len)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *buf = NULL;
	size_t n = 0, mlen = strlen(CACHE_MAGIC), head;
	struct stat st;
	void *prog;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return NULL;
	if (read_all_fd(fd, path, &buf, &n, &e) < 0)
		return NULL;
	head = mlen + klen;
	if (n <= head || memcmp(buf, CACHE_MAGIC, mlen) != 0 || memcmp(buf + mlen, key, klen) != 0 ||
	    (n - head) % sizeof(struct sock_filter) != 0)
		return NULL;
	prog = xmalloc(n - head);
	memcpy(prog, buf + head, n - head);
	*len = (n - head) / sizeof(struct sock_filter);
	return prog;
}

static void cache_write(const char *path, const char *key, size_t klen, const void *prog, size_t len)
{
	cleanup_error zs_error_t e = NULL;
	size_t mlen = strlen(CACHE_MAGIC), n = mlen + klen + len * sizeof(struct sock_filter);
	cleanup_free char *buf = xmalloc(n);

	memcpy(buf, CACHE_MAGIC, mlen);
	memcpy(buf + mlen, key, klen);
	memcpy(buf + mlen + klen, prog, len * sizeof(struct sock_filter));
	write_file_atomic(path, buf, n, 0600, &e); /* a cache: failure only costs time */
}

int zs_seccomp_compile_cached(const struct zs_seccomp *s, const char *cache_dir, void **prog, size_t *len,
			      char **skipped, zs_error_t *err)
{
	cleanup_free char *key = NULL, *path = NULL;
	size_t klen = 0;

	if (skipped)
		*skipped = NULL;
	if (cache_dir == NULL)
		return zs_seccomp_compile(s, prog, len, skipped, err);
	key = profile_key(s, &klen);
	path = xasprintf("%s/%016" PRIx64 ".bpf", cache_dir, fnv1a(key, klen));
	*prog = cache_read(path, key, klen, len);
	if (*prog)
		return 0;
	if (zs_seccomp_compile(s, prog, len, skipped, err) < 0)
		return -1;
	if (mkdir(cache_dir, 0700) == 0 || errno == EEXIST)
		cache_write(path, key, klen, *prog, *len);
	return 0;
}
