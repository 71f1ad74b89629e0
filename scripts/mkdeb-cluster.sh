# shellcheck shell=sh
# Sourced by scripts/mkdeb.sh ($B the build tree, $S the staged root, inst):
# the cluster's binaries in the package — zanshind (the node agent) and
# zanshin-api (the coordinator) in /usr/sbin, their systemd units (the
# source's, with the package's paths), the coordinator's web page in
# /usr/share/zanshin-api/web, their settings as conffiles with commented
# examples (/etc/zanshin/zanshin-api.conf, /etc/default/zanshind; the
# units are installed, not enabled: both need certificates first), and
# copies of those in the documentation's examples.  Man pages come with
# the others (docs/man/*.md).
for b in zanshind zanshin-api; do
	[ -x "$B/bin/$b" ] || { echo "mkdeb: $B/bin/$b missing: make all" >&2; exit 1; }
	inst 0755 "$B/bin/$b" "usr/sbin/$b"
done
mkdir -p "$B/deb/units"
for u in agent/zanshind.service coordinator/zanshin-api.service; do
	sed 's#/usr/local/sbin/#/usr/sbin/#g' "$top/$u" >"$B/deb/units/${u##*/}"
	grep -q '/usr/local' "$B/deb/units/${u##*/}" && { echo "mkdeb: $u: a /usr/local path is left" >&2; exit 1; }
	inst 0644 "$B/deb/units/${u##*/}" "lib/systemd/system/${u##*/}"
done
for f in "$top"/coordinator/web/*; do
	inst 0644 "$f" "usr/share/zanshin-api/web/${f##*/}"
done
inst 0644 "$top/packaging/etc/zanshin-api.conf" etc/zanshin/zanshin-api.conf
inst 0644 "$top/packaging/etc/default-zanshind" etc/default/zanshind
inst 0644 "$top/packaging/etc/zanshin-api.conf" usr/share/doc/zanshin/examples/zanshin-api.conf
inst 0644 "$top/packaging/etc/default-zanshind" usr/share/doc/zanshin/examples/zanshind.default
for f in docs/coordinator.md docs/agent.md; do
	[ -f "$top/$f" ] && inst 0644 "$top/$f" "usr/share/doc/zanshin/${f##*/}"
done
