#!/bin/bash
# Builds, locally and without any network, an OCI image layout tarball of the
# busybox rootfs from tests/lib/rootfs.sh, which `ctr images import`
# (containerd 1.6) and `podman load -i` (Podman 4.3) accept:
#
#   tests/lib/oci-image.sh            prints the path of the tarball
#   OCI_IMAGE_REF                     image name, default
#                                     localhost/zanshin-busybox:latest
# or, sourced: oci_image_tar (prints the path), OCI_IMAGE_REF.
#
# Layout: oci-layout, index.json (one manifest, annotated with the full
# reference both as org.opencontainers.image.ref.name, which Podman reads,
# and io.containerd.image.name, which ctr reads), blobs/sha256/ holding the
# gzip-compressed layer, the image config (diff_id = digest of the
# uncompressed layer) and the manifest. Every digest and size is computed
# from the bytes written. Cached under build/oci/, keyed by the rootfs.

_oci_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=rootfs.sh
. "$_oci_top/tests/lib/rootfs.sh"
OCI_IMAGE_REF=${OCI_IMAGE_REF:-localhost/zanshin-busybox:latest}

_oci_blob() { # DIR FILE -> moves FILE into DIR/blobs/sha256, prints digest
	local d
	d=$(sha256sum <"$2" | cut -d' ' -f1)
	mv -f "$2" "$1/blobs/sha256/$d"
	echo "$d"
}

_oci_build() { # ROOTFS_TAR OUT_DIR
	local rtar=$1 out=$2 diff layer lsize config csize manifest msize
	mkdir -p "$out/blobs/sha256"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
	diff=$(sha256sum <"$rtar" | cut -d' ' -f1)
	gzip -n -c "$rtar" >"$out/layer.tmp" || return 1
	lsize=$(stat -c %s "$out/layer.tmp")
	layer=$(_oci_blob "$out" "$out/layer.tmp")
	jq -nc --arg diff "sha256:$diff" '{
		created: "1970-01-01T00:00:00Z",
		architecture: "amd64", os: "linux",
		config: {
			Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
			Cmd: ["sh"], WorkingDir: "/"
		},
		rootfs: {type: "layers", diff_ids: [$diff]},
		history: [{created: "1970-01-01T00:00:00Z",
			created_by: "zanshin tests/lib/oci-image.sh: busybox-static rootfs"}]
	}' >"$out/config.tmp" || return 1
	csize=$(stat -c %s "$out/config.tmp")
	config=$(_oci_blob "$out" "$out/config.tmp")
	jq -nc --arg c "sha256:$config" --argjson cs "$csize" \
		--arg l "sha256:$layer" --argjson ls "$lsize" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]
	}' >"$out/manifest.tmp" || return 1
	msize=$(stat -c %s "$out/manifest.tmp")
	manifest=$(_oci_blob "$out" "$out/manifest.tmp")
	jq -nc --arg m "sha256:$manifest" --argjson ms "$msize" --arg ref "$OCI_IMAGE_REF" '{
		schemaVersion: 2,
		manifests: [{
			mediaType: "application/vnd.oci.image.manifest.v1+json",
			digest: $m, size: $ms,
			platform: {architecture: "amd64", os: "linux"},
			annotations: {
				"org.opencontainers.image.ref.name": $ref,
				"io.containerd.image.name": $ref
			}
		}]
	}' >"$out/index.json"
}

# oci_image_tar: prints the path of the cached OCI layout tarball.
oci_image_tar() {
	local rtar key dir tarball tmp
	rtar=$(rootfs_tar busybox) || return 1
	key=$(basename "$rtar" .tar)-$(printf '%s' "$OCI_IMAGE_REF" | md5sum | cut -c1-8)-$(md5sum <"${BASH_SOURCE[0]}" | cut -c1-8)
	tarball=$_oci_top/build/oci/$key.oci.tar
	[ -f "$tarball" ] && { echo "$tarball"; return 0; }
	mkdir -p "$_oci_top/build/oci"
	dir=$(mktemp -d "$_oci_top/build/oci/.tmp.XXXXXX") || return 1
	if ! _oci_build "$rtar" "$dir"; then
		rm -rf "$dir"
		echo "oci-image.sh: building the OCI layout failed" >&2
		return 1
	fi
	tmp=$tarball.tmp.$$
	tar -C "$dir" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 \
		-cf "$tmp" oci-layout index.json blobs && mv -f "$tmp" "$tarball"
	rm -rf "$dir" "$tmp"
	[ -f "$tarball" ] && echo "$tarball"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	oci_image_tar
fi
