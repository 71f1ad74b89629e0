/* zanshin-api — who is calling: a client certificate verified against
 * the cluster CA (its CN is a node, or an admin when listed in
 * --admin-cn), or a bearer token (`zanshin-api token create`), stored
 * as its SHA-256 only.  Anything else is refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "zanshin/utils.h"

char *random_id(const char *prefix)
{
	unsigned char b[12];
	char hex[2 * sizeof(b) + 1];

	if (gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof(b)) < 0)
		abort();
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	return xasprintf("%s%s", prefix, hex);
}

char *sha256_hex(const char *s)
{
	unsigned char d[32];
	char hex[65];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, s, strlen(s), d) < 0)
		abort();
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return xstrdup(hex);
}

static const char *cert_problem(unsigned status)
{
	if (status & GNUTLS_CERT_EXPIRED)
		return "it has expired";
	if (status & GNUTLS_CERT_NOT_ACTIVATED)
		return "it is not valid yet";
	if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
		return "it is not signed by this cluster's CA";
	if (status & GNUTLS_CERT_REVOKED)
		return "it is revoked";
	return "verification failed";
}

static int cert_cn(gnutls_session_t s, char *cn, size_t size, zs_error_t *err)
{
	const gnutls_datum_t *list;
	unsigned n = 0, status = 0;
	gnutls_x509_crt_t crt;
	size_t sz = size - 1;
	int r;

	r = gnutls_certificate_verify_peers2(s, &status);
	if (r < 0 || status != 0)
		return zs_make_error(err, -EACCES, "client certificate refused: %s",
				     r < 0 ? gnutls_strerror(r) : cert_problem(status));
	list = gnutls_certificate_get_peers(s, &n);
	if (gnutls_x509_crt_init(&crt) < 0)
		abort();
	r = gnutls_x509_crt_import(crt, &list[0], GNUTLS_X509_FMT_DER);
	if (r == 0)
		r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &sz);
	gnutls_x509_crt_deinit(crt);
	if (r < 0)
		return zs_make_error(err, -EACCES, "client certificate: no common name");
	cn[sz] = '\0';
	if (!valid_node_name(cn))
		return zs_make_error(err, -EACCES, "client certificate: common name `%s` is not a valid node name", cn);
	return 0;
}

static int by_cert(struct coord *co, gnutls_session_t s, struct who *who, zs_error_t *err)
{
	char cn[160];

	if (cert_cn(s, cn, sizeof(cn), err) < 0)
		return -1;
	for (size_t i = 0; i < co->n_admin_cn; i++)
		if (strcmp(co->admin_cn[i], cn) == 0) {
			who->role = WHO_ADMIN;
			snprintf(who->name, sizeof(who->name), "cert:%s", cn);
			return 0;
		}
	who->role = WHO_NODE;
	snprintf(who->name, sizeof(who->name), "%s", cn);
	return 0;
}

static int by_token(struct coord *co, const char *token, struct who *who, zs_error_t *err)
{
	cleanup_free char *h = sha256_hex(token);
	const char *p[] = {h};
	cleanup_dbres struct db_result *res = NULL;
	const char *role;

	if (db_exec(co->db, "SELECT id, role, name FROM tokens WHERE hash = $1", p, 1, &res, err) < 0)
		return -1;
	if (res->rows != 1)
		return zs_make_error(err, -EACCES, "unknown or revoked token");
	role = db_cell(res, 0, "role");
	who->role = role && strcmp(role, "admin") == 0 ? WHO_ADMIN : WHO_VIEWER;
	snprintf(who->name, sizeof(who->name), "token:%s%s%s%s", db_cell(res, 0, "id"),
		 db_cell(res, 0, "name") ? " (" : "", db_cell(res, 0, "name") ? db_cell(res, 0, "name") : "",
		 db_cell(res, 0, "name") ? ")" : "");
	return 0;
}

int auth_identify(struct coord *co, void *conn, struct who *who, int *status, zs_error_t *err)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	unsigned n = 0;

	const union MHD_ConnectionInfo *sc = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct who *cached = sc ? sc->socket_context : NULL;

	*who = (struct who){0};
	if (ci && ci->tls_session && gnutls_certificate_get_peers(ci->tls_session, &n) && n > 0) {
		*status = 403;
		if (cached && cached->role != WHO_NONE) {
			*who = *cached; /* verified at this connection's first request */
			return 0;
		}
		if (by_cert(co, ci->tls_session, who, err) < 0)
			return -1;
		if (cached)
			*cached = *who;
		return 0;
	}
	if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
		*status = 401;
		if (by_token(co, authz + 7, who, err) < 0) {
			if (zs_error_errno(*err) != EACCES)
				*status = 500;
			return -1;
		}
		return 0;
	}
	*status = 401;
	return zs_make_error(err, -EACCES, "authentication required: a bearer token or a client certificate");
}

/* ---- zanshin-api token create|list|revoke ---- */

static int token_create(struct coord *co, int argc, char **argv, zs_error_t *err)
{
	static const struct option opts[] = {{"role", 1, 0, 'r'}, {"name", 1, 0, 'n'}, {0, 0, 0, 0}};
	cleanup_free char *secret = NULL, *hash = NULL, *id = random_id("t");
	char ts[32];
	const char *role = NULL, *name = NULL;
	struct who me = {.role = WHO_ADMIN};
	int c;
	bool ok;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'r')
			role = optarg;
		else if (c == 'n')
			name = optarg;
		else
			return zs_make_error(err, -EINVAL, "token create: unknown option `%s`", argv[optind - 1]);
	}
	if (role == NULL || (strcmp(role, "admin") != 0 && strcmp(role, "viewer") != 0))
		return zs_make_error(err, -EINVAL, "token create: --role admin|viewer is required");
	if (name && (strlen(name) > 64 || strpbrk(name, "\n\r\"\\")))
		return zs_make_error(err, -EINVAL, "token create: --name: at most 64 characters, no quotes");
	secret = random_id("zst_");
	{
		char *more = random_id(secret);
		free(secret);
		secret = more;
	}
	hash = sha256_hex(secret);
	snprintf(ts, sizeof(ts), "%.3f", coord_now());
	snprintf(me.name, sizeof(me.name), "local:zanshin-api token create");
	{
		const char *p[] = {id, hash, role, name, ts};
		if (db_tx_begin(co->db, err) < 0)
			return -1;
		ok = db_exec(co->db, "INSERT INTO tokens(id, hash, role, name, created) VALUES ($1, $2, $3, $4, $5)", p,
			     5, NULL, err) == 0 &&
		     audit(co, &me, "token.create", id, role, err) == 0;
		if (db_tx_end(co->db, ok, err) < 0 || !ok)
			return -1;
	}
	printf("%s\n", secret);
	fprintf(stderr, "token %s (%s) created; the secret above is shown only once\n", id, role);
	return 0;
}

static int token_list(struct coord *co, zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;

	if (db_exec(co->db, "SELECT id, role, name, created FROM tokens ORDER BY created", NULL, 0, &r, err) < 0)
		return -1;
	printf("%-28s %-7s %s\n", "ID", "ROLE", "NAME");
	for (size_t i = 0; i < r->rows; i++)
		printf("%-28s %-7s %s\n", db_cell(r, i, "id"), db_cell(r, i, "role"),
		       db_cell(r, i, "name") ? db_cell(r, i, "name") : "");
	return 0;
}

static int token_revoke(struct coord *co, const char *id, zs_error_t *err)
{
	const char *p[] = {id};
	struct who me = {.role = WHO_ADMIN, .name = "local:zanshin-api token revoke"};
	cleanup_dbres struct db_result *r = NULL;
	bool ok;

	if (db_tx_begin(co->db, err) < 0)
		return -1;
	ok = db_exec(co->db, "DELETE FROM tokens WHERE id = $1", p, 1, &r, err) == 0 &&
	     (r->changed == 1 || zs_make_error(err, -ENOENT, "no token `%s`", id) == 0) &&
	     audit(co, &me, "token.revoke", id, NULL, err) == 0;
	if (db_tx_end(co->db, ok, err) < 0 || !ok)
		return -1;
	return 0;
}

int token_main(struct coord *co, int argc, char **argv, zs_error_t *err)
{
	if (argc < 2)
		return zs_make_error(err, -EINVAL, "token: expected create|list|revoke");
	if (strcmp(argv[1], "create") == 0)
		return token_create(co, argc - 1, argv + 1, err);
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		return token_list(co, err);
	if (strcmp(argv[1], "revoke") == 0 && argc == 3)
		return token_revoke(co, argv[2], err);
	return zs_make_error(err, -EINVAL, "token: expected create --role R [--name N] | list | revoke ID");
}
