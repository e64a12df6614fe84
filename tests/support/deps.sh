#!/usr/bin/env bash
# Installs and starts what the tests (and `make bench`: GNU time) need, on a fresh machine
# of this kind, idempotently:
# Debian packages (Dovecot, Postfix with cdb/lmdb maps and tinycdb for the sync tests, OpenSSL,
# headers for the -sys crates, curl for the README walkthrough test, Chromium and ChromeDriver
# for the web admin tests in tests/web) and a running PostgreSQL
# on 127.0.0.1:5432 that trusts local connections and has a database `test`.
set -euo pipefail

need=()
for pkg in dovecot-imapd dovecot-pop3d postfix postfix-cdb postfix-lmdb tinycdb openssl libssl-dev libpq-dev pkg-config python3 ca-certificates time curl chromium chromium-driver; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_ctlcluster >/dev/null && ! pg_up; then need+=(postgresql); fi

if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d 101: packages must not start their system services (no init here; the
  # tests run their own Dovecot and Postfix on high ports).
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

if ! pg_up; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  # A freshly installed cluster asks for passwords over TCP; the tests expect trust on loopback.
  if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  echo "deps: starting PostgreSQL $ver"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
  pg_up || { echo "deps: PostgreSQL did not start; see /var/log/postgresql/" >&2; exit 1; }
fi
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
