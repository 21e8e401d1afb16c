#!/usr/bin/env bash
# Regenerates packages/proto from proto/: ts-proto code and the descriptor set
# (served by gRPC reflection). Deterministic: CI re-runs it and fails on a diff.
set -euo pipefail
cd "$(dirname "$0")/.."
npx --no-install buf lint
npx --no-install buf generate
mkdir -p packages/proto/descriptor
npx --no-install buf build --as-file-descriptor-set -o packages/proto/descriptor/kontor.binpb
