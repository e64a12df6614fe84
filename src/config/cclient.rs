//! The legacy c-client mailbox form (`{mail.example.com:995/pop3/ssl/novalidate-cert}INBOX`)
//! that PHP `imap_open` users and older bounce processors keep in their settings.
//!
//! Takes the `host` string; gives the host plus whatever the flags say (protocol, port,
//! security, certificate checking, folder), or a message naming the flag it does not know.
//! It never applies defaults: the caller merges these with the explicit keys.

use super::mailbox::{Protocol, Security};

/// What a c-client host string says. `None` means "not stated in the string".
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CClient {
    pub host: String,
    pub port: Option<u16>,
    pub protocol: Option<Protocol>,
    pub security: Option<Security>,
    pub verify_certificate: Option<bool>,
    pub folder: Option<String>,
}

/// True when `host` is in the c-client form rather than a bare host name.
pub fn is_cclient(host: &str) -> bool {
    if host.starts_with('{') || host.contains('/') {
        return true;
    }
    // A port after the host; a bare IPv6 address has several colons and no brackets.
    if host.starts_with('[') { host.contains("]:") } else { host.matches(':').count() == 1 }
}

/// Parses `{host[:port][/flag…]}[FOLDER]` (braces optional).
pub fn parse(text: &str) -> Result<CClient, String> {
    let text = text.trim();
    let (inner, folder) = match text.strip_prefix('{') {
        Some(rest) => {
            let (inner, folder) =
                rest.split_once('}').ok_or("has `{` without the closing `}`; write {host:port/flags}FOLDER")?;
            (inner, (!folder.is_empty()).then(|| folder.to_string()))
        }
        None => (text, None),
    };
    let mut parts = inner.split('/');
    let hostport = parts.next().unwrap_or_default();
    let mut out = CClient { folder, ..CClient::default() };
    let (host, port) = split_port(hostport)?;
    if host.is_empty() {
        return Err("has no host name before the port and flags".into());
    }
    out.host = host.to_string();
    out.port = port;
    // c-client negotiates STARTTLS when offered unless /ssl or /notls; rebound requires it
    // instead, so a password never goes out in clear without the operator saying so.
    let mut tls_flag = None;
    for flag in parts {
        match flag.to_ascii_lowercase().as_str() {
            "pop3" => out.protocol = Some(Protocol::Pop3),
            "imap" | "imap4" | "imap4rev1" => out.protocol = Some(Protocol::Imap),
            "ssl" => tls_flag = Some(Security::Ssl),
            "tls" => tls_flag = Some(Security::Starttls),
            "notls" => tls_flag = Some(Security::None),
            "novalidate-cert" => out.verify_certificate = Some(false),
            "validate-cert" => out.verify_certificate = Some(true),
            // Flags that change nothing for a client that only logs in and reads.
            "norsh" | "readonly" | "secure" => {}
            other => {
                return Err(format!(
                    "has the c-client flag `/{other}`, which rebound does not know; \
                     use /pop3 or /imap, /ssl, /tls, /notls, /novalidate-cert or /validate-cert"
                ));
            }
        }
    }
    out.security = match (tls_flag, out.protocol) {
        (Some(s), _) => Some(s),
        (None, Some(_)) => Some(Security::Starttls),
        (None, None) => None,
    };
    Ok(out)
}

fn split_port(hostport: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        // [IPv6]:port
        let (h, after) = rest.split_once(']').ok_or("has `[` without `]` around an IPv6 address")?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("has `{p}` as port; write a number 1-65535"))?,
        ),
        None => None,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_form_with_braces_and_folder() {
        let c = parse("{mail.example.com:995/pop3/ssl/novalidate-cert}INBOX").unwrap();
        assert_eq!(
            c,
            CClient {
                host: "mail.example.com".into(),
                port: Some(995),
                protocol: Some(Protocol::Pop3),
                security: Some(Security::Ssl),
                verify_certificate: Some(false),
                folder: Some("INBOX".into()),
            }
        );
    }

    #[test]
    fn protocol_without_tls_flag_means_starttls() {
        let c = parse("mail.example.com/imap").unwrap();
        assert_eq!((c.port, c.security), (None, Some(Security::Starttls)));
        assert_eq!(parse("h:143/imap/notls").unwrap().security, Some(Security::None));
        assert_eq!(parse("h:143/tls").unwrap().security, Some(Security::Starttls));
        assert_eq!(parse("h:993").unwrap().security, None);
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        assert!(parse("h:995/pop3/debug").unwrap_err().contains("/debug"));
        assert!(parse("h:99999/pop3").unwrap_err().contains("99999"));
        assert!(parse("{h/pop3").unwrap_err().contains("}"));
        assert!(parse(":995/pop3").unwrap_err().contains("no host"));
    }

    #[test]
    fn recognises_the_form() {
        assert!(is_cclient("{h}INBOX") && is_cclient("h:995") && is_cclient("h/pop3"));
        assert!(is_cclient("[::1]:993"));
        assert!(!is_cclient("mail.example.com") && !is_cclient("[::1]") && !is_cclient("::1"));
    }
}
