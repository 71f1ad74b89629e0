#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 18 item 8, as the attack: a user who can write into the image (or
# work) directory root hands to CRIU plants `dump.log -> FILE` (CRIU writes
# its log through it: runc 1.1.5 does, and so did zanshin), or reads the
# memory from a pages file a dump left 0644 in a pre-existing 0755
# directory (runc too). Now:
#   - a directory writable by others (0777, 1777 sticky, group-writable) or
#     owned by another user is refused for checkpoint and restore, naming it;
#   - a symlink (or FIFO) in the place of a file CRIU writes (dump.log,
#     stats-dump, restore.log, an image) is refused, naming it, and the
#     file it points to is unchanged;
#   - a dump into a pre-existing 0755 directory writes every file 0600.
# A refused checkpoint leaves the container running, a refused restore
# leaves no container.
. "$(dirname "$0")/../cr/lib.sh"
CR_MIB=16
cr_setup image-dirs
cr_node A
A=$CR_T/A
VICTIM=$CR_T/victim
echo "host file: must not change" >"$VICTIM"
chmod 0600 "$VICTIM"
VSUM=$(sha256sum <"$VICTIM")

victim_same() { [ "$(sha256sum <"$VICTIM")" = "$VSUM" ]; }

# t_ckpt_refused NAME DIR REGEX [ARGS...]
t_ckpt_refused() {
	local name=$1 d=$2 re=$3
	shift 3
	cr_checkpoint A "$d" --leave-running "$@"
	local rc=$?
	if [ $rc -ne 0 ] && grep -qE "$re" <<<"$CR_ERR" && victim_same && [ "$(cr_status A)" = running ]; then
		t_ok "$name: checkpoint refused, file unchanged, container running ($(grep -oE "$re" <<<"$CR_ERR" | head -1))"
	else
		t_fail "$name: checkpoint refused" "exit $rc, status '$(cr_status A)', victim $(victim_same && echo same || echo CHANGED)" "$CR_ERR"
	fi
}

t_run A
mkdir -p "$A/img"

# a pre-existing 0755 directory: every file CRIU and we write is 0600
install -d -m 0755 "$A/img/pre"
t_ckpt "0755 dir" A "$A/img/pre" --leave-running
loose=$(find "$A/img/pre" -type f -perm /077 -printf '%m %f\n')
n=$(find "$A/img/pre" -name 'pages-*.img' | wc -l)
if [ -z "$loose" ] && [ "$n" -gt 0 ]; then t_ok "0755 dir: pages-*.img ($n) and every other file are 0600"; else
	t_fail "0755 dir: every file 0600" "$loose"
fi
# a second dump into the same directory keeps them 0600 (an older 0644 file
# CRIU truncates keeps its mode: it is made 0600 first)
chmod 0644 "$A"/img/pre/pages-*.img
t_ckpt "0755 dir, again" A "$A/img/pre" --leave-running
loose=$(find "$A/img/pre" -type f -perm /077 -printf '%m %f\n')
if [ -z "$loose" ]; then t_ok "0755 dir, again: files that were 0644 are 0600"; else
	t_fail "0755 dir, again: every file 0600" "$loose"
fi

# the attack: a user-writable directory, the user plants dump.log
install -d -m 0777 "$A/img/open"
setpriv --reuid=65534 --regid=65534 --clear-groups ln -s "$VICTIM" "$A/img/open/dump.log"
t_ckpt_refused "world-writable dir with a planted dump.log" "$A/img/open" "img/open.: mode 0777 is writable by anyone"
install -d -m 1777 "$A/img/sticky"
t_ckpt_refused "sticky world-writable dir" "$A/img/sticky" "img/sticky.: mode 1777 is writable by anyone"
install -d -m 0775 "$A/img/group"
t_ckpt_refused "group-writable dir" "$A/img/group" "img/group.: mode 0775 is writable by its group"
install -d -m 0755 -o 65534 -g 65534 "$A/img/theirs"
t_ckpt_refused "dir owned by another user" "$A/img/theirs" "img/theirs.: owned by uid 65534, not by root or the caller"

# symlinks left in a root-owned directory (planted when it was someone
# else's, or by mistake): refused by name
for f in dump.log stats-dump pages-1.img; do
	install -d -m 0700 "$A/img/link-$f"
	ln -s "$VICTIM" "$A/img/link-$f/$f"
	t_ckpt_refused "planted $f symlink" "$A/img/link-$f" "$f: is a symlink: CRIU would write through it"
done
install -d -m 0700 "$A/img/fifo"
mkfifo "$A/img/fifo/dump.log"
t_ckpt_refused "planted dump.log FIFO" "$A/img/fifo" "dump.log: not a regular file"
install -d -m 0777 "$A/work-open"
t_ckpt_refused "world-writable --work-path" "$A/img/w" "work-open.: mode 0777 is writable by anyone" --work-path "$A/work-open"

# restore: the image directory (CRIU writes restore.log there; a user who
# can write there swaps an image after it was checked)
t_ckpt "restore base" A "$A/img/base"
cr_gone A
cp -a "$A/img/base" "$A/img/rlink"
ln -s "$VICTIM" "$A/img/rlink/restore.log"
cr_restore A "$A/img/rlink"
if [ $? -ne 0 ] && grep -q "restore.log: is a symlink" <<<"$CR_ERR" && victim_same && [ -z "$(cr_status A)" ]; then
	t_ok "planted restore.log symlink: restore refused, file unchanged"
else t_fail "planted restore.log symlink: restore refused" "status '$(cr_status A)'" "$CR_ERR"; cr_delete A; fi
cp -a "$A/img/base" "$A/img/ropen"
chmod 0777 "$A/img/ropen"
cr_restore A "$A/img/ropen"
if [ $? -ne 0 ] && grep -q "ropen.: mode 0777 is writable by anyone" <<<"$CR_ERR" && [ -z "$(cr_status A)" ]; then
	t_ok "world-writable image dir: restore refused"
else t_fail "world-writable image dir: restore refused" "status '$(cr_status A)'" "$CR_ERR"; cr_delete A; fi
t_rest "the same image in a sane dir" A "$A/img/base"
cr_delete A
t_done
