/* zanshin — cgroup v2 device access: a BPF_PROG_TYPE_CGROUP_DEVICE program
 * built from the rule list (later rules win, default deny), loaded with the
 * bpf() syscall and attached to the container's cgroup directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "zanshin/utils.h"
#include "cgroup_internal.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

struct prog {
	struct bpf_insn *insn;
	size_t n;
};

static void emit(struct prog *p, struct bpf_insn i)
{
	p->insn = xrealloc(p->insn, (p->n + 1) * sizeof(*p->insn));
	p->insn[p->n++] = i;
}

/* Jump to the end of the current rule block: offsets patched afterwards. */
#define JNE_NEXT(reg, imm) INSN(BPF_JMP | BPF_JNE | BPF_K, reg, 0, -1, imm)

static unsigned int access_mask(const char *a)
{
	unsigned int m = 0;

	for (; *a; a++)
		m |= *a == 'r'	 ? BPF_DEVCG_ACC_READ
		     : *a == 'w' ? BPF_DEVCG_ACC_WRITE
		     : *a == 'm' ? BPF_DEVCG_ACC_MKNOD
				 : 0;
	return m;
}

/* Returns true if the rule matches everything (nothing after it is reachable). */
static bool emit_rule(struct prog *p, const struct zs_device_rule *d)
{
	size_t start = p->n;
	unsigned int mask = access_mask(d->access);

	if (d->type == 'b' || d->type == 'c')
		emit(p, JNE_NEXT(BPF_REG_2, d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
	if (mask != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
		/* the requested access must be a subset of the rule's */
		emit(p, INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
		emit(p, INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int) mask));
		emit(p, INSN(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, -1, 0));
	}
	if (d->major >= 0)
		emit(p, JNE_NEXT(BPF_REG_4, (int) d->major));
	if (d->minor >= 0)
		emit(p, JNE_NEXT(BPF_REG_5, (int) d->minor));
	emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, d->allow ? 1 : 0));
	emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	for (size_t i = start; i < p->n; i++)
		if (BPF_CLASS(p->insn[i].code) == BPF_JMP && p->insn[i].off == -1)
			p->insn[i].off = (short) (p->n - i - 1);
	return p->n - start == 2;
}

static void build(struct prog *p, const struct zs_device_rule *rules, size_t n)
{
	/* r2 = type, r3 = access, r4 = major, r5 = minor (ctx in r1) */
	emit(p, INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0));
	emit(p, INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff));
	emit(p, INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 0, 0));
	emit(p, INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16));
	emit(p, INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0));
	emit(p, INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0));
	for (size_t i = n; i > 0; i--) /* the last matching rule decides */
		if (emit_rule(p, &rules[i - 1]))
			return;
	emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
	emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

static int prog_load_log(const struct prog *p, char *log, size_t log_size)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uintptr_t) p->insn;
	a.insn_cnt = (unsigned int) p->n;
	a.license = (uintptr_t) "Apache";
	if (log) {
		a.log_buf = (uintptr_t) log;
		a.log_size = (unsigned int) log_size;
		a.log_level = 1;
	}
	return (int) syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
}

static int prog_load(const struct prog *p, zs_error_t *err)
{
	cleanup_free char *log = NULL;
	int fd, saved;

	fd = prog_load_log(p, NULL, 0);
	if (fd >= 0)
		return fd;
	saved = errno;
	/* again, with the verifier's log for the message */
	log = xzalloc(65536);
	fd = prog_load_log(p, log, 65536);
	if (fd >= 0)
		return fd;
	return zs_make_error(err, saved, "load the cgroup device BPF program (%zu insns): %.300s", p->n, log);
}

int cg_v2_devices_apply(const char *path, const struct zs_device_rule *rules, size_t n, zs_error_t *err)
{
	struct prog p = {0};
	cleanup_close int prog_fd = -1;
	cleanup_close int dir_fd = -1;
	union bpf_attr a;

	build(&p, rules, n);
	prog_fd = prog_load(&p, err);
	free(p.insn);
	if (prog_fd < 0)
		return -1;
	dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	memset(&a, 0, sizeof(a));
	a.target_fd = (unsigned int) dir_fd;
	a.attach_bpf_fd = (unsigned int) prog_fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof(a)) < 0)
		return zs_make_error(err, errno, "attach the device BPF program to `%s`", path);
	return 0;
}
