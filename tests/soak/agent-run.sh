#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The short agent soak of `make check`: a fixed seed (the same sequence on
# every machine; a failure replays with `make soak-agent SEED=... STEPS=...`),
# 12 steps of 32 MiB with faults in half the moves (about 2-3 minutes).
here=$(dirname "$0")
SOAK_MIB=${SOAK_MIB:-32} SOAK_SECONDS=${SOAK_SECONDS:-240} exec "$here/agent-soak.sh" "${SOAK_SEED:-20261207}" "${SOAK_STEPS:-12}"
