#!/usr/bin/env bash
# A throw-away Dovecot for tests and `make demo`, on loopback high ports, with its own
# config, users, CA and certificate; nothing from /etc/dovecot is used.
#
#   dovecot.sh start [DIR]   (re)start; writes DIR/env with the ports, users and CA path
#   dovecot.sh stop  [DIR]
#
# Two instances run: "tls" (IMAP 10143 with STARTTLS, IMAPS 10993, POP3 10110 with STLS,
# POP3S 10995) and "plain" (IMAP 11143, POP3 11110, no TLS at all: for "STARTTLS not
# offered" cases). REBOUND_TEST_PORT_BASE (default 10000) shifts all ports, so two
# checkouts can run their tests side by side. Users live in DIR/users (passwd-file, re-read by Dovecot when it
# changes), so tests can add their own mailboxes while it runs.
# Both instances also take OAuth2 bearer tokens (SASL XOAUTH2 and OAUTHBEARER): Dovecot's
# oauth2 passdb asks the token introspection endpoint at 127.0.0.1:(B + 1980)/introspect,
# which the tests that use OAuth2 serve themselves (tests/support/oauth.rs); passwords keep
# going to the passwd-file passdb.
set -euo pipefail
cmd=${1:?usage: dovecot.sh start|stop [DIR]}
DIR=${2:-${REBOUND_TEST_DOVECOT_DIR:-/tmp/rebound-test-dovecot}}
B=${REBOUND_TEST_PORT_BASE:-10000}
IMAP=$((B + 143)) IMAPS=$((B + 993)) POP3=$((B + 110)) POP3S=$((B + 995))
PLAIN_IMAP=$((B + 1143)) PLAIN_POP3=$((B + 1110))
OAUTH=$((B + 1980))

stop_one() {
  local pid
  pid=$(cat "$1/run/master.pid" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}

if [ "$cmd" = stop ]; then
  stop_one "$DIR/tls"; stop_one "$DIR/plain"
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: dovecot.sh start|stop [DIR]" >&2; exit 2; }
command -v dovecot >/dev/null || { echo "dovecot is not installed: run tests/support/deps.sh" >&2; exit 1; }

stop_one "$DIR/tls"; stop_one "$DIR/plain"
rm -rf "$DIR"; mkdir -p "$DIR/home"
chmod 755 "$DIR" "$DIR/home"

# A private CA and a server certificate for localhost/127.0.0.1 signed by it, so tests can
# check both "verified with ca_file" and "fails verification without it".
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=rebound test CA" \
  -keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$DIR/key.pem" -out "$DIR/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$DIR/san.ext"
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
  -days 30 -extfile "$DIR/san.ext" -out "$DIR/cert.pem" 2>/dev/null
chmod 644 "$DIR"/*.pem

add_user() { # name password
  echo "$1:{PLAIN}$2:65534:65534::$DIR/home/$1::" >> "$DIR/users"
  mkdir -p "$DIR/home/$1/Maildir"/{cur,new,tmp}
  chown -R 65534:65534 "$DIR/home/$1"
}
: > "$DIR/users"
add_user rebound rebound-pw
add_user fbl fbl-pw

write_conf() { # name ssl imap_port imaps_port pop3_port pop3s_port
  local d=$DIR/$1; mkdir -p "$d/run" "$d/state"
  cat > "$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
instance_name = rebound-test-$1
listen = 127.0.0.1
protocols = imap pop3
first_valid_uid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
ssl = $2
$( [ "$2" = yes ] && printf 'ssl_cert = <%s\nssl_key = <%s\nssl_dh = </usr/share/dovecot/dh.pem\n' "$DIR/cert.pem" "$DIR/key.pem" )
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $d/oauth2.conf
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN $DIR/users
}
userdb {
  driver = passwd-file
  args = $DIR/users
}
service imap-login {
  inet_listener imap {
    port = $3
  }
  inet_listener imaps {
    port = $4
    $( [ "$2" = yes ] && echo "ssl = yes" )
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $5
  }
  inet_listener pop3s {
    port = $6
    $( [ "$2" = yes ] && echo "ssl = yes" )
  }
}
# No auth penalty: tests fail logins from 127.0.0.1 on purpose, and anvil would then delay
# every later login from it (doubling up to 15 s) past the tests' timeouts.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
CONF
  cat > "$d/oauth2.conf" <<OAUTH2
introspection_mode = post
introspection_url = http://127.0.0.1:$OAUTH/introspect
username_attribute = username
active_attribute = active
active_value = true
OAUTH2
  dovecot -c "$d/dovecot.conf"
}
# The plain instance's imaps/pop3s ports are 0: no TLS listener at all.
write_conf tls yes $IMAP $IMAPS $POP3 $POP3S
write_conf plain no $PLAIN_IMAP 0 $PLAIN_POP3 0

for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$IMAP && exec 3<>/dev/tcp/127.0.0.1/$PLAIN_POP3) 2>/dev/null && break
  sleep 0.1
done
cat > "$DIR/env" <<ENV
REBOUND_TEST_DOVECOT_DIR=$DIR
REBOUND_TEST_IMAP_PORT=$IMAP
REBOUND_TEST_IMAPS_PORT=$IMAPS
REBOUND_TEST_POP3_PORT=$POP3
REBOUND_TEST_POP3S_PORT=$POP3S
REBOUND_TEST_PLAIN_IMAP_PORT=$PLAIN_IMAP
REBOUND_TEST_PLAIN_POP3_PORT=$PLAIN_POP3
REBOUND_TEST_CA_FILE=$DIR/ca.pem
REBOUND_TEST_OAUTH_PORT=$OAUTH
ENV
echo "dovecot: running in $DIR (IMAP $IMAP/$IMAPS, POP3 $POP3/$POP3S, plain $PLAIN_IMAP/$PLAIN_POP3)"
