#!/bin/bash
# The Debian package as a user gets it (issue 12, items 3 and 4):
#
#   tests/package/deb.sh     (TAP on stdout; root; installs and purges the
#                             package on this machine)
#
# Builds build/zanshin_<version>_<arch>.deb (make deb), installs it with
# `apt-get install ./…deb`, then, with root's default PATH and nothing of
# the build tree on it:
#   - zanshin is /usr/sbin/zanshin; `man -w zanshin` and `man -w 5
#     zanshin.json` find the pages; bash completion completes `zanshin che`
#     to checkpoint and `zanshin checkpoint --lea` to --leave-running;
#     /run/zanshin and /var/lib/zanshin are 0700; /etc/zanshin/zanshin.json
#     is a conffile zanshin accepts;
#   - `criu` on PATH is our CRIU (an alternative) when no other was there;
#   - Podman: `--runtime zanshin` resolves through the package's
#     containers.conf.d snippet; run -d, `podman container checkpoint` and
#     `restore` work (no criu put on PATH by the test: go-criu's probe finds
#     the package's);
#   - containerd: a containerd started here with the package's handler
#     imported (`imports = [...]`) shows it in `containerd config dump` and
#     loads the CRI plugin; ctr runs, checkpoints and restores a container
#     with --runc-binary /usr/sbin/zanshin;
#   - `apt-get purge zanshin` removes binaries, alternative, snippets and
#     conffiles, and keeps content of /var/lib/zanshin (the remnant store).
# Refuses to run (bail out) when a zanshin package is already installed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/oci-image.sh"
. "$top/tests/package/deb-cluster.sh"
export DEBIAN_FRONTEND=noninteractive
DEFPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
R=$(mktemp -d /tmp/zanshin-pkgtest.XXXXXX)
chmod 0711 "$R"
INSTALLED=0
CTD_PID=
NS=zanshin-pkg-$$
MARK=/var/lib/zanshin/zanshin-pkgtest-$$ # remnant-store content purge must keep
VARLIB_BEFORE=0
[ -d /var/lib/zanshin ] && VARLIB_BEFORE=1
P=(podman --root "$R/root" --runroot "$R/runroot" --tmpdir "$R/tmp" --storage-driver vfs
	--cgroup-manager cgroupfs --events-backend file --runtime zanshin)
RUNOPTS=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# as a user's root shell: default PATH, no build tree
u() { env -i HOME=/root PATH=$DEFPATH "$@"; }
p_() { u timeout 120 "${P[@]}" "$@"; }
ctr_() { u timeout 120 ctr -a "$R/sock" -n "$NS" "$@"; }
PODMAN_IDS=()
CTR_ID=zanshin-pkgtest-ctr-$$ # the ctr container (its remnants too)

cleanup() {
	local c
	if [ -d "$R/root" ]; then
		for c in $(p_ ps -aq 2>/dev/null); do p_ rm -f -t 0 "$c" >/dev/null 2>&1; done
	fi
	for c in $(pgrep -f "conmon .*$R/" 2>/dev/null); do kill -9 "$c" 2>/dev/null; done
	if [ -n "$CTD_PID" ]; then
		for c in $(ctr_ task ls -q 2>/dev/null); do ctr_ task kill -a -s SIGKILL "$c" >/dev/null 2>&1; done
		sleep 0.3
		for c in $(ctr_ task ls -q 2>/dev/null); do ctr_ task delete -f "$c" >/dev/null 2>&1; done
		for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1; done
		for c in $(pgrep -f "containerd-shim-runc-v2 .*$R/sock" 2>/dev/null); do kill -9 "$c" 2>/dev/null; done
		kill "$CTD_PID" 2>/dev/null
		# $! is the subshell that runs `u`; containerd may be its child
		pkill -f "containerd --config $R/config.toml" 2>/dev/null
		wait "$CTD_PID" 2>/dev/null
	fi
	[ "$INSTALLED" = 1 ] && apt-get purge -y -q zanshin >/dev/null 2>&1
	grep -F " $R/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	# what this test left in the machine's remnant store
	rm -rf "$MARK"
	for c in "${PODMAN_IDS[@]}" "$CTR_ID"; do rm -rf "/var/lib/zanshin/containers/$c"; done
	[ "$VARLIB_BEFORE" = 0 ] && { rmdir /var/lib/zanshin/containers /var/lib/zanshin 2>/dev/null; rm -f /var/lib/zanshin/.keeping; rmdir /var/lib/zanshin 2>/dev/null; }
	rm -rf "/run/containerd/runc/$NS"
	# whatever of the test's containers the engines did not stop (a restore
	# that ctr lost track of) lives in the namespace's cgroups: kill it
	for c in /sys/fs/cgroup/*/"$NS"; do
		[ -d "$c" ] && find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	sleep 0.2
	for c in /sys/fs/cgroup/*/"$NS"; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done
	rm -rf "$R"
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM
bail() { t_fail "$1" "${@:2}"; t_done; exit 1; }

[ "$(id -u)" = 0 ] || bail "root" "must run as root (it installs a package)"
if dpkg -s zanshin >/dev/null 2>&1; then
	echo "Bail out! a zanshin package is installed on this machine; this test installs and purges its own"
	exit 1
fi
# a criu that is not ours, already on PATH: the package must leave it alone
OTHER_CRIU=$(u sh -c 'command -v criu' || true)

# ---- docs/kubernetes.md shows what the package ships ----
doc=$top/docs/kubernetes.md
blk=$(awk '/^```toml$/ {n++; on = (n == 1); next} /^```$/ {on = 0} on' "$doc")
rc_handler=$(awk '/^```yaml$/ {n++; on = (n == 1); next} /^```$/ {on = 0} on' "$doc" |
	/usr/bin/python3 -c 'import sys, yaml; d = yaml.safe_load(sys.stdin); print(d["kind"], d["handler"])' 2>&1)
if [ "$blk" = "$(cat "$top/packaging/containerd/handler.toml")" ] && [ "$rc_handler" = "RuntimeClass zanshin" ] &&
	grep -q 'runtimes.zanshin\]' "$top/packaging/containerd/zanshin.toml"; then
	t_ok "docs/kubernetes.md: its handler tables are the package's file, its RuntimeClass names handler zanshin"
else
	t_fail "docs/kubernetes.md matches the package" "toml block differs from packaging/containerd/handler.toml or RuntimeClass: $rc_handler"
fi

# ---- build and install ----
out=$(cd "$top" && make -s deb 2>&1)
deb=$(tail -n1 <<<"$out")
if [ -f "$deb" ] && [[ $deb == */zanshin_*_*.deb ]]; then
	t_ok "make deb: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
else
	bail "make deb" "$out"
fi
out=$(dpkg-deb -f "$deb" Depends 2>&1)
if grep -q libyajl2 <<<"$out" && grep -q libseccomp2 <<<"$out"; then
	t_ok "the package's dependencies come from dpkg-shlibdeps ($out)"
else
	t_fail "the package's dependencies" "$out"
fi
cp "$deb" "$R/"
out=$(apt-get install -y -q "$R/$(basename "$deb")" 2>&1)
rc=$?
if [ $rc = 0 ] && dpkg -s zanshin >/dev/null 2>&1; then
	INSTALLED=1
	t_ok "apt-get install ./$(basename "$deb")"
else
	INSTALLED=1
	bail "apt-get install ./$(basename "$deb")" "$out"
fi
postinst_out=$out

# ---- what the user finds ----
if [ "$(u sh -c 'command -v zanshin')" = /usr/sbin/zanshin ] && u zanshin --version | grep -q '^zanshin version'; then
	t_ok "zanshin on root's default PATH: /usr/sbin/zanshin ($(u zanshin --version | head -n1))"
else
	t_fail "zanshin on root's default PATH" "$(u sh -c 'command -v zanshin; zanshin --version' 2>&1)"
fi
m8=$(u man -w zanshin 2>&1)
m5=$(u man -w 5 zanshin.json 2>&1)
if [ "$m8" = /usr/share/man/man8/zanshin.8.gz ] && [ "$m5" = /usr/share/man/man5/zanshin.json.5.gz ] &&
	u sh -c 'MANWIDTH=80 man zanshin 2>/dev/null' | grep -q 'checkpoint'; then
	t_ok "man -w zanshin: $m8; man -w 5 zanshin.json: $m5; the page renders"
else
	t_fail "man pages" "man -w zanshin: $m8" "man -w 5 zanshin.json: $m5"
fi
comp=/usr/share/bash-completion/completions/zanshin
c1=$(u bash -c "source $comp; COMP_WORDS=(zanshin che); COMP_CWORD=1; _zanshin; echo \"\${COMPREPLY[*]}\"" 2>&1)
c2=$(u bash -c "source $comp; COMP_WORDS=(zanshin checkpoint --lea); COMP_CWORD=2; _zanshin; echo \"\${COMPREPLY[*]}\"" 2>&1)
c3=$(u bash -c "source $comp; COMP_WORDS=(zanshin remnant ve); COMP_CWORD=2; _zanshin; echo \"\${COMPREPLY[*]}\"" 2>&1)
if [ "$c1" = checkpoint ] && [ "$c2" = --leave-running ] && [ "$c3" = verify ]; then
	t_ok "bash completion: 'zanshin che' -> $c1, 'zanshin checkpoint --lea' -> $c2, 'zanshin remnant ve' -> $c3"
else
	t_fail "bash completion" "che -> '$c1'" "checkpoint --lea -> '$c2'" "remnant ve -> '$c3'"
fi
modes=$(stat -c '%n %a' /run/zanshin /var/lib/zanshin 2>&1)
if [ "$(stat -c %a /run/zanshin 2>/dev/null)" = 700 ] && [ "$(stat -c %a /var/lib/zanshin 2>/dev/null)" = 700 ]; then
	t_ok "directories 0700: $(tr '\n' ' ' <<<"$modes")"
else
	t_fail "directories 0700" "$modes"
fi
cf=$(dpkg-query -W -f '${Conffiles}' zanshin 2>&1)
out=$(u zanshin --remnant-root "$R/store" remnant gc 2>&1)
rc=$?
if grep -q /etc/zanshin/zanshin.json <<<"$cf" && grep -q containers.conf.d/zanshin.conf <<<"$cf" &&
	grep -q conf.d/zanshin.toml <<<"$cf" && [ $rc = 0 ]; then
	t_ok "conffiles: zanshin.json (accepted by zanshin), the Podman and containerd snippets"
else
	t_fail "conffiles" "$cf" "zanshin with /etc/zanshin/zanshin.json: rc=$rc $out"
fi
if [ -n "$OTHER_CRIU" ]; then
	if [ "$(u sh -c 'command -v criu')" = "$OTHER_CRIU" ] && ! [ -L /etc/alternatives/criu ]; then
		t_ok "criu on PATH: $OTHER_CRIU was there and stays (no alternative)"
	else
		t_fail "criu on PATH: $OTHER_CRIU stays" "$(ls -l /etc/alternatives/criu 2>&1)" "$postinst_out"
	fi
elif [ "$(u sh -c 'command -v criu')" = /usr/sbin/criu ] && [ "$(readlink -f /usr/sbin/criu)" = /usr/libexec/zanshin/criu ] &&
	u criu --version | grep -q 'Version: 4'; then
	t_ok "criu on PATH: /usr/sbin/criu -> our /usr/libexec/zanshin/criu (alternative; $(u criu --version | head -n1))"
else
	t_fail "criu on PATH is ours" "$(u sh -c 'command -v criu; readlink -f /usr/sbin/criu' 2>&1)" "$postinst_out"
fi

# ---- Podman, as a user runs it ----
if command -v podman >/dev/null; then
	tarball=$(oci_image_tar) || bail "build OCI image tar" "tests/lib/oci-image.sh failed"
	p_ load -i "$tarball" >/dev/null 2>&1
	IMG=$OCI_IMAGE_REF
	rtpath=$(p_ info --format '{{.Host.OCIRuntime.Path}}' 2>&1)
	if [ "$rtpath" = /usr/sbin/zanshin ]; then
		t_ok "podman --runtime zanshin resolves to /usr/sbin/zanshin (containers.conf.d snippet)"
	else
		t_fail "podman --runtime zanshin resolves to /usr/sbin/zanshin" "$rtpath"
	fi
	# shellcheck disable=SC2016
	out=$(p_ run -d --name zpkg "${RUNOPTS[@]}" "$IMG" sh -c 'i=0; while :; do i=$((i+1)); echo $i >/count; sleep 0.2; done' 2>&1)
	id=$(p_ inspect -f '{{.Id}}' zpkg 2>/dev/null)
	[ -n "$id" ] && PODMAN_IDS+=("$id")
	sleep 1
	before=$(p_ exec zpkg cat /count 2>/dev/null)
	out=$(p_ container checkpoint zpkg 2>&1)
	rc=$?
	if [ $rc = 0 ] && [ "$(p_ inspect -f '{{.State.Status}}' zpkg 2>&1)" = exited ]; then
		t_ok "podman --runtime zanshin container checkpoint (no criu added to PATH by the test)"
	else
		t_fail "podman --runtime zanshin container checkpoint" "rc=$rc" "$out"
	fi
	out=$(p_ container restore zpkg 2>&1)
	rc=$?
	sleep 0.5
	after=$(p_ exec zpkg cat /count 2>/dev/null)
	if [ $rc = 0 ] && [ "$(p_ inspect -f '{{.State.Status}}' zpkg 2>&1)" = running ] && [ "${after:-0}" -ge "${before:-1}" ]; then
		t_ok "podman container restore: running, counts on ($before -> $after)"
	else
		t_fail "podman container restore" "rc=$rc count $before -> '$after'" "$out"
	fi
	p_ rm -f -t 0 zpkg >/dev/null 2>&1
else
	t_skip "Podman flow" "podman is not installed"
fi

# ---- containerd with the package's handler imported ----
if command -v containerd >/dev/null; then
	cat >"$R/config.toml" <<EOF
version = 2
root = "$R/ctd-root"
state = "$R/ctd-state"
imports = ["/etc/containerd/conf.d/zanshin.toml"]
[grpc]
  address = "$R/sock"
EOF
	dump=$(u containerd --config "$R/config.toml" config dump 2>&1)
	# section TABLE of the dump: its lines up to the next table
	section() { awk -v t="[$1]" '$1 == t {on = 1; next} /^ *\[/ {on = 0} on' <<<"$dump"; }
	if section 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.zanshin' | grep -q 'runtime_type = "io.containerd.runc.v2"' &&
		section 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.zanshin.options' | grep -q 'BinaryName = "/usr/sbin/zanshin"'; then
		t_ok "containerd config dump with the package's snippet imported: CRI handler zanshin (io.containerd.runc.v2, BinaryName /usr/sbin/zanshin)"
	else
		t_fail "containerd config dump shows the zanshin handler" "$(grep -n -A6 zanshin <<<"$dump" | head -20)"
	fi
	u containerd --config "$R/config.toml" >"$R/containerd.log" 2>&1 &
	CTD_PID=$!
	for _ in $(seq 100); do [ -S "$R/sock" ] && ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
	cri=$(ctr_ plugins ls 2>/dev/null | awk '$2 == "cri" {print $NF}')
	if [ "$cri" = ok ]; then
		t_ok "containerd loads its CRI plugin with the handler"
	else
		t_fail "containerd loads its CRI plugin" "status '$cri'" "$(grep -i -E 'error|cri' "$R/containerd.log" | tail -5)"
	fi
	tarball=$(oci_image_tar) && ctr_ images import --snapshotter native "$tarball" >/dev/null 2>&1
	# shellcheck disable=SC2016
	out=$(ctr_ run -d --snapshotter native --runc-binary /usr/sbin/zanshin "$OCI_IMAGE_REF" "$CTR_ID" \
		sh -c 'i=0; while :; do i=$((i+1)); echo $i >/count; sleep 0.2; done' 2>&1)
	sleep 1
	st=$(ctr_ task ls 2>/dev/null | awk -v c="$CTR_ID" '$1 == c {print $3}')
	ck=$(ctr_ containers checkpoint --task --rw "$CTR_ID" localhost/zanshin-pkgtest-ckpt:latest 2>&1)
	ctr_ task kill -a -s SIGKILL "$CTR_ID" >/dev/null 2>&1
	sleep 0.5
	ctr_ task delete -f "$CTR_ID" >/dev/null 2>&1
	ctr_ containers delete "$CTR_ID" >/dev/null 2>&1
	rs=$(ctr_ containers restore --live --rw "$CTR_ID" localhost/zanshin-pkgtest-ckpt:latest 2>&1)
	st2=$(ctr_ task ls 2>/dev/null | awk -v c="$CTR_ID" '$1 == c {print $3}')
	if [ "$st" = RUNNING ] && [ "$st2" = RUNNING ]; then
		t_ok "ctr run -d --runc-binary /usr/sbin/zanshin, checkpoint --task, restore --live: RUNNING"
	else
		t_fail "ctr run / checkpoint / restore through /usr/sbin/zanshin" "run: $st $out" "checkpoint: $ck" "restore: $st2 $rs"
	fi
else
	t_skip "containerd flow" "containerd is not installed"
fi

deb_cluster_checks "$deb" # zanshind and zanshin-api (tests/package/deb-cluster.sh)

# ---- purge keeps the remnant store's content ----
mkdir -p "$MARK" && echo keep >"$MARK/generation"
out=$(apt-get purge -y -q zanshin 2>&1)
rc=$?
INSTALLED=0
left=""
for f in /usr/sbin/zanshin /usr/libexec/zanshin /etc/zanshin /etc/containers/containers.conf.d/zanshin.conf \
	/etc/containerd/conf.d/zanshin.toml /usr/share/bash-completion/completions/zanshin /usr/share/man/man8/zanshin.8.gz; do
	[ -e "$f" ] && left="$left $f"
done
if [ -z "$OTHER_CRIU" ] && { [ -e /usr/sbin/criu ] || [ -L /etc/alternatives/criu ]; }; then left="$left /usr/sbin/criu"; fi
left="$left$(deb_cluster_purged)"
if [ $rc = 0 ] && [ -z "$left" ] && ! dpkg -s zanshin >/dev/null 2>&1; then
	t_ok "apt-get purge zanshin: package, criu alternative, snippets and conffiles gone"
else
	t_fail "apt-get purge zanshin removes it" "rc=$rc; left:$left" "$out"
fi
if [ "$(cat "$MARK/generation" 2>/dev/null)" = keep ] && grep -q '/var/lib/zanshin is kept' <<<"$out"; then
	t_ok "purge keeps /var/lib/zanshin's content and says so"
else
	t_fail "purge keeps /var/lib/zanshin's content" "$(ls -la "$MARK" 2>&1)" "$out"
fi

t_done
