/* zanshind — mutual TLS 1.3 between agents (gnutls): both sides present a
 * certificate signed by the cluster CA; a peer's node name is the CN of its
 * certificate, never a name it claims; a client checks that the server's
 * certificate names the node it meant to reach. */
#define _GNU_SOURCE
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/utils.h"

/* TLS 1.3 only; AEAD ciphers, ECDHE key exchange (gnutls' NORMAL set). */
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

int tls_init(struct agent *a, zs_error_t *err)
{
	gnutls_certificate_credentials_t cred;
	int r;

	if (a->cert == NULL || a->key == NULL || a->ca == NULL)
		return zs_make_error(err, -EINVAL, "--cert, --key and --ca are required (mutual TLS between nodes)");
	r = gnutls_global_init();
	if (r < 0)
		return zs_make_error(err, -EIO, "gnutls: %s", gnutls_strerror(r));
	r = gnutls_certificate_allocate_credentials(&cred);
	if (r < 0)
		return zs_make_error(err, -ENOMEM, "gnutls: %s", gnutls_strerror(r));
	r = gnutls_certificate_set_x509_trust_file(cred, a->ca, GNUTLS_X509_FMT_PEM);
	if (r <= 0) {
		gnutls_certificate_free_credentials(cred);
		return zs_make_error(err, -EINVAL, "--ca `%s`: %s", a->ca,
				     r == 0 ? "no certificate in the file" : gnutls_strerror(r));
	}
	r = gnutls_certificate_set_x509_key_file(cred, a->cert, a->key, GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		gnutls_certificate_free_credentials(cred);
		return zs_make_error(err, -EINVAL, "--cert `%s` / --key `%s`: %s", a->cert, a->key, gnutls_strerror(r));
	}
	a->tls = cred;
	return 0;
}

void conn_set_timeout(int fd, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int new_session(struct agent *a, unsigned flags, int fd, gnutls_session_t *out, zs_error_t *err)
{
	gnutls_session_t s;
	int r;

	r = gnutls_init(&s, flags);
	if (r < 0)
		return zs_make_error(err, -ENOMEM, "gnutls_init: %s", gnutls_strerror(r));
	r = gnutls_priority_set_direct(s, PRIORITY, NULL);
	if (r == 0)
		r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, (gnutls_certificate_credentials_t) a->tls);
	if (r < 0) {
		gnutls_deinit(s);
		return zs_make_error(err, -EINVAL, "gnutls: %s", gnutls_strerror(r));
	}
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, (unsigned) a->io_timeout * 1000);
	*out = s;
	return 0;
}

/* The CN of the peer's (verified) certificate. */
static int peer_cn(gnutls_session_t s, char **name, zs_error_t *err)
{
	const gnutls_datum_t *list;
	unsigned n = 0, status = 0;
	gnutls_x509_crt_t crt;
	char buf[256];
	size_t sz = sizeof(buf) - 1;
	int r;

	r = gnutls_certificate_verify_peers2(s, &status);
	if (r < 0 || status != 0)
		return zs_make_error(err, -EACCES, "peer certificate not valid for this cluster's CA%s",
				     r < 0 ? "" : " (verification failed)");
	list = gnutls_certificate_get_peers(s, &n);
	if (list == NULL || n == 0)
		return zs_make_error(err, -EACCES, "the peer presented no certificate");
	if (gnutls_x509_crt_init(&crt) < 0)
		return zs_make_error(err, -ENOMEM, "gnutls_x509_crt_init");
	r = gnutls_x509_crt_import(crt, &list[0], GNUTLS_X509_FMT_DER);
	if (r == 0)
		r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &sz);
	gnutls_x509_crt_deinit(crt);
	if (r < 0)
		return zs_make_error(err, -EACCES, "peer certificate: no common name (%s)", gnutls_strerror(r));
	buf[sz] = '\0';
	if (!valid_name(buf))
		return zs_make_error(err, -EACCES, "peer certificate: common name `%s` is not a valid node name", buf);
	*name = xstrdup(buf);
	return 0;
}

static int handshake(gnutls_session_t s, const char *who, zs_error_t *err)
{
	int r;

	do
		r = gnutls_handshake(s);
	while (r < 0 && gnutls_error_is_fatal(r) == 0);
	if (r < 0)
		return zs_make_error(err, -EACCES, "TLS handshake with %s failed: %s", who, gnutls_strerror(r));
	return 0;
}

int tls_accept(struct agent *a, int fd, struct zs_conn *c, zs_error_t *err)
{
	gnutls_session_t s;

	c->fd = fd;
	c->tls = NULL;
	c->peer = NULL;
	conn_set_timeout(fd, a->io_timeout);
	if (new_session(a, GNUTLS_SERVER, fd, &s, err) < 0)
		return -1;
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_cert(s, NULL, 0);
	c->tls = s;
	if (handshake(s, "a connecting peer", err) < 0 || peer_cn(s, &c->peer, err) < 0)
		return -1;
	return 0;
}

const struct agent_peer *agent_peer(struct agent *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->n_peers; i++)
		if (strcmp(a->peers[i].name, name) == 0)
			return &a->peers[i];
	return coord_peer(a, name);
}

static int tcp_connect(struct agent *a, const struct agent_peer *p, zs_error_t *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	int fd = -1, r, e = 0;

	r = getaddrinfo(p->host, p->port, &hints, &res);
	if (r != 0)
		return zs_make_error(err, -EHOSTUNREACH, "node %s: address %s:%s: %s", p->name, p->host, p->port,
				     gai_strerror(r));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		conn_set_timeout(fd, a->io_timeout);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return zs_make_error(err, e ? e : EHOSTUNREACH, "cannot connect to node %s at %s:%s", p->name, p->host,
				     p->port);
	return fd;
}

int tls_connect(struct agent *a, const char *name, struct zs_conn *c, zs_error_t *err)
{
	const struct agent_peer *p = agent_peer(a, name);
	gnutls_session_t s;
	int fd;

	c->fd = -1;
	c->tls = NULL;
	c->peer = NULL;
	if (p == NULL)
		return zs_make_error(err, -ENOENT, "unknown node `%s` (not a --peer of node %s)", name, a->node);
	fd = tcp_connect(a, p, err);
	if (fd < 0)
		return -1;
	c->fd = fd;
	if (new_session(a, GNUTLS_CLIENT, fd, &s, err) < 0)
		return -1;
	/* the server's certificate must be the CA's and name NAME (CN/SAN) */
	gnutls_session_set_verify_cert(s, name, 0);
	c->tls = s;
	if (handshake(s, name, err) < 0 || peer_cn(s, &c->peer, err) < 0)
		return zs_error_wrap(err, "node %s", name);
	if (strcmp(c->peer, name) != 0)
		return zs_make_error(err, -EACCES, "node %s presented the certificate of node %s", name, c->peer);
	return 0;
}
