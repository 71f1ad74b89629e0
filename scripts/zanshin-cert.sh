#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The cluster's certificates for zanshind's mutual TLS, made with GnuTLS'
# certtool (Debian package gnutls-bin).  See docs/agent.md "Certificates".
#
#   zanshin-cert.sh ca --out DIR [--days N]
#       DIR/ca.pem (the cluster CA, give it to every agent as --ca) and
#       DIR/ca-key.pem (keep it off the nodes).
#   zanshin-cert.sh node NAME --ca DIR --out DIR [--days N]
#       DIR/NAME.pem and DIR/NAME-key.pem: a certificate whose CN and DNS
#       subject alternative name are NAME (the node name an agent is known
#       by: peers identify it by this name, never by its address), signed
#       by the CA in the --ca DIR, usable as TLS server and client.
# Keys are ECDSA P-256, written 0600. Existing files are never replaced.
set -eu

die() { echo "zanshin-cert: $*" >&2; exit 1; }
command -v certtool >/dev/null 2>&1 || die "certtool not found (apt-get install gnutls-bin)"

cmd=${1:-}
[ $# -gt 0 ] && shift
name=
if [ "$cmd" = node ]; then
	[ $# -gt 0 ] || die "node: NAME missing"
	name=$1
	shift
	case $name in
	"" | . | .. | *[!A-Za-z0-9._+-]*) die "node: invalid node name '$name' (letters, digits, . _ + -)" ;;
	esac
fi
out= ca= days=365
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=${2:?}; shift 2 ;;
	--ca) ca=${2:?}; shift 2 ;;
	--days) days=${2:?}; shift 2 ;;
	*) die "unknown argument '$1'" ;;
	esac
done
case $days in "" | *[!0-9]*) die "--days must be a number" ;; esac
[ -n "$out" ] || die "--out DIR is required"
mkdir -p "$out"
umask 077
tmpl=$(mktemp)
trap 'rm -f "$tmpl"' EXIT

case $cmd in
ca)
	[ ! -e "$out/ca.pem" ] && [ ! -e "$out/ca-key.pem" ] || die "$out/ca.pem or ca-key.pem exists already"
	cat >"$tmpl" <<EOT
cn = "zanshin cluster CA"
ca
cert_signing_key
crl_signing_key
expiration_days = $days
EOT
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$out/ca-key.pem" 2>/dev/null
	certtool --generate-self-signed --load-privkey "$out/ca-key.pem" --template "$tmpl" \
		--outfile "$out/ca.pem" 2>/dev/null
	chmod 0644 "$out/ca.pem"
	echo "$out/ca.pem"
	;;
node)
	[ -n "$ca" ] || die "node: --ca DIR is required"
	[ -r "$ca/ca.pem" ] && [ -r "$ca/ca-key.pem" ] || die "node: $ca/ca.pem and $ca/ca-key.pem are required"
	[ ! -e "$out/$name.pem" ] && [ ! -e "$out/$name-key.pem" ] || die "$out/$name.pem or its key exists already"
	cat >"$tmpl" <<EOT
cn = "$name"
dns_name = "$name"
tls_www_server
tls_www_client
signing_key
encryption_key
expiration_days = $days
EOT
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$out/$name-key.pem" 2>/dev/null
	certtool --generate-certificate --load-privkey "$out/$name-key.pem" --load-ca-certificate "$ca/ca.pem" \
		--load-ca-privkey "$ca/ca-key.pem" --template "$tmpl" --outfile "$out/$name.pem" 2>/dev/null
	chmod 0644 "$out/$name.pem"
	echo "$out/$name.pem"
	;;
*) die "usage: zanshin-cert.sh ca --out DIR | node NAME --ca DIR --out DIR [--days N]" ;;
esac
