#!/usr/bin/env bash
# `make demo`: a throw-away Dovecot on loopback with a bounce mailbox (IMAP, IDLE) and a
# feedback-loop mailbox (POP3), a handful of sample bounces and complaints written for this
# demo, and `rebound serve` polling both. Mail flows into campaign records and suppression
# within seconds; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
DEMO=${REBOUND_DEMO_DIR:-/tmp/rebound-demo}
export REBOUND_TEST_PORT_BASE=${REBOUND_DEMO_PORT_BASE:-30000}
mkdir -p data

bash tests/support/deps.sh
bash tests/support/dovecot.sh start "$DEMO" >/dev/null
trap 'bash tests/support/dovecot.sh stop "$DEMO"' EXIT
. "$DEMO/env"
conf="$DEMO/tls/dovecot.conf"

dsn() { # recipient status diagnostic
  cat <<MAIL
From: MAILER-DAEMON@mx.demo.example (Mail Delivery System)
To: bounces@sender.demo.example
Subject: Undelivered Mail Returned to Sender
Date: $(date -R)
Message-ID: <$RANDOM$RANDOM@mx.demo.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.demo.example
Arrival-Date: $(date -R)

Final-Recipient: rfc822; $1
Action: failed
Status: $2
Remote-MTA: dns; in.demo.example
Diagnostic-Code: smtp; $3

--B
Content-Type: text/rfc822-headers

From: News <news@sender.demo.example>
To: $1
Subject: Spring sale
Message-ID: <$RANDOM@sender.demo.example>
X-Campaign-ID: spring-sale

--B--
MAIL
}

arf() { # recipient feedback-type
  cat <<MAIL
From: fbl@isp.demo.example
To: fbl@sender.demo.example
Subject: Abuse report
Date: $(date -R)
Message-ID: <$RANDOM$RANDOM@isp.demo.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="A"

--A
Content-Type: text/plain

This is an email abuse report for an email message received from IP 192.0.2.10.

--A
Content-Type: message/feedback-report

Feedback-Type: $2
User-Agent: DemoISP-FBL/1.0
Version: 1
Original-Rcpt-To: $1
Arrival-Date: $(date -R)
Source-IP: 192.0.2.10

--A
Content-Type: message/rfc822

From: News <news@sender.demo.example>
To: $1
Subject: Spring sale
Message-ID: <$RANDOM@sender.demo.example>
X-Campaign-ID: spring-sale

Hello!

--A--
MAIL
}

save() { doveadm -c "$conf" save -u "$1" -m INBOX; }
dsn gone@example.org 5.1.1 "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown" | save rebound
dsn full@example.org 5.2.2 "552 5.2.2 Mailbox full: quota exceeded" | save rebound
dsn nodomain@no-such-domain.example 5.1.2 "Host or domain name not found. Name service error" | save rebound
dsn ip-block@example.org 5.7.1 "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org" | save rebound
arf angry@example.net abuse | save fbl
arf changed-mind@example.net not-spam | save fbl

echo rebound-pw > "$DEMO/bounce.pw"
echo fbl-pw > "$DEMO/fbl.pw"
cat > "$DEMO/rebound.toml" <<CONF
[server]
listen = "127.0.0.1:8025"

[database]
url = "sqlite://data/demo.db"

[[mailbox]]
name = "bounces"
purpose = "bounce"
protocol = "imap"
host = "localhost"
port = $REBOUND_TEST_IMAPS_PORT
security = "ssl"
ca_file = "$REBOUND_TEST_CA_FILE"
username = "rebound"
password_file = "$DEMO/bounce.pw"
after_processing = "move:Processed"
schedule = "* * * * *"
idle = true

[[mailbox]]
name = "fbl"
purpose = "fbl"
protocol = "pop3"
host = "localhost"
port = $REBOUND_TEST_POP3S_PORT
security = "ssl"
ca_file = "$REBOUND_TEST_CA_FILE"
username = "fbl"
password_file = "$DEMO/fbl.pw"
after_processing = "delete"
schedule = "* * * * *"
CONF

cargo build --release --locked --quiet
R="./target/release/rebound --config $DEMO/rebound.toml"
$R verify bounces || true
cat <<EOT

Demo mailboxes hold 4 bounces and 2 complaints; rebound polls them every minute (the IMAP
one also by IDLE). In another terminal, within a minute:

  $R mailbox list
  $R campaign list
  $R campaign spring-sale bounced
  $R campaign spring-sale complaints
  $R suppression list
  curl http://127.0.0.1:8025/healthz

Ctrl-C stops rebound and the demo Dovecot.
EOT
$R serve
