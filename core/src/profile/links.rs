//! URLs a host may fetch (avatar, social links) and the IP/host checks
//! behind them (SPEC §3).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};

/// An absolute URL a host may fetch: `https` (or `http` where the service's
/// config allows it; see [`Config::allow_http_avatars`](crate::Config)), at most
/// 2048 bytes, no `user:password@`, and a host that is neither `localhost` nor
/// an IP literal in a loopback, private, link-local, shared, multicast,
/// broadcast or unspecified range (IPv4-mapped IPv6 included; decimal and hex
/// IPv4 spellings are normalised by the URL parser first, so they are caught too).
///
/// ```
/// use kinfolk::SafeUrl;
/// assert!(SafeUrl::parse("https://cdn.example.com/a.png").is_ok());
/// assert!(SafeUrl::parse("https://127.0.0.1/a.png").is_err());
/// assert!(SafeUrl::parse("https://2130706433/").is_err()); // 127.0.0.1 spelt as a number
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SafeUrl(String);
string_newtype!(SafeUrl);

impl SafeUrl {
    /// Longest allowed URL, in bytes.
    pub const MAX_LEN: usize = 2048;

    /// Validates a URL, accepting `https` and `http` (see [`SafeUrl::is_https`]).
    ///
    /// # Errors
    /// [`Error::Validation`] (`url`).
    pub fn parse(raw: &str) -> Result<Self> {
        Self::parse_field("url", raw)
    }

    pub(crate) fn parse_field(field: &'static str, raw: &str) -> Result<Self> {
        let raw = raw.trim();
        if raw.len() > Self::MAX_LEN {
            return Err(Error::validation(field, "URL is longer than 2048 bytes"));
        }
        let url = url::Url::parse(raw)
            .map_err(|e| Error::validation(field, format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(Error::validation(field, "only https URLs are allowed"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::validation(
                field,
                "URLs with user:password are not allowed",
            ));
        }
        match url.host() {
            None => return Err(Error::validation(field, "URL has no host")),
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d == "localhost" || d.ends_with(".localhost") || d.is_empty() {
                    return Err(Error::validation(field, "URL host is local"));
                }
            }
            Some(url::Host::Ipv4(ip)) => {
                if !is_public_ip(IpAddr::V4(ip)) {
                    return Err(Error::validation(field, "URL host is a non-public address"));
                }
            }
            Some(url::Host::Ipv6(ip)) => {
                if !is_public_ip(IpAddr::V6(ip)) {
                    return Err(Error::validation(field, "URL host is a non-public address"));
                }
            }
        }
        let s = url.to_string();
        if s.len() > Self::MAX_LEN {
            return Err(Error::validation(field, "URL is longer than 2048 bytes"));
        }
        Ok(Self(s))
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https:")
    }
}

// std answers what it can on stable (loopback, private, link-local, unique
// local, ...); the predicates for the shared, benchmarking and reserved IPv4
// ranges, IPv6 documentation and NAT64, and `is_global` are still unstable
// (feature `ip`), so those few ranges are written out as masks here. The
// `ipnet` crate would only turn the same masks into a CIDR table.
fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64)   // 100.64/10 shared (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18)   // 198.18/15 benchmarking
        || o[0] >= 240)
}

fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            // IPv4-compatible (deprecated) ::a.b.c.d
            if seg[..6] == [0; 6] {
                return false;
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local() // fc00::/7
                || v6.is_unicast_link_local() // fe80::/10
                || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)) // documentation
                && v6 != Ipv6Addr::LOCALHOST
        }
    }
}

/// Kinds of social link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum SocialKind {
    Website,
    Github,
    X,
    Instagram,
    Linkedin,
    Youtube,
    Mastodon,
    Other,
}

/// One social link: a kind and an `https` URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocialLink {
    /// What the link points at.
    pub kind: SocialKind,
    /// Where; always `https`.
    pub url: SafeUrl,
}

/// At most 8 social links, all `https`, no URL twice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<SocialLink>", into = "Vec<SocialLink>")]
pub struct SocialLinks(Vec<SocialLink>);

impl SocialLinks {
    /// Most links a profile may carry.
    pub const MAX: usize = 8;

    /// Validates a list of links.
    ///
    /// # Errors
    /// [`Error::Validation`] (`social_links`) for more than 8 links, a link
    /// that is not `https`, or the same URL twice.
    pub fn new(links: Vec<SocialLink>) -> Result<Self> {
        if links.len() > Self::MAX {
            return Err(Error::validation("social_links", "at most 8 links"));
        }
        for (i, l) in links.iter().enumerate() {
            if !l.url.is_https() {
                return Err(Error::validation("social_links", "links must be https"));
            }
            if links[..i].iter().any(|o| o.url == l.url) {
                return Err(Error::validation("social_links", "the same URL twice"));
            }
        }
        Ok(Self(links))
    }

    /// The links.
    pub fn as_slice(&self) -> &[SocialLink] {
        &self.0
    }
}

impl TryFrom<Vec<SocialLink>> for SocialLinks {
    type Error = Error;
    fn try_from(v: Vec<SocialLink>) -> Result<Self> {
        Self::new(v)
    }
}
impl From<SocialLinks> for Vec<SocialLink> {
    fn from(v: SocialLinks) -> Self {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_range_edges() {
        for (ip, public) in [
            ("fbff::1", true),
            ("fc00::1", false),
            ("fdff:ffff::1", false),
            ("fe00::1", true),
            ("fe7f::1", true),
            ("fe80::1", false),
            ("febf::1", false),
            ("fec0::1", false),
            ("2606:4700::1", true),
            ("::ffff:100.64.0.1", false),
            ("::ffff:100.128.0.1", true),
        ] {
            let addr: IpAddr = ip.parse().expect("a test literal");
            assert_eq!(is_public_ip(addr), public, "{ip}");
        }
    }
}
