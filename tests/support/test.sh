#!/usr/bin/env bash
# `make test`: everything the tests need, then the tests, then clean up what was started.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
export REBOUND_TEST_DOVECOT_DIR=${REBOUND_TEST_DOVECOT_DIR:-/tmp/rebound-test-dovecot}
export REBOUND_TEST_POSTFIX_DIR=${REBOUND_TEST_POSTFIX_DIR:-/tmp/rebound-test-postfix}

bash tests/support/deps.sh
bash tests/support/dovecot.sh start "$REBOUND_TEST_DOVECOT_DIR"
trap 'bash tests/support/dovecot.sh stop "$REBOUND_TEST_DOVECOT_DIR"; bash tests/support/postfix.sh stop "$REBOUND_TEST_POSTFIX_DIR"' EXIT
bash tests/support/postfix.sh start "$REBOUND_TEST_POSTFIX_DIR"
# --no-fail-fast: one failing binary must not hide what the others would say.
cargo test --locked --no-fail-fast "$@"
