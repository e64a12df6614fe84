# rebound — the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
CONFIG ?= config.example.toml

.PHONY: run build test bench demo fmt lint clean

## run: build and start `rebound serve` on config.example.toml (SQLite under ./data/)
run:
	mkdir -p data
	$(CARGO) run --release -- --config $(CONFIG) serve

build:
	$(CARGO) build --release

## test: install what the tests need (Dovecot, PostgreSQL, headers), start a throw-away
## Dovecot on loopback, run every test on SQLite and PostgreSQL, stop Dovecot.
test:
	bash tests/support/test.sh

## bench: throughput and memory figures (parse, classify, import into SQLite and
## PostgreSQL, draining IMAP and POP3 mailboxes, whole process, 1 GB mbox); needs
## ../shared/corpus or REBOUND_CORPUS
bench:
	bash tests/support/bench.sh

## demo: a throw-away Dovecot with sample bounces and complaints, and rebound serving
## from it: watch mail flow into campaign records and suppression within a minute
demo:
	bash tests/support/demo.sh

## fmt: format the code
fmt:
	$(CARGO) fmt --all

## lint: formatting check and clippy with warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

clean:
	$(CARGO) clean
	rm -rf data
