#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The short soak of `make check`: a fixed seed (the same sequence on every
# machine, so a failure here replays with `make soak SEED=... STEPS=...`)
# and one seed of the day (new sequences over time; printed).
here=$(dirname "$0")
rc=0
SOAK_MIB=${SOAK_MIB:-64} "$here/soak.sh" "${SOAK_SEED:-20261207}" "${SOAK_STEPS:-30}" || rc=1
SOAK_MIB=${SOAK_MIB:-64} "$here/soak.sh" "$(date +%Y%m%d)" "${SOAK_STEPS:-30}" || rc=1
exit $rc
