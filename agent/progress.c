/* zanshind — progress events of a move, streamed to the local client that
 * asked for it (`zanshin migrate` prints them): one frame
 *   {"type":"progress","move":ID,"phase":P,"bytes":N,"total":N,"rounds":N,"elapsed_us":N}
 * at every state change and at most five times a second while bytes
 * travel.  A client that went away (--no-wait, Ctrl-C) only ends them:
 * the move goes on. */
#define _GNU_SOURCE
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "agent.h"
#include "zanshin/utils.h"

#define PROGRESS_EVERY_S 0.2
#define PROGRESS_MAX_QUEUED (64 << 10)

static bool client_gone;
static double last;

void move_progress_reset(void)
{
	client_gone = false;
	last = 0;
}

void move_progress(struct agent *a, const struct move *m, const char *phase, uint64_t done, uint64_t total, bool force)
{
	cleanup_jgen zs_jgen *g = NULL;
	cleanup_error zs_error_t e = NULL;
	double t = now_s();
	int queued = 0;

	if (a->req == NULL || a->req->client == NULL || client_gone || m->id == NULL || phase == NULL)
		return;
	if (!force && t - last < PROGRESS_EVERY_S)
		return;
	/* a client that stopped reading (suspended) never blocks the move:
	 * events wait in the socket's buffer only up to a bound */
	if (ioctl(a->req->client->fd, SIOCOUTQ, &queued) == 0 && queued > PROGRESS_MAX_QUEUED)
		return;
	last = t;
	g = zs_jgen_new(false);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "progress");
	zs_jgen_kv_string(g, "move", m->id);
	zs_jgen_kv_string(g, "phase", phase);
	zs_jgen_key(g, "bytes");
	zs_jgen_uint(g, done);
	zs_jgen_key(g, "total");
	zs_jgen_uint(g, total);
	zs_jgen_key(g, "rounds");
	zs_jgen_uint(g, m->n_rounds);
	zs_jgen_kv_int(g, "elapsed_us", (long long) ((t - m->started) * 1e6));
	zs_jgen_map_close(g);
	if (zs_frame_send_gen(a->req->client, g, &e) < 0)
		client_gone = true;
}
