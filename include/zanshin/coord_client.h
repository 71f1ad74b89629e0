/* zanshin — a client of the coordinator's API (zanshin-api, HTTPS/JSON,
 * libcurl): used by the node agent (heartbeats, move reports; with its
 * node certificate) and by `zanshin cluster` (a bearer token or an admin
 * certificate). */
#ifndef ZANSHIN_COORD_CLIENT_H
#define ZANSHIN_COORD_CLIENT_H

#include "zanshin/error.h"

#define ZS_COORD_MAX_URLS 8

struct zs_coord_client {
	const char *url;	/* https://HOST:PORT, or replicas: https://A:P,https://B:P */
	const char *name;	/* the name the coordinator's certificate must carry (default: URL's host) */
	const char *ca;		/* the cluster CA (PEM) */
	const char *cert, *key; /* client certificate (a node's, an admin's), or NULL */
	const char *token;	/* bearer token, or NULL */
	long timeout_s;		/* whole request (default 30) */
};

/* METHOD PATH (e.g. "/v1/nodes") with BODY (JSON, may be NULL); *STATUS
 * gets the HTTP status and *OUT the answer's body.  < 0 only when no
 * answer came (connection, TLS). */
int zs_coord_request(const struct zs_coord_client *c, const char *method, const char *path, const char *body,
		     long *status, char **out, zs_error_t *err);
/* The same, and a status >= 400 becomes an error carrying the API's own
 * message ({"error": ...}). */
int zs_coord_call(const struct zs_coord_client *c, const char *method, const char *path, const char *body, char **out,
		  zs_error_t *err);

#endif
