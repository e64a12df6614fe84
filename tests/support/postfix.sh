#!/usr/bin/env bash
# A throw-away Postfix as a sending node under test, on loopback, with its own config
# directory; nothing in /etc/postfix is used or changed, and the system instance stays stopped.
#
#   postfix.sh start [DIR]   (re)start; writes DIR/env with the SMTP port and the table path
#   postfix.sh stop  [DIR]
#
# smtpd listens on 127.0.0.1:(REBOUND_TEST_PORT_BASE + 2525) (default 12525) and refuses
# every recipient listed in the access table DIR/suppressed (cdb), via
# `check_recipient_access cdb:DIR/suppressed`; it accepts the others from 127.0.0.0/8 and
# relays nowhere (relayhost [127.0.0.1]:1) except mail for sink.rebound.test, which goes to
# 127.0.0.1:(REBOUND_TEST_PORT_BASE + 2526), where a test may run an SMTP sink that refuses or
# defers some recipients. Postfix logs to DIR/maillog (maillog_file, through postlogd). The
# tests render DIR/suppressed with rebound and talk SMTP to it, and ingest the real maillog.
set -euo pipefail
cmd=${1:?usage: postfix.sh start|stop [DIR]}
DIR=${2:-${REBOUND_TEST_POSTFIX_DIR:-/tmp/rebound-test-postfix}}
B=${REBOUND_TEST_PORT_BASE:-10000}
SMTP=$((B + 2525))
SINK=$((B + 2526))

if [ "$cmd" = stop ]; then
  [ -f "$DIR/main.cf" ] && postfix -c "$DIR" stop >/dev/null 2>&1 || true
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: postfix.sh start|stop [DIR]" >&2; exit 2; }
command -v postfix >/dev/null || { echo "postfix is not installed: run tests/support/deps.sh" >&2; exit 1; }

[ -f "$DIR/main.cf" ] && postfix -c "$DIR" stop >/dev/null 2>&1 || true
rm -rf "$DIR"; mkdir -p "$DIR/queue" "$DIR/data"
chmod 755 "$DIR"
chown postfix "$DIR/data"
sed "s|^smtp \+inet .*|127.0.0.1:$SMTP inet n - n - - smtpd|" /etc/postfix/master.cf > "$DIR/master.cf"
cat > "$DIR/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $DIR/queue
data_directory = $DIR/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = node.rebound.test
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:1
transport_maps = texthash:$DIR/transport
# The sink answers at once; a deferred recipient is not retried within a test.
minimal_backoff_time = 300s
maillog_file = $DIR/maillog
maillog_file_prefixes = $DIR
smtpd_recipient_restrictions = check_recipient_access cdb:$DIR/suppressed, permit_mynetworks, reject
CONF
echo "sink.rebound.test smtp:[127.0.0.1]:$SINK" > "$DIR/transport"
# An empty table until rebound writes one, so smtpd starts with a valid map.
: > "$DIR/suppressed"
postmap -c "$DIR" "cdb:$DIR/suppressed"
postfix -c "$DIR" set-permissions >/dev/null 2>&1 || true
postfix -c "$DIR" start >/dev/null 2>&1
for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$SMTP) 2>/dev/null && break
  sleep 0.1
done
(exec 3<>/dev/tcp/127.0.0.1/$SMTP) 2>/dev/null || { echo "postfix did not start; see $DIR/maillog" >&2; exit 1; }
cat > "$DIR/env" <<ENV
REBOUND_TEST_POSTFIX_DIR=$DIR
REBOUND_TEST_SMTP_PORT=$SMTP
REBOUND_TEST_SINK_PORT=$SINK
REBOUND_TEST_POSTFIX_TABLE=$DIR/suppressed
ENV
echo "postfix: running in $DIR (SMTP 127.0.0.1:$SMTP)"
