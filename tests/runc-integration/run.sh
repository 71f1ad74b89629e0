#!/bin/bash
# Runs runc 1.1.5's own integration suite (tests/integration/*.bats from
# Debian's runc source package, fetched at test time, never committed)
# against the runtime under test:
#
#   RUNTIME=build/bin/zanshin tests/runc-integration/run.sh [FILE...]
#
# RUNTIME defaults to build/bin/zanshin; RUNTIME=/usr/sbin/runc gives the
# reference numbers. FILE is a bats file name without .bats (default: the
# core list below; "all" runs every file). Prints TAP ("ok N - file: test") and finally
#   runc-integration: X/Y passed (Z skipped)
# where Y counts every test that was not skipped.
#
# Without network: busybox.tar comes from tests/lib/rootfs.sh (in place of
# the suite's get-images.sh downloads), recvtty is our own C program
# (recvtty.c here), script(1) provides the terminal the suite expects; tests listed in excluded.txt are turned into skips that
# state the reason.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/runc-integration
RUNTIME=${RUNTIME:-$top/build/bin/zanshin}
case $RUNTIME in /*) ;; *) RUNTIME=$top/$RUNTIME ;; esac

RUNC_DEB_VERSION=1.1.5+ds1-1+deb12u1
RUNC_TARBALL=runc_1.1.5+ds1.orig.tar.xz
RUNC_TARBALL_SHA256=${RUNC_TARBALL_SHA256:-e936cc563c4557178b3416aa1bb9e8231c53011beb8df67adedbfbaba4eacce7}
srcdir=$top/build/src/runc
# Each run gets its own tree (several people may run the suite at once).
mkdir -p "$top/build/runc-integration"
work=$(mktemp -d "$top/build/runc-integration/run.XXXXXX")

CORE="create start start_detached start_hello run exec kill delete state list ps
 pause spec help version root cwd umask tty mounts mask dev hooks seccomp
 cgroups update events no_pivot checkpoint"
PER_FILE_TIMEOUT=${PER_FILE_TIMEOUT:-150}
# checkpoint.bats calls `criu` itself (criu check --feature, criu lazy-pages):
# the patched build comes first on PATH (CRIU_DIR=build/stock/bin for stock).
CRIU_DIR=${CRIU_DIR:-$top/build/bin}
# Stop starting new files once this much time has gone (a hanging runtime
# must not eat the whole make check budget); the rest are reported as skips.
BUDGET=${RUNC_IT_BUDGET:-600}

n=0 passed=0 failed=0 skipped=0
say_fail() {
	n=$((n + 1)) failed=$((failed + 1))
	echo "not ok $n - $1"
	[ $# -gt 1 ] && printf '# %s\n' "${@:2}"
}

fetch_source() {
	[ -f "$srcdir/$RUNC_TARBALL" ] && return 0
	mkdir -p "$srcdir"
	# Source indexes may predate the deb-src entries (scripts/deps.sh): one
	# apt-get update, then try again.
	(cd "$srcdir" && apt-get source -q --download-only --tar-only "runc=$RUNC_DEB_VERSION") >&2 ||
		{ apt-get update -q >&2 &&
			(cd "$srcdir" && apt-get source -q --download-only --tar-only "runc=$RUNC_DEB_VERSION") >&2; } ||
		return 1
	[ -f "$srcdir/$RUNC_TARBALL" ]
}

# Extract a fresh copy of tests/integration and make it run offline.
prepare_tree() {
	local tree=$work/runc-1.1.5 bb deb
	tar -C "$work" -xJf "$srcdir/$RUNC_TARBALL" runc-1.1.5/tests/integration || return 1
	bb=$("$top/tests/lib/rootfs.sh" busybox tar) || return 1
	deb=$("$top/tests/lib/rootfs.sh" debian tar) || return 1
	# The suite evals this script's output to find its images.
	cat >"$tree/tests/integration/get-images.sh" <<-EOF
		#!/bin/sh
		# zanshin: local images instead of downloads (see tests/lib/rootfs.sh)
		echo BUSYBOX_IMAGE=$bb
		echo DEBIAN_IMAGE=$deb
	EOF
	chmod +x "$tree/tests/integration/get-images.sh"
	mkdir -p "$tree/contrib/cmd/recvtty"
	cc -O2 -Wall -o "$tree/contrib/cmd/recvtty/recvtty" "$here/recvtty.c" || return 1
	apply_exclusions "$tree/tests/integration"
}

# excluded.txt: "FILE<TAB>TEST NAME<TAB>REASON" (TEST NAME "*": every test of
# FILE); the test's body starts with
# a bats skip carrying the reason, so it shows as "# skip" in the TAP.
apply_exclusions() {
	local dir=$1 file name reason
	while IFS=$'\t' read -r file name reason; do
		case $file in "" | \#*) continue ;; esac
		[ -f "$dir/$file.bats" ] || continue
		EXCL_NAME=$name EXCL_REASON="excluded: $reason" awk '
			{ print }
			(ENVIRON["EXCL_NAME"] == "*" && index($0, "@test \"") == 1 && / \{$/) ||
			index($0, "@test \"" ENVIRON["EXCL_NAME"] "\" {") == 1 {
				r = ENVIRON["EXCL_REASON"]; gsub(/"/, "\\\"", r)
				print "\tskip \"" r "\""
			}' "$dir/$file.bats" >"$dir/$file.bats.new" && mv "$dir/$file.bats.new" "$dir/$file.bats"
	done <"$here/excluded.txt"
}

# /sys/fs/cgroup is a tmpfs here, and controllers listed in /proc/cgroups but
# not mounted (net_cls, perf_event, ...) get plain directories created in it
# by tools that mkdir -p every controller. Remove any that appeared during
# the run (never a mount point, never one that existed before).
CG_BEFORE=$(ls /sys/fs/cgroup 2>/dev/null | tr '\n' ' ')
cleanup_stray_cgroup_dirs() {
	local d
	for d in /sys/fs/cgroup/*; do
		[ -d "$d" ] || continue
		case " $CG_BEFORE " in *" $(basename "$d") "*) continue ;; esac
		mountpoint -q "$d" && continue
		[ "$(stat -f -c %T "$d")" = tmpfs ] || continue
		rm -rf "$d"
	done
}

# checkpoint.bats ("container specific CRIU config") writes
# /etc/criu/default.conf (log-file=runc-criu-log-*.log) and leaves it: every
# later CRIU run on the machine would then log into a file of that name in
# its working directory. Put back what was there before.
CRIU_CONF=/etc/criu/default.conf
CRIU_CONF_SAVED=""
if [ -e "$CRIU_CONF" ]; then
	CRIU_CONF_SAVED=$(mktemp /tmp/zs-criu-default-conf.XXXXXX)
	cp -a "$CRIU_CONF" "$CRIU_CONF_SAVED"
fi
restore_criu_conf() {
	if [ -n "$CRIU_CONF_SAVED" ]; then
		cp -a "$CRIU_CONF_SAVED" "$CRIU_CONF" && rm -f "$CRIU_CONF_SAVED"
	else
		rm -f "$CRIU_CONF"
	fi
}

# Leftovers the suite's own teardown might miss after a timeout.
cleanup() {
	local pid exe
	restore_criu_conf
	for pid in $(pgrep -x recvtty 2>/dev/null); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		[ "$exe" = "$work/runc-1.1.5/contrib/cmd/recvtty/recvtty" ] && kill -9 "$pid" 2>/dev/null
	done
	# The suite's common cgroup parent, if empty (rmdir fails otherwise).
	local d
	for d in /sys/fs/cgroup/*/runc-cgroups-integration-test; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	rm -rf "$work"
	cleanup_stray_cgroup_dirs
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM

run_file() {
	local f=$1 line t0=$SECONDS out rc
	# runc spec's config has "terminal": true, so the suite expects to run
	# on a terminal (upstream CI uses docker -t): script(1) gives it a pty.
	# bats' own output goes to a file, not through the pty.
	local log=$work/$f.tap
	(cd "$work/runc-1.1.5/tests/integration" &&
		PATH=$CRIU_DIR:$PATH RUNC=$RUNTIME timeout --kill-after=10 "$PER_FILE_TIMEOUT" \
			script -qefc "bats --tap $f.bats >$log 2>&1" /dev/null </dev/null >/dev/null 2>&1)
	rc=$?
	out=$(cat "$log" 2>/dev/null)
	while IFS= read -r line; do
		case $line in
		"ok "*"# skip"*)
			n=$((n + 1)) skipped=$((skipped + 1))
			echo "ok $n - $f: $(sed -E 's/^ok [0-9]+ //' <<<"$line")"
			;;
		"ok "*)
			n=$((n + 1)) passed=$((passed + 1))
			echo "ok $n - $f: $(sed -E 's/^ok [0-9]+ //' <<<"$line")"
			;;
		"not ok "*)
			n=$((n + 1)) failed=$((failed + 1))
			echo "not ok $n - $f: $(sed -E 's/^not ok [0-9]+ //' <<<"$line")"
			;;
		"1.."*) ;;
		*) echo "# $line" ;;
		esac
	done <<<"$out"
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		say_fail "$f: bats file timed out after ${PER_FILE_TIMEOUT}s"
	fi
	echo "# $f.bats: $((SECONDS - t0))s"
}

if [ ! -x "$RUNTIME" ]; then
	say_fail "runtime under test" "RUNTIME=$RUNTIME is not an executable (build it: make all)"
	echo "1..$n"
	echo "runc-integration: 0/0 passed"
	exit 1
fi
if ! fetch_source; then
	say_fail "fetch runc $RUNC_DEB_VERSION source" "apt-get source --download-only --tar-only runc=$RUNC_DEB_VERSION failed (deb-src entries: make deps)"
	echo "1..$n"
	exit 1
fi
if [ -n "$RUNC_TARBALL_SHA256" ] &&
	! echo "$RUNC_TARBALL_SHA256  $srcdir/$RUNC_TARBALL" | sha256sum -c --quiet - >&2; then
	say_fail "verify $RUNC_TARBALL" "SHA-256 mismatch"
	echo "1..$n"
	exit 1
fi
if ! prepare_tree; then
	say_fail "prepare runc integration tree" "see stderr"
	echo "1..$n"
	exit 1
fi

echo "# runtime under test: $RUNTIME ($("$RUNTIME" --version 2>&1 | head -1))"
files=("$@")
[ ${#files[@]} -eq 0 ] && read -r -a files <<<"$(echo $CORE)"
if [ "${files[0]}" = all ]; then # every bats file of the suite, for the record
	files=()
	for f in "$work"/runc-1.1.5/tests/integration/*.bats; do files+=("$(basename "$f" .bats)"); done
fi
for f in "${files[@]}"; do
	if [ $SECONDS -ge "$BUDGET" ]; then
		n=$((n + 1)) skipped=$((skipped + 1))
		echo "ok $n - $f: whole file # skip suite time budget of ${BUDGET}s used up"
		continue
	fi
	if [ ! -f "$work/runc-1.1.5/tests/integration/$f.bats" ]; then
		say_fail "$f: no such bats file in runc 1.1.5"
		continue
	fi
	run_file "$f"
done
echo "1..$n"
echo "runc-integration: $passed/$((passed + failed)) passed ($skipped skipped)"
[ $failed -eq 0 ]
