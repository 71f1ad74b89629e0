/* zanshin — AppArmor and SELinux settings of a container's processes
 * (see zanshin/lsm.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "zanshin/lsm.h"
#include "zanshin/procfs.h"
#include "zanshin/utils.h"

#ifndef SELINUX_MAGIC
#define SELINUX_MAGIC 0xf97cff8c
#endif

bool zs_apparmor_enabled(void)
{
	char buf[4] = "";
	cleanup_close int fd = -1;
	struct stat st;

	if (stat("/sys/kernel/security/apparmor", &st) < 0)
		return false;
	fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
	return fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && buf[0] == 'Y';
}

bool zs_selinux_enabled(void)
{
	char buf[16] = "";
	cleanup_close int fd = -1;
	struct statfs sf;

	if (statfs("/sys/fs/selinux", &sf) < 0 || (unsigned long) sf.f_type != SELINUX_MAGIC)
		return false;
	/* a kernel without a loaded policy labels every task "kernel" */
	fd = open("/proc/self/attr/current", O_RDONLY | O_CLOEXEC);
	return fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && strncmp(buf, "kernel", 6) != 0;
}

/* A value written to an attr file is taken whole: no control characters
 * (a newline would end it early), not empty. */
static int check_value(const char *v, const char *file, const char *field, zs_error_t *err)
{
	const char *c;

	for (c = v; *c; c++)
		if ((unsigned char) *c < 0x20 || *c == 0x7f)
			return zs_make_error(err, -EINVAL, "%s: %s: control character in `%s`", file, field, v);
	return 0;
}

int zs_lsm_check(const struct zs_process *p, const char *file, const char *field, zs_error_t *err)
{
	cleanup_free char *aa = xasprintf("%s%sapparmorProfile", field, *field ? "." : "");
	cleanup_free char *se = xasprintf("%s%sselinuxLabel", field, *field ? "." : "");

	if (p->apparmor_profile && *p->apparmor_profile) {
		if (check_value(p->apparmor_profile, file, aa, err) < 0)
			return -1;
		if (!zs_apparmor_enabled())
			return zs_make_error(err, -EINVAL,
					     "%s: %s: AppArmor profile `%s` is set but AppArmor is not enabled on "
					     "this host (/sys/kernel/security/apparmor)",
					     file, aa, p->apparmor_profile);
	}
	if (p->selinux_label && *p->selinux_label) {
		if (check_value(p->selinux_label, file, se, err) < 0)
			return -1;
		if (!zs_selinux_enabled())
			return zs_make_error(err, -EINVAL,
					     "%s: %s: SELinux label `%s` is set but SELinux is disabled or not "
					     "supported on this host (/sys/fs/selinux)",
					     file, se, p->selinux_label);
	}
	return 0;
}

int zs_lsm_check_mount_label(const struct zs_config *c, zs_error_t *err)
{
	if (c->mount_label == NULL || *c->mount_label == '\0')
		return 0;
	if (strpbrk(c->mount_label, "\",") != NULL ||
	    check_value(c->mount_label, "config.json", "linux.mountLabel", err) < 0)
		return zs_make_error(err, -EINVAL, "config.json: linux.mountLabel: `%s` is not a label",
				     c->mount_label);
	if (!zs_selinux_enabled())
		return zs_make_error(err, -EINVAL,
				     "config.json: linux.mountLabel: SELinux label `%s` is set but SELinux is disabled "
				     "or not supported on this host (/sys/fs/selinux)",
				     c->mount_label);
	return 0;
}

/* AppArmor's own attr directory first, the shared attr file on kernels
 * without LSM stacking (what libapparmor's aa_change_onexec does). */
static int apparmor_exec(const char *profile, zs_error_t *err)
{
	cleanup_free char *cmd = xasprintf("exec %s", profile);
	zs_error_t e = NULL;

	if (zs_proc_write("self/attr/apparmor/exec", cmd, strlen(cmd), &e) == 0)
		return 0;
	if (zs_error_errno(e) != ENOENT) {
		*err = e;
		return zs_error_wrap(err, "apply AppArmor profile `%s`", profile);
	}
	zs_error_release(&e);
	if (zs_proc_write("self/attr/exec", cmd, strlen(cmd), err) < 0)
		return zs_error_wrap(err, "apply AppArmor profile `%s`", profile);
	return 0;
}

int zs_lsm_apply_exec(const struct zs_process *p, zs_error_t *err)
{
	if (p->apparmor_profile && *p->apparmor_profile && apparmor_exec(p->apparmor_profile, err) < 0)
		return -1;
	if (p->selinux_label && *p->selinux_label &&
	    zs_proc_write("self/attr/exec", p->selinux_label, strlen(p->selinux_label), err) < 0)
		return zs_error_wrap(err, "set SELinux exec label `%s`", p->selinux_label);
	return 0;
}

char *zs_selinux_mount_data(const char *data, const char *label, const char *type)
{
	static const char *const no_context[] = {"proc", "sysfs", "cgroup", "cgroup2", "bind", NULL};
	size_t i;

	if (label == NULL || *label == '\0' || type == NULL || !zs_selinux_enabled())
		return NULL;
	for (i = 0; no_context[i]; i++)
		if (strcmp(type, no_context[i]) == 0)
			return NULL;
	if (data && *data)
		return xasprintf("%s,context=\"%s\"", data, label);
	return xasprintf("context=\"%s\"", label);
}
