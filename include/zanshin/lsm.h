/* zanshin — Linux security modules: process.apparmorProfile,
 * process.selinuxLabel and linux.mountLabel are applied where the host has
 * the LSM and refused where it has not (never ignored: a profile the
 * operator asked for and did not get is a container less confined than
 * intended). */
#ifndef ZANSHIN_LSM_H
#define ZANSHIN_LSM_H

#include <stdbool.h>

#include "zanshin/config.h"
#include "zanshin/error.h"

/* As runc: securityfs has apparmor/ and the module's "enabled" is Y. */
bool zs_apparmor_enabled(void);
/* selinuxfs is mounted (/sys/fs/selinux) and the kernel labels tasks. */
bool zs_selinux_enabled(void);

/* On the host, before any process starts: refuse P's settings that the
 * host cannot apply. FILE and FIELD name where P came from in errors
 * ("config.json", "process"). */
int zs_lsm_check(const struct zs_process *p, const char *file, const char *field, zs_error_t *err);

/* linux.mountLabel of C: refused where SELinux is not enabled (runc 1.1.5
 * adds context= anyway and the first mount fails with EINVAL). */
int zs_lsm_check_mount_label(const struct zs_config *c, zs_error_t *err);

/* In the container process while still privileged, before execve: make
 * the next execve enter P's AppArmor profile / SELinux label. The writes go
 * through the verified procfs (zanshin/procfs.h). */
int zs_lsm_apply_exec(const struct zs_process *p, zs_error_t *err);

/* DATA with SELinux's context= option for LABEL, for a mount of TYPE (NULL
 * when nothing is to be added: no label, no SELinux, a type that takes no
 * context). The result is the caller's. */
char *zs_selinux_mount_data(const char *data, const char *label, const char *type);

#endif
