#!/usr/bin/env bash
# `make bench`: the services the benchmarks need (PostgreSQL, a throw-away Dovecot and Postfix), then
# the benchmarks, then clean up.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
export REBOUND_TEST_DOVECOT_DIR=${REBOUND_TEST_DOVECOT_DIR:-/tmp/rebound-bench-dovecot}
bash tests/support/deps.sh
export REBOUND_TEST_POSTFIX_DIR=${REBOUND_TEST_POSTFIX_DIR:-/tmp/rebound-bench-postfix}
bash tests/support/dovecot.sh start "$REBOUND_TEST_DOVECOT_DIR"
bash tests/support/postfix.sh start "$REBOUND_TEST_POSTFIX_DIR"
trap 'bash tests/support/dovecot.sh stop "$REBOUND_TEST_DOVECOT_DIR"; bash tests/support/postfix.sh stop "$REBOUND_TEST_POSTFIX_DIR"' EXIT
cargo bench --locked --bench rebound "$@"
