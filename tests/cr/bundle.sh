#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Restore with the Bundle the node's remnant store kept (issue 4, item 4):
# after a checkpoint the bundle directory is removed; `restore --bundle
# <removed dir>` and a restore from a directory without config.json use the
# stored Bundle (config.json + kept rootfs), and the workload's memory
# verifies.
. "$(dirname "$0")/lib.sh"
CR_MIB=64
cr_setup bundle
cr_node A
I=$CR_T/A/img

t_run A
t_wl_write "A" A 16
t_wl_verify "A: before checkpoint" A
D=$WL_DIGEST
t_ckpt "A" A "$I/c1" || { t_done; exit; }
cr_gone A || t_fail "container gone after checkpoint" "$(cr_status A)"
info=$(z A remnant show "$CR_CID" --format json 2>&1)
if jq -e '.bundle.rootfs_kept == true' <<<"$info" >/dev/null 2>&1 || grep -q 'rootfs: kept' <<<"$(z A remnant show "$CR_CID")"; then
	t_ok "store kept the Bundle with its rootfs"
else
	t_fail "store kept the Bundle with its rootfs" "$info"
fi
# the bundle goes away; the workload's command directory moves with it
mv "$CR_T/A/bundle" "$CR_T/A/bundle.removed"
stored=$CR_T/A/store/containers/$CR_CID/bundle
cr_pipes
if OUT=$(z A restore -d --image-path "$I/c1" --bundle "$CR_T/A/bundle" "$CR_CID" <&"$CR_IN" 2>&1 >&"$CR_OUT"); then
	t_ok "restore --bundle <removed directory>: uses the stored Bundle"
else
	t_fail "restore --bundle <removed directory>: uses the stored Bundle" "$OUT"
	t_done
	exit
fi
b=$(z A state "$CR_CID" | jq -r .bundle)
[ "$b" = "$stored" ] && t_ok "state names the stored bundle ($b)" || t_fail "state names the stored bundle" "$b"
# the workload now lives in the stored rootfs: point the helpers there
mkdir -p "$CR_T/A/bundle" && ln -s "$stored/rootfs" "$CR_T/A/bundle/rootfs"
t_wl_verify "restored from the stored Bundle" A "$D"
cr_delete A
t_done
