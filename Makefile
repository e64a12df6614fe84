# rebound — the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
CONFIG ?= config.example.toml

.PHONY: run build test bench demo fmt lint clean chaos

## run: build and start `rebound serve` on config.example.toml (SQLite under ./data/). A
## [secrets] key for passwords given through the admin API is made once in data/secret.key
## (a local try-out only: production names its own key_env/key_file in the config).
run:
	mkdir -p data
	$(CARGO) build --release
	test -s data/secret.key || (umask 077 && ./target/release/rebound secrets generate-key > data/secret.key)
	REBOUND__SECRETS__KEY_FILE=$${REBOUND__SECRETS__KEY_FILE:-data/secret.key} \
	  ./target/release/rebound --config $(CONFIG) serve

build:
	$(CARGO) build --release

## test: install what the tests need (Dovecot, PostgreSQL, headers), start a throw-away
## Dovecot on loopback, run every test on SQLite and PostgreSQL, stop Dovecot.
test:
	bash tests/support/test.sh

## chaos: the fault suite (tests/faults.rs) with long loops: CHAOS_ROUNDS (default 25) kills of
## imports and polls at random moments, seeding races on fresh databases; `make test` runs
## the same tests with a few rounds each
CHAOS_ROUNDS ?= 25
chaos:
	REBOUND_CHAOS_ROUNDS=$(CHAOS_ROUNDS) bash tests/support/test.sh --test faults --test faults_fetch

## bench: throughput and memory figures (parse, classify, import into SQLite and
## PostgreSQL, draining IMAP and POP3 mailboxes, whole process, 1 GB mbox; BOUNCED pages over
## 1M events, p50/p99); needs ../shared/corpus or REBOUND_CORPUS. REBOUND_BENCH_ONLY=views,…
## runs only some parts
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

## fuzz: libFuzzer on the parser for SECONDS (default 600; FUZZ_TARGET=mbox fuzzes the mbox
## splitter). Installs cargo-fuzz if missing (cargo install cargo-fuzz --locked), seeds
## tests/fuzz/corpus/<target> (git-ignored) from tests/fixtures and, where it exists,
## ../shared/corpus/sisimai-dev/emails, then runs; crashes land in tests/fuzz/artifacts/.
## Stable Rust only: `--sanitizer none` needs no nightly feature (cargo-fuzz then passes only
## stable -C flags: sancov coverage, debug assertions, overflow checks, --cfg fuzzing), and
## safe Rust is bounds-checked anyway. AddressSanitizer (FUZZ_SANITIZER=address) needs
## -Zsanitizer, so it is run with RUSTC_BOOTSTRAP=1 on the stable compiler (which ships the
## ASan runtime; checked on a small program, not yet on the whole fuzz build). The fuzz
## crate has a [workspace] of its own: it never joins `cargo build`/`cargo test`/clippy.
## A crash: minimise it (cargo fuzz tmin --fuzz-dir tests/fuzz parse <artifact>) and keep it
## under tests/fixtures/fuzz/ with a test; seed.sh feeds that folder back into the corpus.
SECONDS ?= 600
FUZZ_TARGET ?= parse
FUZZ_SANITIZER ?= none
FUZZ_ARGS ?=
.PHONY: fuzz
fuzz:
	$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	bash tests/fuzz/seed.sh $(FUZZ_TARGET)
	$(if $(filter-out none,$(FUZZ_SANITIZER)),RUSTC_BOOTSTRAP=1) $(CARGO) fuzz run --fuzz-dir tests/fuzz \
		--sanitizer $(FUZZ_SANITIZER) $(FUZZ_TARGET) tests/fuzz/corpus/$(FUZZ_TARGET) -- \
		-max_total_time=$(SECONDS) -timeout=10 -print_final_stats=1 $(FUZZ_ARGS)

clean:
	$(CARGO) clean
	rm -rf data
