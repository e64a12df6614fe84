//! qmail and qmail-derived MTAs: "Hi. This is the qmail-send program at ...", then
//! "<address>:" lines each followed by the remote host's words, and
//! "--- Below this line is a copy of the message.".

use super::{Dialect, scan};
use crate::parse::mail::Mail;
use crate::parse::types::Reason;

pub const DIALECT: Dialect = Dialect { name: "qmail", detect, parse, reasons: REASONS };

/// qmail's own fixed sentences (qmail-send.c, qmail-remote.c, qmail-local.c, error_str.c)
/// and those of the widespread qmail-ldap patch; shared by qmail-derived services (Yahoo).
/// The last two are vague and more specific words in the reply still outrank them: qmail's
/// own local failures are sentences starting "Unable to ..." (matched with that capital:
/// a lower-case "unable to connect" inside a relayed reply is someone else's words), and its
/// give-up line "this message has been in the queue too long" (see there for its place).
pub const REASONS: &[(&str, Reason)] = &[
    ("no mailbox here by that name", Reason::UserUnknown),
    ("sorry, i couldn't find any host ", Reason::HostUnknown),
    ("disk quota exceeded", Reason::MailboxFull),
    ("message size exceeds fixed maximum message size", Reason::MesgTooBig),
    ("sorry, i couldn't find a mail exchanger or ip address", Reason::NotAccept),
    ("mailbox unavailable (not enough free space)", Reason::SystemFull),
    ("mailaddress is administrativ", Reason::Suspend),
    ("exeeded the maximum size the user accepts", Reason::ExceedLimit),
    ("automatic homedir creator crashed", Reason::SystemError),
    ("illegal value in ldap attribute", Reason::SystemError),
    ("ldap attribute is not given but mandatory", Reason::SystemError),
    ("timeout while performing search on ldap server", Reason::SystemError),
    ("too many results returned but needs to be unique", Reason::SystemError),
    ("error while executing qmail-forward", Reason::SystemError),
    ("error in automatic homedir creation", Reason::SystemError),
    ("temporary failure in ldap lookup", Reason::SystemError),
    ("unable to contact ldap server", Reason::SystemError),
    ("unable to login into ldap server", Reason::SystemError),
    ("bad interpreter: no such file or directory", Reason::SystemError),
    ("system error", Reason::SystemError),
    ("Unable to ", Reason::SystemError),
    // The give-up line is qmail-send's verdict on the delivery (it retried until the queue
    // lifetime ran out): it outranks the last attempt's connection failure printed above
    // it, not a local failure ("Unable to contact LDAP server": the system's own trouble).
    ("this message has been in the queue too long", Reason::Expired),
    ("sorry, i wasn't able to establish an smtp connection", Reason::NetworkError),
    ("although i'm listed as a best-preference mx", Reason::NetworkError),
];

fn detect(m: &Mail) -> bool {
    m.has("this is the qmail-send program")
        || m.has("--- below this line is a copy of the message")
        || m.has("unable to deliver message to the following address")
}

fn parse(m: &Mail) -> Vec<crate::parse::types::Record> {
    scan(m, "qmail", &["following address", "deliver your message to the following"])
}
