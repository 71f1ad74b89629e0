/* zanshin — seccomp: linux.seccomp parsing, compilation with libseccomp
 * (plus runc's -ENOSYS stub for syscalls newer than the profile) and
 * installation with seccomp(2). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "zanshin/seccomp.h"
#include "zanshin/utils.h"

#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif

static const struct {
	const char *name;
	enum zs_seccomp_action act;
} actions[] = {
    {"SCMP_ACT_KILL", ZS_SCMP_KILL},
    {"SCMP_ACT_KILL_PROCESS", ZS_SCMP_KILL_PROCESS},
    {"SCMP_ACT_KILL_THREAD", ZS_SCMP_KILL_THREAD},
    {"SCMP_ACT_TRAP", ZS_SCMP_TRAP},
    {"SCMP_ACT_ERRNO", ZS_SCMP_ERRNO},
    {"SCMP_ACT_TRACE", ZS_SCMP_TRACE},
    {"SCMP_ACT_ALLOW", ZS_SCMP_ALLOW},
    {"SCMP_ACT_LOG", ZS_SCMP_LOG},
    {"SCMP_ACT_NOTIFY", ZS_SCMP_NOTIFY},
};

static const struct {
	const char *name;
	enum zs_seccomp_op op;
} ops[] = {
    {"SCMP_CMP_NE", ZS_SCMP_OP_NE},
    {"SCMP_CMP_LT", ZS_SCMP_OP_LT},
    {"SCMP_CMP_LE", ZS_SCMP_OP_LE},
    {"SCMP_CMP_EQ", ZS_SCMP_OP_EQ},
    {"SCMP_CMP_GE", ZS_SCMP_OP_GE},
    {"SCMP_CMP_GT", ZS_SCMP_OP_GT},
    {"SCMP_CMP_MASKED_EQ", ZS_SCMP_OP_MASKED_EQ},
};

static const struct {
	const char *name;
	unsigned int flag;
} flag_names[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", ZS_SCMP_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", ZS_SCMP_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", ZS_SCMP_FLAG_SPEC_ALLOW},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

void zs_seccomp_free(struct zs_seccomp *s)
{
	if (s == NULL)
		return;
	zs_free_string_array(s->architectures);
	for (size_t i = 0; i < s->n_rules; i++) {
		zs_free_string_array(s->rules[i].names);
		free(s->rules[i].args);
	}
	free(s->rules);
	free(s);
}

void cleanup_seccompp(struct zs_seccomp **s)
{
	zs_seccomp_free(*s);
}

/* ---- parsing ----------------------------------------------------------- */

struct sctx {
	const char *file;
	const char *base;
};

static char *sfld(const struct sctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sfld(const struct sctx *c, const char *fmt, ...)
{
	cleanup_free char *sub = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&sub, fmt, ap) < 0)
		abort();
	va_end(ap);
	return xasprintf("%s.%s", c->base, sub);
}

static int parse_action(const struct sctx *c, const zs_json *v, const char *f, enum zs_seccomp_action *out,
			zs_error_t *err)
{
	cleanup_free char *s = NULL;

	if (zs_json_to_string(v, c->file, f, ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY, &s, err) < 0)
		return -1;
	for (size_t i = 0; i < N_OF(actions); i++)
		if (strcmp(s, actions[i].name) == 0) {
			if (actions[i].act == ZS_SCMP_NOTIFY)
				return zs_make_error(
				    err, ENOTSUP, "%s: %s: SCMP_ACT_NOTIFY is not supported (no seccomp agent support)",
				    c->file, f);
			*out = actions[i].act;
			return 0;
		}
	return zs_make_error(err, EINVAL, "%s: %s: unknown seccomp action `%s`", c->file, f, s);
}

static int parse_errno(const struct sctx *c, const zs_json *v, const char *f, bool *set, uint32_t *out, zs_error_t *err)
{
	uint64_t e = 0;

	if (v == NULL)
		return 0;
	if (zs_json_to_uint64(v, c->file, f, 0, &e, err) < 0)
		return -1;
	if (e > 4095)
		return zs_make_error(err, EINVAL, "%s: %s: errno %llu out of range", c->file, f,
				     (unsigned long long) e);
	*set = true;
	*out = (uint32_t) e;
	return 0;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's "x86_64" */
static uint32_t arch_token(const char *name)
{
	char buf[64];
	size_t i;

	if (!str_has_prefix(name, "SCMP_ARCH_") || strlen(name) - 10 >= sizeof(buf))
		return 0;
	for (i = 0; name[10 + i]; i++)
		buf[i] = (char) tolower((unsigned char) name[10 + i]);
	buf[i] = '\0';
	return seccomp_arch_resolve_name(buf);
}

static int parse_arg(const struct sctx *c, const zs_json *a, size_t ri, size_t ai, struct zs_seccomp_arg *out,
		     zs_error_t *err)
{
	cleanup_free char *fi = sfld(c, "syscalls[%zu].args[%zu].index", ri, ai);
	cleanup_free char *fv = sfld(c, "syscalls[%zu].args[%zu].value", ri, ai);
	cleanup_free char *fv2 = sfld(c, "syscalls[%zu].args[%zu].valueTwo", ri, ai);
	cleanup_free char *fo = sfld(c, "syscalls[%zu].args[%zu].op", ri, ai);
	cleanup_free char *op = NULL;
	uint64_t idx = 0;

	memset(out, 0, sizeof(*out));
	if (zs_json_to_uint64(zs_json_get(a, "index"), c->file, fi, ZS_JSON_REQUIRED, &idx, err) < 0 ||
	    zs_json_to_uint64(zs_json_get(a, "value"), c->file, fv, ZS_JSON_REQUIRED, &out->value, err) < 0 ||
	    zs_json_to_uint64(zs_json_get(a, "valueTwo"), c->file, fv2, 0, &out->value_two, err) < 0 ||
	    zs_json_to_string(zs_json_get(a, "op"), c->file, fo, ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY, &op, err) < 0)
		return -1;
	if (idx > 5)
		return zs_make_error(err, EINVAL, "%s: %s: must be between 0 and 5", c->file, fi);
	out->index = (unsigned int) idx;
	for (size_t i = 0; i < N_OF(ops); i++)
		if (strcmp(op, ops[i].name) == 0)
			out->op = ops[i].op;
	if (out->op == 0)
		return zs_make_error(err, EINVAL, "%s: %s: unknown operator `%s`", c->file, fo, op);
	return 0;
}

static int parse_rule(const struct sctx *c, const zs_json *e, size_t ri, struct zs_seccomp_rule *r, zs_error_t *err)
{
	cleanup_free char *fn = sfld(c, "syscalls[%zu].names", ri);
	cleanup_free char *fa = sfld(c, "syscalls[%zu].action", ri);
	cleanup_free char *fe = sfld(c, "syscalls[%zu].errnoRet", ri);
	cleanup_free char *fargs = sfld(c, "syscalls[%zu].args", ri);
	zs_json *args = zs_json_get(e, "args");

	if (zs_json_check_object(e, c->file, fn, ZS_JSON_REQUIRED, err) < 0)
		return -1;
	if (zs_json_get(e, "names") == NULL && zs_json_string_value(zs_json_get(e, "name"))) {
		r->names = xzalloc(2 * sizeof(char *)); /* pre-1.0 "name" */
		r->names[0] = xstrdup(zs_json_string_value(zs_json_get(e, "name")));
		r->n_names = 1;
	} else if (zs_json_to_string_array(zs_json_get(e, "names"), c->file, fn, ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY,
					   &r->names, &r->n_names, err) < 0) {
		return -1;
	}
	if (parse_action(c, zs_json_get(e, "action"), fa, &r->action, err) < 0 ||
	    parse_errno(c, zs_json_get(e, "errnoRet"), fe, &r->errno_ret_set, &r->errno_ret, err) < 0 ||
	    zs_json_check_array(args, c->file, fargs, 0, err) < 0)
		return -1;
	if (r->errno_ret_set && r->action != ZS_SCMP_ERRNO && r->action != ZS_SCMP_TRACE)
		return zs_make_error(err, EINVAL, "%s: %s: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE", c->file,
				     fe);
	r->n_args = args ? zs_json_array_len(args) : 0;
	r->args = xzalloc((r->n_args + 1) * sizeof(*r->args));
	for (size_t i = 0; i < r->n_args; i++)
		if (parse_arg(c, zs_json_array_at(args, i), ri, i, &r->args[i], err) < 0)
			return -1;
	return 0;
}

static int parse_flags(const struct sctx *c, const zs_json *v, unsigned int *flags, zs_error_t *err)
{
	cleanup_free char *f = sfld(c, "flags");
	char **names = NULL;
	size_t n = 0;

	if (zs_json_to_string_array(v, c->file, f, 0, &names, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < N_OF(flag_names); j++)
			if (strcmp(names[i], flag_names[j].name) == 0)
				break;
		if (j == N_OF(flag_names)) {
			int ret =
			    zs_make_error(err, EINVAL, "%s: %s: unsupported seccomp flag `%s`", c->file, f, names[i]);
			zs_free_string_array(names);
			return ret;
		}
		*flags |= flag_names[j].flag;
	}
	zs_free_string_array(names);
	return 0;
}

static int parse_archs(const struct sctx *c, const zs_json *v, struct zs_seccomp *s, zs_error_t *err)
{
	cleanup_free char *f = sfld(c, "architectures");

	if (zs_json_to_string_array(v, c->file, f, 0, &s->architectures, &s->n_architectures, err) < 0)
		return -1;
	for (size_t i = 0; i < s->n_architectures; i++)
		if (arch_token(s->architectures[i]) == 0)
			return zs_make_error(err, EINVAL, "%s: %s[%zu]: unknown architecture `%s`", c->file, f, i,
					     s->architectures[i]);
	return 0;
}

static int parse_top(const struct sctx *c, const zs_json *v, struct zs_seccomp *s, zs_error_t *err)
{
	cleanup_free char *fd = sfld(c, "defaultAction"), *fe = sfld(c, "defaultErrnoRet");
	cleanup_free char *fl = sfld(c, "listenerPath"), *fs = sfld(c, "syscalls");
	cleanup_free char *listener = NULL;
	zs_json *calls = zs_json_get(v, "syscalls");

	if (parse_action(c, zs_json_get(v, "defaultAction"), fd, &s->default_action, err) < 0 ||
	    parse_errno(c, zs_json_get(v, "defaultErrnoRet"), fe, &s->default_errno_set, &s->default_errno, err) < 0 ||
	    parse_archs(c, zs_json_get(v, "architectures"), s, err) < 0 ||
	    parse_flags(c, zs_json_get(v, "flags"), &s->flags, err) < 0 ||
	    zs_json_to_string(zs_json_get(v, "listenerPath"), c->file, fl, 0, &listener, err) < 0 ||
	    zs_json_check_array(calls, c->file, fs, 0, err) < 0)
		return -1;
	if (listener && *listener)
		return zs_make_error(err, ENOTSUP, "%s: %s: seccomp user notification is not supported", c->file, fl);
	if (s->default_errno_set && s->default_action != ZS_SCMP_ERRNO && s->default_action != ZS_SCMP_TRACE)
		return zs_make_error(err, EINVAL, "%s: %s: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE", c->file,
				     fe);
	s->n_rules = calls ? zs_json_array_len(calls) : 0;
	s->rules = xzalloc((s->n_rules + 1) * sizeof(*s->rules));
	for (size_t i = 0; i < s->n_rules; i++)
		if (parse_rule(c, zs_json_array_at(calls, i), i, &s->rules[i], err) < 0)
			return -1;
	return 0;
}

int zs_seccomp_parse(const zs_json *seccomp, const char *file, const char *field, struct zs_seccomp **out,
		     zs_error_t *err)
{
	cleanup_seccomp struct zs_seccomp *s = NULL;
	struct sctx c = {file ? file : "config.json", field ? field : "linux.seccomp"};

	*out = NULL;
	if (seccomp == NULL)
		return 0;
	if (!zs_json_is_object(seccomp))
		return zs_make_error(err, EINVAL, "%s: %s: must be an object", c.file, c.base);
	s = xzalloc(sizeof(*s));
	if (parse_top(&c, seccomp, s, err) < 0)
		return -1;
	*out = steal_pointer(&s);
	return 0;
}

/* ---- compilation ------------------------------------------------------- */

static uint32_t scmp_action(enum zs_seccomp_action a, bool errno_set, uint32_t e)
{
	switch (a) {
	case ZS_SCMP_KILL:
	case ZS_SCMP_KILL_THREAD:
		return SCMP_ACT_KILL_THREAD;
	case ZS_SCMP_KILL_PROCESS:
		return SCMP_ACT_KILL_PROCESS;
	case ZS_SCMP_TRAP:
		return SCMP_ACT_TRAP;
	case ZS_SCMP_ERRNO:
		return SCMP_ACT_ERRNO(errno_set ? e : EPERM);
	case ZS_SCMP_TRACE:
		return SCMP_ACT_TRACE(errno_set ? e : EPERM);
	case ZS_SCMP_LOG:
		return SCMP_ACT_LOG;
	case ZS_SCMP_NOTIFY:
		return SCMP_ACT_NOTIFY;
	case ZS_SCMP_ALLOW:
	default:
		return SCMP_ACT_ALLOW;
	}
}

static enum scmp_compare scmp_op(enum zs_seccomp_op op)
{
	switch (op) {
	case ZS_SCMP_OP_NE:
		return SCMP_CMP_NE;
	case ZS_SCMP_OP_LT:
		return SCMP_CMP_LT;
	case ZS_SCMP_OP_LE:
		return SCMP_CMP_LE;
	case ZS_SCMP_OP_GE:
		return SCMP_CMP_GE;
	case ZS_SCMP_OP_GT:
		return SCMP_CMP_GT;
	case ZS_SCMP_OP_MASKED_EQ:
		return SCMP_CMP_MASKED_EQ;
	case ZS_SCMP_OP_EQ:
	default:
		return SCMP_CMP_EQ;
	}
}

static void note_skipped(char **skipped, const char *name)
{
	char *n;

	if (skipped == NULL)
		return;
	n = *skipped ? xasprintf("%s,%s", *skipped, name) : xstrdup(name);
	free(*skipped);
	*skipped = n;
}

/* One rule for one syscall.  Several conditions on the same argument are
 * OR-ed (one libseccomp rule each), as runc does; otherwise AND-ed. */
static int add_rule(scmp_filter_ctx ctx, const struct zs_seccomp_rule *r, const char *name, int nr, uint32_t act,
		    zs_error_t *err)
{
	struct scmp_arg_cmp cmp[6];
	unsigned int count[6] = {0};
	bool multi = false;
	int ret;

	for (size_t i = 0; i < r->n_args; i++) {
		const struct zs_seccomp_arg *a = &r->args[i];
		cmp[i < 6 ? i : 5] = (struct scmp_arg_cmp){a->index, scmp_op(a->op), a->value, a->value_two};
		if (++count[a->index] > 1)
			multi = true;
	}
	if (r->n_args > 6)
		multi = true;
	if (r->n_args == 0) {
		ret = seccomp_rule_add(ctx, act, nr, 0);
	} else if (!multi) {
		ret = seccomp_rule_add_array(ctx, act, nr, (unsigned int) r->n_args, cmp);
	} else {
		ret = 0;
		for (size_t i = 0; i < r->n_args && ret == 0; i++) {
			const struct zs_seccomp_arg *a = &r->args[i];
			struct scmp_arg_cmp one = {a->index, scmp_op(a->op), a->value, a->value_two};
			ret = seccomp_rule_add_array(ctx, act, nr, 1, &one);
		}
	}
	if (ret < 0)
		return zs_make_error(err, -ret, "seccomp: add rule for syscall `%s`", name);
	return 0;
}

static int add_rules(scmp_filter_ctx ctx, const struct zs_seccomp *s, uint32_t def, int *max_nr, char **skipped,
		     zs_error_t *err)
{
	uint32_t native = seccomp_arch_native();

	for (size_t i = 0; i < s->n_rules; i++) {
		const struct zs_seccomp_rule *r = &s->rules[i];
		uint32_t act = scmp_action(r->action, r->errno_ret_set, r->errno_ret);
		for (size_t j = 0; j < r->n_names; j++) {
			int nr = seccomp_syscall_resolve_name(r->names[j]);
			int nnr = seccomp_syscall_resolve_name_arch(native, r->names[j]);
			if (nnr > *max_nr)
				*max_nr = nnr;
			if (nr == __NR_SCMP_ERROR) {
				note_skipped(skipped, r->names[j]);
				continue;
			}
			if (act == def)
				continue; /* redundant with the default action */
			if (add_rule(ctx, r, r->names[j], nr, act, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct sock_filter **prog, size_t *len, zs_error_t *err)
{
	cleanup_close int fd = memfd_create("zanshin-seccomp", MFD_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t n = 0;
	int ret;

	if (fd < 0)
		return zs_make_error(err, errno, "seccomp: memfd_create");
	ret = seccomp_export_bpf(ctx, fd);
	if (ret < 0)
		return zs_make_error(err, -ret, "seccomp: export the BPF program");
	if (lseek(fd, 0, SEEK_SET) < 0)
		return zs_make_error(err, errno, "seccomp: lseek");
	if (read_all_fd(fd, "seccomp BPF program", &buf, &n, err) < 0)
		return -1;
	if (n == 0 || n % sizeof(struct sock_filter) != 0)
		return zs_make_error(err, EINVAL, "seccomp: exported BPF program has a bad size %zu", n);
	*prog = (struct sock_filter *) steal_pointer(&buf);
	*len = n / sizeof(struct sock_filter);
	return 0;
}

/* Prepend runc's ENOSYS stub: on the native arch, a syscall number above
 * every syscall the profile names returns -ENOSYS (x32 numbers excluded). */
static void prepend_enosys(struct sock_filter **prog, size_t *len, uint32_t max_nr)
{
	struct sock_filter stub[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0, 4),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, max_nr, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	};
	size_t ns = N_OF(stub);
	struct sock_filter *p = xmalloc((*len + ns) * sizeof(*p));

	memcpy(p, stub, sizeof(stub));
	memcpy(p + ns, *prog, *len * sizeof(*p));
	free(*prog);
	*prog = p;
	*len += ns;
}

static int build_ctx(scmp_filter_ctx ctx, const struct zs_seccomp *s, zs_error_t *err)
{
	int ret;

	for (size_t i = 0; i < s->n_architectures; i++) {
		ret = seccomp_arch_add(ctx, arch_token(s->architectures[i]));
		if (ret < 0 && ret != -EEXIST)
			return zs_make_error(err, -ret, "seccomp: add architecture `%s`", s->architectures[i]);
	}
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (ret < 0)
		return zs_make_error(err, -ret, "seccomp: clear the no_new_privs attribute");
	return 0;
}

int zs_seccomp_compile(const struct zs_seccomp *s, void **prog, size_t *len, char **skipped, zs_error_t *err)
{
	uint32_t def = scmp_action(s->default_action, s->default_errno_set, s->default_errno);
	struct sock_filter *p = NULL;
	scmp_filter_ctx ctx;
	int max_nr = -1, ret;

	if (skipped)
		*skipped = NULL;
	if (s->default_action == ZS_SCMP_NOTIFY)
		return zs_make_error(err, ENOTSUP, "seccomp: SCMP_ACT_NOTIFY cannot be the default action");
	ctx = seccomp_init(def);
	if (ctx == NULL)
		return zs_make_error(err, EINVAL, "seccomp: cannot initialise the filter");
	ret = build_ctx(ctx, s, err);
	if (ret == 0)
		ret = add_rules(ctx, s, def, &max_nr, skipped, err);
	if (ret == 0)
		ret = export_bpf(ctx, &p, len, err);
	seccomp_release(ctx);
	if (ret < 0)
		return ret;
	/* as runc: not for permissive defaults (a tracer handles new syscalls itself) */
	if (s->default_action != ZS_SCMP_ALLOW && s->default_action != ZS_SCMP_LOG &&
	    s->default_action != ZS_SCMP_TRACE && !(s->default_errno_set && s->default_errno == ENOSYS) && max_nr >= 0)
		prepend_enosys(&p, len, (uint32_t) max_nr);
	*prog = p;
	return 0;
}

int zs_seccomp_install(const struct zs_seccomp *s, const void *prog, size_t len, zs_error_t *err)
{
	struct sock_fprog fprog = {.len = (unsigned short) len, .filter = (struct sock_filter *) prog};
	unsigned long flags = 0;

	if (len == 0 || len > BPF_MAXINSNS)
		return zs_make_error(err, EINVAL, "seccomp: program of %zu instructions", len);
	if (s->flags & ZS_SCMP_FLAG_TSYNC)
		flags |= SECCOMP_FILTER_FLAG_TSYNC;
	if (s->flags & ZS_SCMP_FLAG_LOG)
		flags |= SECCOMP_FILTER_FLAG_LOG;
	if (s->flags & ZS_SCMP_FLAG_SPEC_ALLOW)
		flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog) == 0)
		return 0;
	if (errno == ENOSYS && flags == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0)
		return 0;
	return zs_make_error(err, errno, "seccomp: load the filter");
}

int zs_seccomp_load(const struct zs_seccomp *s, zs_error_t *err)
{
	cleanup_free void *prog = NULL;
	size_t len = 0;

	if (s == NULL)
		return 0;
	if (zs_seccomp_compile(s, &prog, &len, NULL, err) < 0)
		return -1;
	return zs_seccomp_install(s, prog, len, err);
}
