/* zanshin-api — the web page at / : three static files (coordinator/web/,
 * installed under --web-root), served to anyone who reaches the HTTPS port:
 * they hold no data.  The page itself reads /v1/... with the viewer's
 * token (given once as #token=... in the address) and updates itself. */
#define _GNU_SOURCE
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_view.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

static const struct {
	const char *url, *file, *type;
} files[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/index.html", "index.html", "text/html; charset=utf-8"},
    {"/app.js", "app.js", "text/javascript; charset=utf-8"},
    {"/style.css", "style.css", "text/css; charset=utf-8"},
};

static int answer(struct MHD_Connection *c, unsigned status, char *body, size_t len, const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	int ret;

	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int web_serve(struct coord *co, void *conn, const char *url, int *ret)
{
	const char *root = co->policy && co->policy->web_root ? co->policy->web_root : ZS_WEB_ROOT;
	cleanup_error zs_error_t err = NULL;
	char *body = NULL;
	size_t i, len = 0;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(url, files[i].url) == 0)
			break;
	if (i == sizeof(files) / sizeof(files[0]))
		return 0; /* not a file of the page: the API answers (404 outside /v1/) */
	{
		cleanup_free char *path = xasprintf("%s/%s", root, files[i].file);

		if (read_file(path, &body, &len, &err) < 0) {
			zs_log("error", "web page: %s", zs_error_msg(err));
			body = xasprintf("web page: %s missing (see --web-root)\n", path);
			*ret = answer(conn, 500, body, strlen(body), "text/plain; charset=utf-8");
			return 1;
		}
	}
	*ret = answer(conn, 200, body, len, files[i].type);
	return 1;
}
