/* zanshin — seccomp: parse linux.seccomp and load it with libseccomp.
 *
 * Behaviour follows runc 1.1:
 *   - unknown syscall names are skipped (with a note in *skipped);
 *   - the native architecture is always in the filter, the listed
 *     architectures are added;
 *   - errnoRet defaults to EPERM for SCMP_ACT_ERRNO (defaultErrnoRet for the
 *     default action), SCMP_ACT_TRACE returns EPERM likewise;
 *   - the no_new_privs bit is NOT set by the filter (the caller decides, from
 *     process.noNewPrivileges); loading without it needs CAP_SYS_ADMIN;
 *   - syscalls newer than every syscall named in the profile get -ENOSYS
 *     instead of the default action (runc's "ENOSYS stub", native
 *     architecture only, not for ALLOW/LOG/TRACE defaults), so that libc
 *     falls back to older calls;
 *   - SCMP_ACT_NOTIFY and listenerPath are refused with a clear error
 *     (seccomp user notification is not supported).
 */
#ifndef ZANSHIN_SECCOMP_H
#define ZANSHIN_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"
#include "zanshin/json.h"

enum zs_seccomp_action {
	ZS_SCMP_KILL = 1, /* SCMP_ACT_KILL == SCMP_ACT_KILL_THREAD */
	ZS_SCMP_KILL_PROCESS,
	ZS_SCMP_KILL_THREAD,
	ZS_SCMP_TRAP,
	ZS_SCMP_ERRNO,
	ZS_SCMP_TRACE,
	ZS_SCMP_ALLOW,
	ZS_SCMP_LOG,
	ZS_SCMP_NOTIFY,
};

enum zs_seccomp_op {
	ZS_SCMP_OP_NE = 1,
	ZS_SCMP_OP_LT,
	ZS_SCMP_OP_LE,
	ZS_SCMP_OP_EQ,
	ZS_SCMP_OP_GE,
	ZS_SCMP_OP_GT,
	ZS_SCMP_OP_MASKED_EQ,
};

struct zs_seccomp_arg {
	unsigned int index;
	uint64_t value;
	uint64_t value_two;
	enum zs_seccomp_op op;
};

struct zs_seccomp_rule {
	char **names; /* NULL-terminated */
	size_t n_names;
	enum zs_seccomp_action action;
	bool errno_ret_set;
	uint32_t errno_ret;
	struct zs_seccomp_arg *args;
	size_t n_args;
};

/* Filter flags (linux.seccomp.flags). */
#define ZS_SCMP_FLAG_TSYNC (1u << 0)	  /* SECCOMP_FILTER_FLAG_TSYNC */
#define ZS_SCMP_FLAG_LOG (1u << 1)	  /* SECCOMP_FILTER_FLAG_LOG */
#define ZS_SCMP_FLAG_SPEC_ALLOW (1u << 2) /* SECCOMP_FILTER_FLAG_SPEC_ALLOW */

struct zs_seccomp {
	enum zs_seccomp_action default_action;
	bool default_errno_set;
	uint32_t default_errno;
	char **architectures; /* "SCMP_ARCH_X86_64"..., NULL-terminated */
	size_t n_architectures;
	unsigned int flags;
	struct zs_seccomp_rule *rules;
	size_t n_rules;
};

/* Parse linux.seccomp (SECCOMP may be NULL: *out = NULL, no filter).  FILE
 * and FIELD name it in errors ("config.json", "linux.seccomp").  Every name
 * (action, arch, operator, flag) is checked here, so that a bad profile is
 * refused at create time, not in the container's init. */
int zs_seccomp_parse(const zs_json *seccomp, const char *file, const char *field, struct zs_seccomp **out,
		     zs_error_t *err);
void zs_seccomp_free(struct zs_seccomp *s);
void cleanup_seccompp(struct zs_seccomp **s);
#define cleanup_seccomp __attribute__((cleanup(cleanup_seccompp)))

/* Build the BPF program of S (in the parent, before fork, or anywhere):
 * PROG and LEN receive a malloc'd array of struct sock_filter and its
 * number of instructions.  Unknown syscall names are skipped; if SKIPPED is not
 * NULL it receives a malloc'd comma-separated list of them (or NULL). */
int zs_seccomp_compile(const struct zs_seccomp *s, void **prog, size_t *len, char **skipped, zs_error_t *err);

/* zs_seccomp_compile() through a cache directory CACHE_DIR (created 0700
 * if missing; NULL = no cache): a profile compiled once is read back from
 * CACHE_DIR/<hash>.bpf, which stores the whole canonical profile and is used
 * only if that matches exactly.  SKIPPED is only filled on a miss. */
int zs_seccomp_compile_cached(const struct zs_seccomp *s, const char *cache_dir, void **prog, size_t *len,
			      char **skipped, zs_error_t *err);

/* Install a compiled program in the calling thread (seccomp(2) with S's
 * flags; falls back to prctl when no flags are needed).  Async-signal-safe
 * except for the error path: call it as the last step before execve (after
 * capabilities and no_new_privs). */
int zs_seccomp_install(const struct zs_seccomp *s, const void *prog, size_t len, zs_error_t *err);

/* compile + install in one step. */
int zs_seccomp_load(const struct zs_seccomp *s, zs_error_t *err);

#endif
