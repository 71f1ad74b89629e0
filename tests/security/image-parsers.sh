#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 18 item 6, as the attack: whoever hands root an image directory
# controls what the image readers open. Each case runs under a timeout (a
# hang is a failure) and the output is searched for the planted secret:
#   - inventory.img (and a pages file) a FIFO: image check, info, flatten
#     and restore fail at once, naming the file (they used to hang);
#   - inventory.img -> /dev/zero: refused (it used to grow until abort);
#   - inventory.img and core-1.img -> a root-only host file: refused, and
#     no byte of it in any message (it used to print "bad magic
#     0x746f6f72", i.e. "root" from /etc/shadow);
#   - a 2 GiB inventory.img (sparse): refused by size, nothing read;
#   - image check walks the parent chain as flatten does: a broken parent
#     or one from another lineage is found from the leaf.
# runc 1.1.5 has no image readers of its own: CRIU hangs on the FIFO too.
. "$(dirname "$0")/../cr/lib.sh"
CR_MIB=16
cr_setup image-parsers
cr_node A
A=$CR_T/A
I=$A/img
SECRET=$CR_T/shadow
printf 'root:$y$j9T$SECRETSECRETSECRET:19000:0:99999:7:::\n' >"$SECRET"
chmod 0600 "$SECRET"

# t_fast NAME SECONDS REGEX CMD...: CMD fails within SECONDS, its output
# matches REGEX and holds nothing of the secret file.
t_fast() {
	local name=$1 max=$2 re=$3 t0 out rc
	shift 3
	t0=$SECONDS
	if declare -F "$1" >/dev/null; then
		out=$(ZS_TIMEOUT=$max "$@" 2>&1 </dev/null) # a function: it times itself
	else
		out=$(timeout -k 2 "$max" "$@" 2>&1 </dev/null)
	fi
	rc=$?
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		t_fail "$name" "hung: killed after ${max}s" "$out"
	elif [ $rc = 0 ]; then
		t_fail "$name" "succeeded; it must be refused" "$out"
	elif ! grep -qE "$re" <<<"$out"; then
		t_fail "$name" "error does not match /$re/" "$out"
	elif grep -qiE 'SECRET|root:|746f6f72|0x[0-9a-f]{6,}' <<<"$out"; then
		t_fail "$name" "the error prints file content" "$out"
	else
		t_ok "$name in $((SECONDS - t0))s ($(grep -oE "$re" <<<"$out" | head -1))"
	fi
}

# rst DIR: a restore of DIR on node A, killed after $ZS_TIMEOUT s (no
# container may be left)
rst() {
	timeout -k 2 "$ZS_TIMEOUT" "$ZANSHIN" --root "$A/state" --remnant-root "$A/store" \
		restore -d --image-path "$1" --bundle "$A/bundle" "$CR_CID" </dev/null
	local rc=$?
	[ -z "$(cr_status A)" ] || { echo "a container was left"; cr_delete A; return 0; }
	return $rc
}

t_run A
mkdir -p "$I"
t_ckpt "base" A "$I/base" --leave-running --track-mem
t_wl_write "diff" A 20
t_ckpt "diff" A "$I/d1" --parent-path ../base
cr_gone A

# FIFOs
cp -a "$I/base" "$I/fifo"
rm "$I/fifo/inventory.img" && mkfifo "$I/fifo/inventory.img"
t_fast "FIFO inventory.img: image check" 10 "inventory.img: not a regular file" "$ZANSHIN" image check "$I/fifo"
t_fast "FIFO inventory.img: image info" 10 "inventory.img: not a regular file" "$ZANSHIN" image info "$I/fifo"
t_fast "FIFO inventory.img: image flatten" 10 "inventory.img: not a regular file" "$ZANSHIN" image flatten "$I/fifo" "$I/fifo-out"
t_fast "FIFO inventory.img: restore" 30 "inventory.img: not a regular file" rst "$I/fifo"
cp -a "$I/base" "$I/fifo2"
p=$(ls "$I"/fifo2/pages-*.img | head -1)
rm "$p" && mkfifo "$p"
t_fast "FIFO pages file: image check" 10 "pages-[0-9]+.img: not a regular file" "$ZANSHIN" image check "$I/fifo2"
t_fast "FIFO pages file: restore" 30 "pages-[0-9]+.img: not a regular file" rst "$I/fifo2"
t_fast "FIFO in the parent: image check of the diff" 10 "d1f/parent/inventory.img: not a regular file" \
	sh -c "cp -a '$I/d1' '$I/d1f' && ln -sfn ../fifo '$I/d1f/parent' && exec '$ZANSHIN' image check '$I/d1f'"

# symlinks: /dev/zero, a root-only host file
cp -a "$I/base" "$I/zero"
ln -sf /dev/zero "$I/zero/inventory.img"
for v in check info; do
	t_fast "inventory.img -> /dev/zero: image $v" 10 "inventory.img: is a symlink" "$ZANSHIN" image $v "$I/zero"
done
t_fast "inventory.img -> /dev/zero: image flatten" 10 "inventory.img: is a symlink" "$ZANSHIN" image flatten "$I/zero" "$I/zero-out"
t_fast "inventory.img -> /dev/zero: restore" 30 "inventory.img: is a symlink" rst "$I/zero"
cp -a "$I/base" "$I/shadow"
ln -sf "$SECRET" "$I/shadow/inventory.img"
for v in check info; do
	t_fast "inventory.img -> root-only file: image $v" 10 "inventory.img: is a symlink" "$ZANSHIN" image $v "$I/shadow"
done
t_fast "inventory.img -> root-only file: restore" 30 "inventory.img: is a symlink" rst "$I/shadow"
cp -a "$I/base" "$I/shadow2"
ln -sf "$SECRET" "$I/shadow2/core-1.img"
t_fast "core-1.img -> root-only file: image check" 10 "core-1.img: is a symlink" "$ZANSHIN" image check "$I/shadow2"
# the same bytes as a regular file: a bad magic, and no byte of it printed
cp -a "$I/base" "$I/shadow3"
cp "$SECRET" "$I/shadow3/core-1.img"
t_fast "core-1.img holding the file's bytes: image check" 10 "core-1.img: bad magic \(not a CRIU" "$ZANSHIN" image check "$I/shadow3"
cp "$SECRET" "$I/shadow3/inventory.img"
t_fast "inventory.img holding the file's bytes: image info" 10 "inventory.img: bad magic \(not a CRIU inventory image\)" "$ZANSHIN" image info "$I/shadow3"

# a huge inventory: refused by its size
cp -a "$I/base" "$I/huge"
truncate -s 2G "$I/huge/inventory.img"
t_fast "2 GiB inventory.img: image info" 10 "inventory.img: 2147483648 bytes, more than" "$ZANSHIN" image info "$I/huge"

# image check walks the parent chain
t_check "diff: image check ok through its parent" "$ZANSHIN" image check "$I/d1"
cp -a "$I/base" "$I/badparent"
printf '\xef\xbe\xad\xde' | dd of="$I/badparent/core-1.img" bs=1 seek=4 conv=notrunc status=none
cp -a "$I/d1" "$I/d2"
ln -sfn ../badparent "$I/d2/parent"
t_fast "diff over a corrupt parent: image check" 10 "d2/parent/core-1.img: bad magic" "$ZANSHIN" image check "$I/d2"
cp -a "$I/d1" "$I/d3"
ln -sfn ../d1 "$I/d3/parent"
t_fast "diff over a parent of another lineage: image check" 10 "d3/parent: image id [0-9a-f]+ is not the parent_image_id" "$ZANSHIN" image check "$I/d3"

# The lazy-pages daemon's socket (`criu lazy-pages -D DIR`, runc's
# checkpoint.bats) belongs in an image directory; another socket does not.
cp -a "$I/base" "$I/lazy"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$I/lazy/lazy-pages.socket"
if out=$("$ZANSHIN" image check "$I/lazy" 2>&1); then
	t_ok "lazy-pages.socket in an image directory: image check ok"
else
	t_fail "lazy-pages.socket in an image directory: image check" "$out"
fi
cp -a "$I/base" "$I/sock"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$I/sock/other.sock"
t_fast "another socket in an image directory: image check" 10 "other.sock: not a regular file" "$ZANSHIN" image check "$I/sock"
t_done
