# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Sourced by tests/package/deb.sh once the package is installed: the
# cluster's pieces in it (issue 14, coordinator completeness item 2).
#   - zanshind and zanshin-api on root's default PATH (/usr/sbin), their
#     man pages, their systemd units naming those binaries, their settings
#     as conffiles and as examples, the dependencies of both binaries
#     (libmicrohttpd, libcurl, libsqlite3, libpq, libical) in Depends;
#   - the installed zanshin-api runs with the packaged
#     /etc/zanshin/zanshin-api.conf (plus a test certificate and a database
#     of the test's): it serves its web page from /usr/share/zanshin-api/web
#     and the API to a token.
# deb_cluster_purged prints what the purge left of them.
DEB_CLUSTER_FILES=(/usr/sbin/zanshind /usr/sbin/zanshin-api /lib/systemd/system/zanshind.service
	/lib/systemd/system/zanshin-api.service /etc/default/zanshind /usr/share/zanshin-api
	/usr/share/man/man8/zanshin-api.8.gz /usr/share/man/man8/zanshind.8.gz)

deb_cluster_checks() { # DEB
	local deb=$1 out b m unit exe cf pid port code
	out=$(dpkg-deb -f "$deb" Depends 2>&1)
	if grep -q libmicrohttpd <<<"$out" && grep -q libcurl <<<"$out" && grep -q libsqlite3 <<<"$out" &&
		grep -q libpq <<<"$out" && grep -q libical <<<"$out"; then
		t_ok "Depends has the cluster's libraries (libmicrohttpd, libcurl, libsqlite3, libpq, libical)"
	else
		t_fail "Depends: the cluster's libraries" "$out"
	fi
	for b in zanshind zanshin-api; do
		if [ "$(u sh -c "command -v $b")" = "/usr/sbin/$b" ] && u "$b" --help | grep -q -- '--cert'; then
			t_ok "$b on root's default PATH: /usr/sbin/$b, --help"
		else
			t_fail "$b on PATH" "$(u sh -c "command -v $b; $b --help" 2>&1 | head -n 5)"
		fi
		m=$(u man -w "$b" 2>&1)
		if [ "$m" = "/usr/share/man/man8/$b.8.gz" ] && u sh -c "MANWIDTH=80 man $b 2>/dev/null" | grep -q -- '--cert'; then
			t_ok "man -w $b: $m; the page renders"
		else
			t_fail "man $b" "$m"
		fi
		unit=/lib/systemd/system/$b.service
		exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit" 2>/dev/null)
		if [ "$exe" = "/usr/sbin/$b" ] && [ -x "$exe" ] && ! grep -q /usr/local "$unit"; then
			t_ok "$unit runs $exe"
		else
			t_fail "$unit" "ExecStart: '$exe'" "$(cat "$unit" 2>&1 | head -n 30)"
		fi
	done
	u sh -c 'MANWIDTH=200 man zanshin-api 2>/dev/null' | grep -q -- '--move-mode' &&
		t_ok "zanshin-api(8) documents --move-mode" || t_fail "zanshin-api(8): --move-mode"
	cf=$(dpkg-query -W -f '${Conffiles}' zanshin 2>&1)
	if grep -q /etc/zanshin/zanshin-api.conf <<<"$cf" && grep -q /etc/default/zanshind <<<"$cf" &&
		[ -f /usr/share/doc/zanshin/examples/zanshin-api.conf ] && [ -f /usr/share/doc/zanshin/examples/zanshind.default ]; then
		t_ok "conffiles /etc/zanshin/zanshin-api.conf and /etc/default/zanshind, examples in /usr/share/doc/zanshin/examples"
	else
		t_fail "cluster conffiles and examples" "$cf" "$(ls /usr/share/doc/zanshin/examples 2>&1)"
	fi
	# the installed coordinator with the packaged settings
	"$top/scripts/zanshin-cert.sh" ca --out "$R/pki/ca" >/dev/null 2>&1 &&
		"$top/scripts/zanshin-cert.sh" node coord --ca "$R/pki/ca" --out "$R/pki/coord" >/dev/null 2>&1 ||
		{ t_fail "certificates for the coordinator"; return; }
	u zanshin-api --db "sqlite:$R/api.db" token create --role viewer --name pkg >"$R/api.tok" 2>"$R/api.err" ||
		{ t_fail "zanshin-api token create" "$(cat "$R/api.err")"; return; }
	port=
	for p in $(shuf -i 30000-39999 -n 20); do
		if ! ss -Htln "sport = :$p" | grep -q .; then port=$p; break; fi
	done
	# env execs zanshin-api: $! is its pid (u, a function, would leave it behind)
	env -i HOME=/root PATH="$DEFPATH" zanshin-api --config /etc/zanshin/zanshin-api.conf --listen "127.0.0.1:$port" --db "sqlite:$R/api.db" \
		--cert "$R/pki/coord/coord.pem" --key "$R/pki/coord/coord-key.pem" --ca "$R/pki/ca/ca.pem" \
		--log "$R/api.log" --policy-interval 0 &
	pid=$!
	code=
	for _ in $(seq 50); do
		code=$(curl -s -o "$R/index.html" -w '%{http_code}' --cacert "$R/pki/ca/ca.pem" \
			--resolve "coord:$port:127.0.0.1" "https://coord:$port/") && [ "$code" = 200 ] && break
		sleep 0.2
	done
	if [ "$code" = 200 ] && cmp -s "$R/index.html" /usr/share/zanshin-api/web/index.html; then
		t_ok "the installed zanshin-api with /etc/zanshin/zanshin-api.conf serves its page from /usr/share/zanshin-api/web"
	else
		t_fail "the installed zanshin-api serves its page" "HTTP '$code'" "$(tail -n 5 "$R/api.log" 2>&1)"
	fi
	out=$(curl -s --cacert "$R/pki/ca/ca.pem" --resolve "coord:$port:127.0.0.1" \
		-H "Authorization: Bearer $(head -n1 "$R/api.tok")" "https://coord:$port/v1/status")
	jq -e '.leader == true' <<<"$out" >/dev/null 2>&1 && t_ok "and its API: /v1/status $out" ||
		t_fail "the installed zanshin-api's API" "$out"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

deb_cluster_purged() {
	local f
	for f in "${DEB_CLUSTER_FILES[@]}"; do [ -e "$f" ] && echo -n " $f"; done
	return 0
}
