/* zanshind --insecure-loopback: plaintext between agents, for benchmarks
 * that compare transports (TLS against none).  Nothing is encrypted or
 * authenticated: a peer's node name is what it claims in a `hello` frame.
 * So it is refused unless no other machine can reach this agent:
 *   - the agent's network namespace has no route through a gateway (IPv4
 *     and IPv6) and no interfaces but loopback, veth, bridge and tun ones
 *     (a test's own namespaces: a host's namespace has a physical
 *     interface), or --listen and every --peer are loopback addresses;
 *   - every connection, accepted or made, is from/to a loopback address
 *     or an address on one of this namespace's own subnets.
 * See docs/agent.md ("Plaintext for benchmarks"). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define RTF_GATEWAY_FLAG 0x0002

static bool addr_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			return a->s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(a);
	}
	return false;
}

static bool same_subnet(const struct sockaddr *a, const struct sockaddr *b, const struct sockaddr *mask)
{
	const unsigned char *pa, *pb, *pm;
	size_t n, i;

	if (a->sa_family != b->sa_family || mask == NULL || mask->sa_family != a->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		pa = (const unsigned char *) &((const struct sockaddr_in *) a)->sin_addr;
		pb = (const unsigned char *) &((const struct sockaddr_in *) b)->sin_addr;
		pm = (const unsigned char *) &((const struct sockaddr_in *) mask)->sin_addr;
		n = 4;
	} else if (a->sa_family == AF_INET6) {
		pa = ((const struct sockaddr_in6 *) a)->sin6_addr.s6_addr;
		pb = ((const struct sockaddr_in6 *) b)->sin6_addr.s6_addr;
		pm = ((const struct sockaddr_in6 *) mask)->sin6_addr.s6_addr;
		n = 16;
	} else {
		return false;
	}
	for (i = 0; i < n; i++)
		if ((pa[i] & pm[i]) != (pb[i] & pm[i]))
			return false;
	return true;
}

/* SA is loopback or on a subnet of one of this namespace's addresses. */
static bool addr_local(const struct sockaddr *sa)
{
	struct ifaddrs *ifs = NULL, *i;
	bool ok = addr_loopback(sa);

	if (ok || getifaddrs(&ifs) < 0)
		return ok;
	for (i = ifs; i && !ok; i = i->ifa_next)
		if (i->ifa_addr && same_subnet(sa, i->ifa_addr, i->ifa_netmask))
			ok = true;
	freeifaddrs(ifs);
	return ok;
}

/* A route through a gateway in /proc/net/route (FLAGS in column 4, hex)
 * or /proc/net/ipv6_route (column 9, hex); an unreadable table counts as
 * one. */
static bool has_gateway_route(const char *table, int column, bool header)
{
	cleanup_file FILE *f = fopen(table, "re");
	char line[512];

	if (f == NULL)
		return errno != ENOENT; /* no IPv6 at all: no IPv6 route */
	if (header && fgets(line, sizeof(line), f) == NULL)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
		int col;
		for (col = 1; tok && col < column; col++)
			tok = strtok_r(NULL, " \t\n", &save);
		if (tok && (strtoul(tok, NULL, 16) & RTF_GATEWAY_FLAG))
			return true;
	}
	return false;
}

/* Every interface is loopback, veth, bridge or tun; *WHICH names the
 * first that is not. */
static bool virtual_links_only(char **which)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = ifs != NULL && fd >= 0;

	for (i = ifs; ok && i->if_index; i++) {
		struct ethtool_drvinfo di = {.cmd = ETHTOOL_GDRVINFO};
		struct ifreq ifr = {0};
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
		if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_LOOPBACK))
			continue;
		ifr.ifr_data = (void *) &di;
		if (ioctl(fd, SIOCETHTOOL, &ifr) == 0 &&
		    (strcmp(di.driver, "veth") == 0 || strcmp(di.driver, "bridge") == 0 ||
		     strcmp(di.driver, "tun") == 0))
			continue;
		*which = xstrdup(i->if_name);
		ok = false;
	}
	if (ifs)
		if_freenameindex(ifs);
	return ok;
}

static bool host_loopback(const char *host)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	bool ok;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return false;
	ok = res != NULL;
	for (ai = res; ai; ai = ai->ai_next)
		ok = ok && addr_loopback(ai->ai_addr);
	freeaddrinfo(res);
	return ok;
}

static bool all_loopback(struct agent *a)
{
	cleanup_free char *host = NULL;
	const char *colon = strrchr(a->listen, ':');
	size_t i;

	if (colon == NULL)
		return false;
	host = a->listen[0] == '[' ? xasprintf("%.*s", (int) (colon - a->listen - 2), a->listen + 1)
				   : xasprintf("%.*s", (int) (colon - a->listen), a->listen);
	if (!host_loopback(host))
		return false;
	for (i = 0; i < a->n_peers; i++)
		if (!host_loopback(a->peers[i].host))
			return false;
	return true;
}

int insecure_check(struct agent *a, zs_error_t *err)
{
	cleanup_free char *link = NULL;

	/* the coordinator link is TLS with --cert/--key, and the peers it
	 * names were never checked to be loopback */
	if (a->coordinator)
		return zs_make_error(err, -EINVAL,
				     "--insecure-loopback: refused: --coordinator is given (its link is TLS)");
	if (all_loopback(a))
		goto ok;
	if (has_gateway_route("/proc/net/route", 4, true) || has_gateway_route("/proc/net/ipv6_route", 9, false))
		return zs_make_error(err, -EPERM,
				     "--insecure-loopback: refused: this network namespace has a route through a "
				     "gateway (other machines may reach it)");
	if (!virtual_links_only(&link))
		return zs_make_error(err, -EPERM,
				     "--insecure-loopback: refused: interface `%s` is not loopback, veth, bridge or "
				     "tun (other machines may reach it)",
				     link ? link : "?");
ok:
	zs_log("warning", "--insecure-loopback: plaintext and unauthenticated between agents (benchmarks only)");
	return 0;
}

static int check_peer_addr(int fd, const char *who, zs_error_t *err)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST] = "?";

	if (getpeername(fd, (struct sockaddr *) &ss, &len) < 0)
		return zs_make_error(err, errno, "getpeername (%s)", who);
	if (addr_local((struct sockaddr *) &ss))
		return 0;
	getnameinfo((struct sockaddr *) &ss, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	return zs_make_error(err, -EACCES,
			     "--insecure-loopback: %s at %s is neither loopback nor on this namespace's own subnets",
			     who, host);
}

int insecure_accept(struct agent *a, int fd, struct zs_conn *c, zs_error_t *err)
{
	cleanup_json zs_json *hello = NULL;
	const char *node;

	c->fd = fd;
	c->tls = NULL;
	c->peer = NULL;
	conn_set_timeout(fd, a->io_timeout);
	if (check_peer_addr(fd, "a connecting peer", err) < 0 || zs_frame_expect(c, "hello", &hello, err) < 0)
		return -1;
	node = zs_json_string_value(zs_json_get(hello, "node"));
	if (node == NULL || !valid_name(node))
		return zs_make_error(err, -EINVAL, "hello: invalid node name");
	c->peer = xstrdup(node);
	return 0;
}

int insecure_connect(struct agent *a, const struct agent_peer *p, struct zs_conn *c, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	int fd = agent_tcp_connect(a, p, err);

	if (fd < 0)
		return -1;
	c->fd = fd;
	if (check_peer_addr(fd, p->name, err) < 0)
		return -1;
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "hello");
	zs_jgen_kv_string(g, "node", a->node);
	zs_jgen_map_close(g);
	if (zs_frame_send_gen(c, g, err) < 0)
		return -1;
	c->peer = xstrdup(p->name);
	return 0;
}
