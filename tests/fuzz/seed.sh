#!/usr/bin/env bash
# Seeds the working corpus tests/fuzz/corpus/<target> (git-ignored) for `make fuzz`:
# the project's fixtures (tests/fixtures/parse/**/*.eml, tests/fixtures/fuzz/*) and, where
# it exists, the shared evaluation corpus (../shared/corpus/sisimai-dev/emails, or
# $REBOUND_CORPUS_DIR/emails). Files are copied under content-hash names, so re-running
# adds nothing twice and never touches the sources; nothing here is ever committed.
set -euo pipefail
target=${1:-parse}
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/tests/fuzz/corpus/$target"
mkdir -p "$out"
shared=${REBOUND_CORPUS_DIR:-$root/../shared/corpus/sisimai-dev}/emails
srcs=("$root/tests/fixtures/parse")
if [ -d "$shared" ]; then srcs+=("$shared"); else echo "seed: no shared corpus at $shared, fixtures only"; fi
before=$(find "$out" -type f | wc -l)
# Mail only: the .eml files, and the regression inputs of tests/fixtures/fuzz.
{ find "${srcs[@]}" -type f -name '*.eml' -print0
  [ -d "$root/tests/fixtures/fuzz" ] && find "$root/tests/fixtures/fuzz" -type f ! -name '.*' -print0
  true; } |
    while IFS= read -r -d '' f; do
        h=$(sha1sum "$f" | cut -c1-40)
        [ -e "$out/$h" ] || cp "$f" "$out/$h"
    done
# The splitter wants mbox files: a few fixtures behind envelope lines, LF and CR-only forms.
if [ "$target" = mbox ] && [ ! -e "$out/seed-lf.mbox" ]; then
    for f in $(find "$root/tests/fixtures/parse" -name '*.eml' | sort | head -4); do
        printf 'From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n'
        sed 's/^\(>*From \)/>\1/' "$f"
        printf '\n'
    done >"$out/seed-lf.mbox"
    tr '\n' '\r' <"$out/seed-lf.mbox" >"$out/seed-cr.mbox"
fi
after=$(find "$out" -type f | wc -l)
echo "seed: $out holds $after inputs ($((after - before)) new)"
