#!/usr/bin/env bash
# `make test`: everything the tests need, then the tests, then clean up what was started.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
export REBOUND_TEST_DOVECOT_DIR=${REBOUND_TEST_DOVECOT_DIR:-/tmp/rebound-test-dovecot}

bash tests/support/deps.sh
bash tests/support/dovecot.sh start "$REBOUND_TEST_DOVECOT_DIR"
trap 'bash tests/support/dovecot.sh stop "$REBOUND_TEST_DOVECOT_DIR"' EXIT
cargo test --locked "$@"
