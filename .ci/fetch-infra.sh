#!/usr/bin/env bash
# Prefetches the Kafka broker jars and Apicurio Registry into .cache/infra (via Maven, ~/.m2 as usual),
# so the first test run does not spend its time downloading. Safe to run repeatedly; a no-op when cached.
# Skipped when the tests will not need local jars (KAFKA_BROKERS given, or Docker forced).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${KAFKA_BROKERS:-}" && -n "${SCHEMA_REGISTRY_URL:-}" ]] || [[ "${LOCAL_INFRA:-}" == "testcontainers" ]]; then
  echo "[infra] prefetch skipped (external services or testcontainers)"
  exit 0
fi
npx tsx shared/cli/infra.ts fetch
