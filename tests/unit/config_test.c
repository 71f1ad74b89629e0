#define _GNU_SOURCE
/* Unit tests for lib/config.c: config.json model, IDs, signals, mount
 * options (TAP). */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "zanshin/config.h"
#include "zanshin/utils.h"

#include "check.h"

static const char *good =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"h\","
    "\"unknownTopLevel\":{\"ignored\":[1,2]},"
    "\"process\":{\"terminal\":false,\"user\":{\"uid\":1000,\"gid\":100,\"umask\":18,\"additionalGids\":[5,6]},"
    "\"args\":[\"sh\",\"-c\",\"true\"],\"env\":[\"A=1\"],\"cwd\":\"/tmp\","
    "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_NOT_A_CAP\"],\"effective\":[\"CAP_SYS_ADMIN\"]},"
    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":512}],\"noNewPrivileges\":true,"
    "\"oomScoreAdj\":-500},"
    "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/"
    "srv\",\"options\":[\"rbind\",\"ro\",\"rslave\",\"rro\"]},"
    "{\"destination\":\"/"
    "dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"mode=755\",\"size=65536k\"]}],"
    "\"hooks\":{\"poststop\":[{\"path\":\"/bin/true\",\"args\":[\"true\"],\"timeout\":3}]},"
    "\"annotations\":{\"a\":\"b\"},"
    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/var/run/netns/x\"}],"
    "\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":65536}],"
    "\"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229,\"fileMode\":438}],"
    "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},\"rootfsPropagation\":\"rprivate\","
    "\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"],\"cgroupsPath\":\"/a/b\"}}";

static int bad(const char *json, const char *want)
{
	struct zs_config *c = NULL;
	zs_error_t err = NULL;
	int r = zs_config_parse(json, "config.json", &c, &err);
	int ok = r < 0 && c == NULL && strstr(zs_error_msg(err), want) != NULL;

	if (!ok)
		printf("# got: %s\n", err ? zs_error_msg(err) : "(no error)");
	zs_error_release(&err);
	zs_config_free(c);
	return ok;
}

int main(void)
{
	cleanup_config struct zs_config *c = NULL;
	cleanup_error zs_error_t err = NULL;
	const struct zs_mount *m;
	int r;

	r = zs_config_parse(good, "config.json", &c, &err);
	if (r < 0)
		printf("# %s\n", zs_error_msg(err));
	check(r == 0, "valid config parses (unknown fields ignored)");
	if (r < 0)
		return 1;
	check(c->root_readonly && strcmp(c->root_path, "rootfs") == 0 && strcmp(c->hostname, "h") == 0,
	      "root, hostname");
	check(c->process->uid == 1000 && c->process->gid == 100 && c->process->umask_set && c->process->umask == 022 &&
		  c->process->n_additional_gids == 2 && c->process->additional_gids[1] == 6,
	      "process.user");
	check(c->process->caps_set && c->process->caps[ZS_CAP_BOUNDING] == (1ULL << 5) &&
		  c->process->caps[ZS_CAP_EFFECTIVE] == (1ULL << 21) && c->process->caps[ZS_CAP_AMBIENT] == 0,
	      "capabilities (unknown names skipped)");
	check(c->process->n_rlimits == 1 && c->process->rlimits[0].soft == 512 && c->process->rlimits[0].hard == 1024,
	      "rlimits");
	check(c->process->no_new_privileges && c->process->oom_score_adj_set && c->process->oom_score_adj == -500,
	      "noNewPrivileges, oomScoreAdj");
	check(c->n_mounts == 3, "three mounts");
	m = &c->mounts[1];
	check(m->bind && (m->flags & MS_REC) && (m->flags & MS_RDONLY) && m->propagation == (MS_SLAVE | MS_REC) &&
		  m->attr_set == 1 && m->data == NULL,
	      "bind mount options: rbind, ro, rslave, rro");
	m = &c->mounts[2];
	check(!m->bind && (m->flags & MS_NOSUID) && m->data && strcmp(m->data, "mode=755,size=65536k") == 0,
	      "tmpfs data options kept");
	check(c->n_hooks[ZS_HOOK_POSTSTOP] == 1 && c->hooks[ZS_HOOK_POSTSTOP][0].timeout == 3, "hooks.poststop");
	check(zs_config_namespace(c, CLONE_NEWPID) && !zs_config_namespace(c, CLONE_NEWPID)->path &&
		  strcmp(zs_config_namespace(c, CLONE_NEWNET)->path, "/var/run/netns/x") == 0 &&
		  !zs_config_namespace(c, CLONE_NEWUSER),
	      "namespaces with and without path");
	check(c->n_uid_maps == 1 && c->uid_maps[0].host_id == 1000 && c->uid_maps[0].size == 65536, "uidMappings");
	check(c->n_devices == 1 && c->devices[0].type == 'c' && c->devices[0].major == 10 && c->devices[0].mode == 0666,
	      "linux.devices");
	check(c->n_sysctl == 1 && strcmp(c->sysctl[0].value, "1") == 0 &&
		  c->rootfs_propagation == (MS_PRIVATE | MS_REC),
	      "sysctl, rootfsPropagation");
	check(strcmp(c->cgroups_path, "/a/b") == 0 && c->masked_paths[0] && c->readonly_paths[0], "cgroupsPath, paths");

	check(bad("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[],\"cwd\":\"/\"}}",
		  "config.json: process.args: must be a non-empty array of strings"),
	      "empty process.args refused, field named");
	check(bad("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"rel\"}}",
		  "config.json: process.cwd: must be an absolute path"),
	      "relative cwd refused");
	check(bad("{\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}}", "config.json: root: missing"), "missing root");
	check(bad("{\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"x\"}]}",
		  "config.json: mounts[0].destination: must be an absolute path"),
	      "relative mount destination refused");
	check(bad("{\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}",
		  "config.json: linux.namespaces[0].type: unknown namespace \"bogus\""),
	      "unknown namespace refused");
	check(bad("{\"root\":{\"path\":\"r\"},\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
		  "duplicate namespace"),
	      "duplicate namespace refused");
	check(bad("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
		  "\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]}}",
		  "unknown rlimit \"RLIMIT_BOGUS\""),
	      "unknown rlimit refused");
	check(bad("{\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"oomScoreAdj\":5000}}",
		  "process.oomScoreAdj: must be between -1000 and 1000"),
	      "oomScoreAdj range");
	check(bad("{\"root\":{\"path\":\"r\"},\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"timeout\":0}]}}",
		  "hooks.prestart[0].timeout: must be positive"),
	      "hook timeout must be positive");
	check(bad("{\"root\":", "config.json: invalid JSON"), "truncated JSON");

	check(zs_validate_id("abc_1+2-3.x", NULL) == 0, "valid id");
	check(zs_validate_id("-lead", NULL) == 0, "leading dash allowed by the pattern");
	check(zs_validate_id("", NULL) < 0 && zs_validate_id(".hidden", NULL) < 0 && zs_validate_id("a/b", NULL) < 0 &&
		  zs_validate_id("..", NULL) < 0 && zs_validate_id("a b", NULL) < 0,
	      "invalid ids refused");
	check(zs_signal_from_string("KILL") == SIGKILL && zs_signal_from_string("SIGTERM") == SIGTERM &&
		  zs_signal_from_string("9") == 9 && zs_signal_from_string("0") == 0 &&
		  zs_signal_from_string("sigusr1") == SIGUSR1,
	      "signal names and numbers");
	check(zs_signal_from_string("SIGFOO") < 0 && zs_signal_from_string("99") < 0 && zs_signal_from_string("") < 0,
	      "bad signals refused");
	return check_done();
}
