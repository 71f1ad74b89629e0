/* Unit tests for lib/sync_msg.c (TAP), issue 18 item 2: the messages the
 * runtime's child sends from inside the container are untrusted.  Before,
 * `struct zs_sync_msg`'s msg[4000] was printed with %s as received, so a
 * child driven by the container (through the ptrace window of item 1) could
 * send 4000 bytes without a NUL and the root process printed its own stack
 * after them.  Here: full unterminated buffers, every byte value, packets of
 * the wrong size, unknown types and numbers out of range, over a real
 * SOCK_SEQPACKET socketpair as the runtime uses; the result must be bounded,
 * NUL-terminated and printable, or an error.
 *
 * runc 1.1.5 for comparison: its sync pipe carries JSON (syncT, decoded by
 * encoding/json into typed fields) and its log pipe JSON lines that the
 * parent re-encodes through logrus; Go strings carry their length, so there
 * is no over-read, and logrus quotes control characters in text logs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zanshin/linux.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#include "check.h"

/* NUL within the buffer and only printable ASCII before it */
static bool clean(const char *s, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++) {
		if (s[i] == '\0')
			return true;
		if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] >= 0x7f)
			return false;
	}
	return false;
}

static struct zs_sync_msg raw_msg(int type, int err_no, char fill)
{
	struct zs_sync_msg r;

	memset(&r, fill, sizeof(r));
	r.type = type;
	r.err_no = err_no;
	return r;
}

static void test_unterminated(void)
{
	struct zs_sync_msg r = raw_msg(ZS_SYNC_ERROR, EPERM, 'A'), m;
	zs_error_t err = NULL;
	size_t i;
	bool all_a = true;

	check(zs_sync_decode(&r, sizeof(r), &m, &err) == 0, "4000 bytes without a NUL: accepted");
	check(clean(m.msg, sizeof(m.msg)), "4000 bytes without a NUL: terminated and printable");
	check(strlen(m.msg) == sizeof(m.msg) - 1, "4000 bytes without a NUL: cut to 3999");
	for (i = 0; i < strlen(m.msg); i++)
		all_a &= m.msg[i] == 'A';
	check(all_a && m.type == ZS_SYNC_ERROR && m.err_no == EPERM, "4000 bytes without a NUL: content kept");
	zs_error_release(&err);
}

static void test_garbage(void)
{
	struct zs_sync_msg r = raw_msg(ZS_SYNC_ERROR, 0, 0), m;
	zs_error_t err = NULL;
	size_t i;

	for (i = 0; i < sizeof(r.msg); i++)
		r.msg[i] = (char) (1 + i % 255); /* every byte but NUL */
	check(zs_sync_decode(&r, sizeof(r), &m, &err) == 0, "garbage bytes: accepted");
	check(clean(m.msg, sizeof(m.msg)), "garbage bytes: terminated and printable");
	check(strncmp(m.msg, "\\x01\\x02", 8) == 0, "garbage bytes: control bytes shown as \\xNN");
	check(strstr(m.msg, " !\"#$%&'()*+,-./0123456789:;<=>?@ABC") != NULL, "garbage bytes: printable ASCII kept");
	check(strstr(m.msg, "\\x5c") != NULL && strstr(m.msg, "\\x7f\\x80") != NULL && strstr(m.msg, "\\xff") != NULL,
	      "garbage bytes: backslash, DEL and high bytes escaped");
	zs_error_release(&err);

	memcpy(r.msg, "bad \x1b[2J\x1b]0;owned\x07 tty\nline", 28);
	r.msg[28] = '\0';
	zs_sync_decode(&r, sizeof(r), &m, &err);
	check(strcmp(m.msg, "bad \\x1b[2J\\x1b]0;owned\\x07 tty\\x0aline") == 0, "terminal escapes are neutralised");
	memcpy(r.msg, "hello\0secret", 12);
	zs_sync_decode(&r, sizeof(r), &m, &err);
	check(strcmp(m.msg, "hello") == 0, "text stops at the first NUL");
}

static void test_sanitize_bounds(void)
{
	static const char full[] = "\\x01\\x02\\x03\\x04\\x05\\x06";
	char dst[32];
	size_t size, i;
	bool ok = true;

	for (size = 1; size < 24; size++) {
		memset(dst, '#', sizeof(dst));
		zs_sanitize_text(dst, size, "\x01\x02\x03\x04\x05\x06", 6);
		for (i = size; i < sizeof(dst); i++)
			ok &= dst[i] == '#';
		ok &= memchr(dst, '\0', size) != NULL && strlen(dst) % 4 == 0 && strncmp(dst, full, strlen(dst)) == 0;
	}
	check(ok, "zs_sanitize_text: stays within its buffer and cuts only whole escapes (sizes 1-23)");
}

static void expect_refused(int type, int err_no, size_t len, const char *name)
{
	struct zs_sync_msg r = raw_msg(type, err_no, 'x'), m;
	char big[sizeof(r) + 64];
	zs_error_t err = NULL;
	int ret;

	memset(big, 'x', sizeof(big));
	memcpy(big, &r, sizeof(r));
	ret = zs_sync_decode(big, len, &m, &err);
	check(ret < 0 && err && strstr(zs_error_msg(err), "sync socket") && m.type == 0 && m.msg[0] == '\0', name);
	zs_error_release(&err);
}

static void test_validation(void)
{
	expect_refused(ZS_SYNC_ERROR, 1, sizeof(struct zs_sync_msg) - 1, "short packet refused");
	expect_refused(ZS_SYNC_ERROR, 1, 8, "header-only packet refused");
	expect_refused(ZS_SYNC_ERROR, 1, sizeof(struct zs_sync_msg) + 64, "oversized packet refused");
	expect_refused(0, 0, sizeof(struct zs_sync_msg), "type 0 refused");
	expect_refused(99, 0, sizeof(struct zs_sync_msg), "unknown type refused");
	expect_refused(-1, 0, sizeof(struct zs_sync_msg), "negative type refused");
	expect_refused(ZS_SYNC_ERROR, 1 << 30, sizeof(struct zs_sync_msg), "error with an errno out of range refused");
	expect_refused(ZS_SYNC_LOG, 4, sizeof(struct zs_sync_msg), "log line with an unknown level refused");
	expect_refused(ZS_SYNC_LOG, -1, sizeof(struct zs_sync_msg), "log line with a negative level refused");
	expect_refused(ZS_SYNC_HOOKS_DONE, 0, sizeof(struct zs_sync_msg), "hooks-done without a pid refused");
	expect_refused(ZS_SYNC_CREATED, 7, sizeof(struct zs_sync_msg), "created with a number refused");
}

/* Random packets: random sizes around the message's, random bytes, types
 * and numbers mostly in range: each is refused or decodes to a clean text. */
static void test_random(void)
{
	unsigned char buf[sizeof(struct zs_sync_msg) + 16];
	struct zs_sync_msg m;
	zs_error_t err = NULL;
	int i, accepted = 0, bad = 0;
	size_t j, len;

	srand(18);
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < sizeof(buf); j++)
			buf[j] = rand() & 0xff;
		len = i % 4 ? sizeof(struct zs_sync_msg) : (size_t) rand() % sizeof(buf);
		((int *) buf)[0] = rand() % 8 - 1;
		((int *) buf)[1] = rand() % 4 ? rand() % 8 : rand();
		if (zs_sync_decode(buf, len, &m, &err) == 0) {
			accepted++;
			bad += !clean(m.msg, sizeof(m.msg));
		}
		zs_error_release(&err);
	}
	check(accepted > 1000 && bad == 0, "20000 random packets: every accepted one has a clean text");
}

/* Over a real socket, as the child would send it. */
static void test_socket(void)
{
	struct zs_sync_msg r = raw_msg(ZS_SYNC_ERROR, ENOENT, 'B'), m;
	char big[sizeof(r) + 100];
	zs_error_t err = NULL;
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		check(0, "socketpair");
		return;
	}
	send(sp[1], &r, sizeof(r), 0);
	check(zs_sync_recv(sp[0], &m, &err) == 0 && clean(m.msg, sizeof(m.msg)) && strlen(m.msg) == sizeof(m.msg) - 1,
	      "socket: unterminated message received bounded and terminated");
	memset(big, 'C', sizeof(big));
	memcpy(big, &r, 8);
	send(sp[1], big, sizeof(big), 0);
	check(zs_sync_recv(sp[0], &m, &err) < 0 && strstr(zs_error_msg(err), "4108 bytes"),
	      "socket: oversized packet refused with its real size");
	zs_error_release(&err);
	send(sp[1], &r, 8, 0);
	check(zs_sync_recv(sp[0], &m, &err) < 0, "socket: short packet refused");
	zs_error_release(&err);
	close(sp[1]);
	check(zs_sync_recv(sp[0], &m, &err) == 0 && m.type == 0, "socket: EOF is type 0");
	close(sp[0]);
}

static bool file_has(const char *path, const char *needle, bool *has_esc)
{
	cleanup_free char *buf = NULL;
	zs_error_t err = NULL;
	size_t len;

	if (read_file(path, &buf, &len, &err) < 0) {
		zs_error_release(&err);
		return false;
	}
	*has_esc = memchr(buf, 0x1b, len) != NULL;
	return strstr(buf, needle) != NULL;
}

/* The child's side: log lines go over the socket (the log file is closed
 * in the child), the parent writes them sanitized to its own log. */
static void test_log_forwarding(void)
{
	char path[] = "/tmp/zs-sync-msg-test.XXXXXX";
	struct zs_sync_msg m;
	zs_error_t err = NULL;
	int sp[2], fd = mkstemp(path), status = -1;
	bool esc = true;
	pid_t pid;

	close(fd);
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp);
	pid = fork();
	if (pid == 0) {
		char link[64], target[4096];
		int i, child_sync = sp[1];
		zs_log_init(path, ZS_LOG_TEXT, false, NULL);
		zs_sync_log_to_parent(&child_sync);
		/* the log file is no longer open here */
		for (i = 3; i < 64; i++) {
			ssize_t l;
			snprintf(link, sizeof(link), "/proc/self/fd/%d", i);
			l = readlink(link, target, sizeof(target) - 1);
			if (l > 0 && (target[l] = '\0', strcmp(target, path) == 0))
				_exit(2);
		}
		zs_log("warning", "from the child \x1b[31mred\x1b[0m");
		zs_sync_send(child_sync, ZS_SYNC_ERROR, EIO, "done");
		_exit(0);
	}
	close(sp[1]);
	zs_log_init(path, ZS_LOG_TEXT, false, NULL);
	check(zs_sync_recv_reply(sp[0], &m, &err) == 0 && m.type == ZS_SYNC_ERROR && strcmp(m.msg, "done") == 0,
	      "log lines are forwarded, the next message returned");
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child closed its log file");
	check(file_has(path, "level=warning msg=\"from the child \\\\x1b[31mred\\\\x1b[0m\"", &esc) && !esc,
	      "forwarded line is in the parent's log, escapes neutralised");
	zs_log_init(NULL, ZS_LOG_TEXT, false, NULL);
	unlink(path);
	close(sp[0]);
}

int main(void)
{
	test_unterminated();
	test_garbage();
	test_sanitize_bounds();
	test_validation();
	test_random();
	test_socket();
	test_log_forwarding();
	return check_done();
}
