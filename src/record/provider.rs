//! Mailbox providers by recipient domain: the consumer domains of the large providers, so
//! statistics can read "Microsoft" for hotmail.com, outlook.fr and live.co.uk together —
//! providers throttle, block and review senders as one system, whatever the domain.
//!
//! Takes a recipient domain; gives the provider's name, or nothing for a domain not listed
//! (a company's own domain: it stays itself — which provider hosts it shows under the
//! remote-host grouping, from its MX). Pure; it never resolves DNS.
//!
//! The domains are each provider's own published consumer domains (their sign-up pages and
//! postmaster sites: Google, Microsoft's Outlook.com, Yahoo/AOL, Apple iCloud, GMX/Web.de,
//! Mail.ru, Yandex, Tencent, NetEase, the French, German, Italian, Polish, Czech, Korean and
//! Japanese consumer providers, and the US access providers' mail).

/// Domains (and their subdomains) per provider.
const PROVIDERS: &[(&str, &[&str])] = &[
    ("Google", &["gmail.com", "googlemail.com"]),
    ("Microsoft", &["hotmail.com", "outlook.com", "live.com", "msn.com", "passport.com", "windowslive.com"]),
    ("Yahoo Japan", &["yahoo.co.jp", "ymail.ne.jp"]),
    ("Yahoo", &["yahoo.com", "ymail.com", "rocketmail.com", "aol.com", "aim.com", "verizon.net", "love.com"]),
    ("AT&T", &["att.net", "sbcglobal.net", "bellsouth.net", "pacbell.net", "flash.net", "prodigy.net"]),
    ("Apple", &["icloud.com", "me.com", "mac.com"]),
    ("Comcast", &["comcast.net", "xfinity.com"]),
    ("Cox", &["cox.net"]),
    ("Spectrum", &["charter.net", "twc.com", "rr.com", "brighthouse.com"]),
    ("GMX / Web.de", &["gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.com", "web.de", "mail.com"]),
    ("T-Online", &["t-online.de"]),
    ("Mail.ru", &["mail.ru", "bk.ru", "inbox.ru", "list.ru", "internet.ru", "my.com"]),
    ("Yandex", &["yandex.ru", "yandex.com", "ya.ru", "narod.ru"]),
    ("Rambler", &["rambler.ru", "lenta.ru", "ro.ru"]),
    ("Tencent", &["qq.com", "foxmail.com", "vip.qq.com"]),
    ("NetEase", &["163.com", "126.com", "yeah.net", "188.com"]),
    ("Orange", &["orange.fr", "wanadoo.fr"]),
    ("SFR", &["sfr.fr", "neuf.fr"]),
    ("Free", &["free.fr"]),
    ("La Poste", &["laposte.net"]),
    ("Italiaonline", &["libero.it", "virgilio.it", "inwind.it", "iol.it"]),
    ("WP / o2", &["wp.pl", "o2.pl"]),
    ("Interia", &["interia.pl", "poczta.fm"]),
    ("Onet", &["onet.pl", "op.pl"]),
    ("Seznam", &["seznam.cz", "email.cz"]),
    ("Naver", &["naver.com"]),
    ("Zoho", &["zoho.com", "zohomail.com"]),
    ("Proton", &["proton.me", "protonmail.com", "protonmail.ch", "pm.me"]),
    ("NTT Docomo", &["docomo.ne.jp"]),
    ("KDDI au", &["ezweb.ne.jp", "au.com"]),
    ("SoftBank", &["softbank.ne.jp", "i.softbank.jp"]),
];

/// Brands whose consumer domains exist under many country suffixes (hotmail.co.uk,
/// outlook.fr, yahoo.com.br, gmx.es): `BRAND.SUFFIX` with a short country or generic suffix.
const BRANDS: &[(&str, &str)] = &[
    ("hotmail", "Microsoft"),
    ("outlook", "Microsoft"),
    ("live", "Microsoft"),
    ("msn", "Microsoft"),
    ("windowslive", "Microsoft"),
    ("yahoo", "Yahoo"),
    ("ymail", "Yahoo"),
    ("aol", "Yahoo"),
    ("gmx", "GMX / Web.de"),
    ("yandex", "Yandex"),
];

/// The provider of a recipient domain (compared without case), or `None`.
pub fn of_domain(domain: &str) -> Option<&'static str> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let listed = |list: &[&str]| list.iter().any(|l| d == *l || d.strip_suffix(l).is_some_and(|p| p.ends_with('.')));
    if let Some((name, _)) = PROVIDERS.iter().find(|(_, list)| listed(list)) {
        return Some(name);
    }
    let (brand, suffix) = d.split_once('.')?;
    let short = |s: &str| (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase());
    let country = {
        let parts: Vec<&str> = suffix.split('.').collect();
        parts.len() <= 2 && parts.iter().all(|p| short(p))
    };
    BRANDS.iter().find(|(b, _)| *b == brand && country).map(|(_, name)| *name)
}

/// What a statistics grouping by provider shows for a domain: its provider, or the domain.
pub fn label(domain: &str) -> String {
    of_domain(domain).map_or_else(|| domain.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_domains_their_subdomains_and_country_variants() {
        assert_eq!(of_domain("gmail.com"), Some("Google"));
        assert_eq!(of_domain("GoogleMail.com."), Some("Google"));
        assert_eq!(of_domain("hotmail.co.uk"), Some("Microsoft"));
        assert_eq!(of_domain("outlook.fr"), Some("Microsoft"));
        assert_eq!(of_domain("yahoo.com.br"), Some("Yahoo"));
        assert_eq!(of_domain("yahoo.co.jp"), Some("Yahoo Japan"), "Yahoo Japan is a provider of its own");
        assert_eq!(of_domain("nyc.rr.com"), Some("Spectrum"));
        assert_eq!(of_domain("i.softbank.jp"), Some("SoftBank"));
    }

    #[test]
    fn other_domains_are_not_a_provider() {
        // A company's domain, a lookalike, a brand under a long suffix, a suffix match that is
        // not a subdomain.
        for d in ["example.com", "gmail.com.evil.example", "live.example.com", "notgmail.com", "myaol.com", ""] {
            assert_eq!(of_domain(d), None, "{d}");
        }
        assert_eq!(label("example.com"), "example.com");
        assert_eq!(label("aol.com"), "Yahoo");
    }
}
