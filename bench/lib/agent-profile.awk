# SPDX-License-Identifier: Apache-2.0
# Where the agents' CPU went: `perf script` of a `perf record -a -g` (one
# sample per blank-line separated record, innermost frame first), only the
# agents' samples (perf script --comms NAME), each put in one bucket by
# the frames of its stack. Prints "SHARE% BUCKET; ..." and the count.
# (libgnutls is stripped and the agent has no frame pointers: AES-GCM and
# the SHA-256 of gnutls_hash, which the streaming sha256-4k uses, both show
# as unnamed addresses in libgnutls and land in one bucket.)
#   perf script -i perf.data --comms zs-bench-agent | awk -f agent-profile.awk
BEGIN { RS = "" }
{
	k = "other (allocation, JSON, journal, scheduler ticks)"
	if ($0 ~ /_copy_to_iter|copy_page_to_iter/) {
		if ($0 ~ /pread/) k = "copy: pread, the source's hash pass before sending"
		else if ($0 ~ /shmem_file_read_iter|filemap_read/) k = "copy: read of the image, source"
		else if ($0 ~ /tcp_recvmsg/) k = "copy: socket receive, target"
		else k = "copy: other"
	} else if ($0 ~ / x16\+| compress\+|sha256|zs_digest|add_block/) k = "sha256-4k hashing, named frames (the multi-buffer code, nettle)"
	else if ($0 ~ /libgnutls|libnettle|libhogweed/) k = "gnutls: AES-GCM records and the sha256 of gnutls_hash (stripped: not told apart)"
	else if ($0 ~ /tcp_sendmsg|tcp_write_xmit|__libc_send/) k = "TCP send path, source"
	else if ($0 ~ /shmem_file_write_iter|generic_perform_write|__libc_write|ksys_write/) k = "write of the image, target"
	else if ($0 ~ /handle_softirqs|net_rx_action/) k = "softirq: veth and TCP receive"
	else if ($0 ~ /fsync|ext4_sync/) k = "fsync"
	n[k]++
	tot++
}
END {
	if (tot == 0)
		exit
	out = ""
	for (k in n)
		line[k] = sprintf("%.1f%% %s", 100 * n[k] / tot, k)
	# by share, largest first
	while (length(line) > 0) {
		best = ""
		for (k in line)
			if (best == "" || n[k] > n[best])
				best = k
		out = out (out == "" ? "" : "; ") line[best]
		delete line[best]
	}
	printf "%s (%d samples at 499 Hz: %.2f CPU-seconds)\n", out, tot, tot / 499
}
