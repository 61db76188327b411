//! Where leakwatch may send a webhook: the egress guard (issue #18, finding 5). A webhook URL
//! is `https://` to a host every address of which is public: none loopback, private
//! (RFC 1918), shared (RFC 6598), link-local (169.254/16, fe80::/10, where cloud metadata
//! services answer), unique-local (fc00::/7), multicast, unspecified, broadcast or reserved,
//! and no IPv4-mapped or -translated IPv6 form of one. The check is made when the webhook is
//! registered and again, with a fresh lookup, when each call is composed; the call then goes
//! to exactly the addresses vetted ([`VettedUrl::addrs`]), so a name that changes between
//! check and connect reaches nothing new. Plain `http://` is allowed only to loopback and
//! only when the operator sets `insecure_webhooks_to_loopback` (for tests).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// What the guard allows.
#[derive(Debug, Clone, Copy)]
pub struct EgressPolicy {
    /// The DNS resolver that names are looked up with.
    pub resolver: SocketAddr,
    /// Allow `http://` to hosts whose every address is loopback (tests only).
    pub http_to_loopback: bool,
}

/// Why a webhook URL is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// Not an `https://` URL (or `http://` to loopback where allowed).
    #[error("the webhook URL must be an https:// URL")]
    Scheme,
    /// Not a URL with a host.
    #[error("the webhook URL is not a valid URL with a host")]
    BadUrl,
    /// The host has an address leakwatch does not send to.
    #[error(
        "the webhook host resolves to {0}, a {1} address: webhooks go only to public addresses"
    )]
    Forbidden(IpAddr, &'static str),
    /// The host has no address.
    #[error("the webhook host has no address")]
    NoAddress,
    /// Looking the host up failed.
    #[error(transparent)]
    Dns(#[from] crate::dns::DnsError),
    /// The signing secret is too short to resist guessing.
    #[error("the webhook secret must be at least 16 characters")]
    ShortSecret,
}

/// A URL the guard let through, with the addresses it may be sent to (and only those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VettedUrl {
    /// The URL as given.
    pub url: String,
    /// Where to connect: the host's vetted addresses with the URL's port.
    pub addrs: Vec<SocketAddr>,
}

/// A webhook whose URL the guard let through and whose secret is long enough: the only kind
/// a domain registration takes.
#[derive(Debug, Clone)]
pub struct CheckedWebhook(leakwatch_notify::Webhook);

impl CheckedWebhook {
    /// The webhook.
    pub fn webhook(&self) -> &leakwatch_notify::Webhook {
        &self.0
    }
}

/// Checks a webhook for a registration: its URL under `policy` (looked up now), and a
/// secret of at least 16 characters.
pub fn check_webhook(
    policy: &EgressPolicy,
    webhook: leakwatch_notify::Webhook,
) -> Result<CheckedWebhook, EgressError> {
    if webhook.secret.chars().count() < 16 {
        return Err(EgressError::ShortSecret);
    }
    vet(policy, &webhook.url)?;
    Ok(CheckedWebhook(webhook))
}

/// What kind of non-public address `ip` is, if it is one.
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => {
            // The IPv4 address an IPv6 one stands for (mapped ::ffff:a.b.c.d, the NAT64
            // well-known prefix 64:ff9b::/96): judged as that address.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_kind(v4).or(Some("IPv4-mapped"));
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let v4 =
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                return v4_kind(v4).or(Some("NAT64"));
            }
            v6_kind(v6)
        }
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local (cloud metadata)",
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_multicast() => "multicast",
        _ if a == 100 && (64..128).contains(&b) => "shared (carrier-grade NAT)",
        _ if a == 192 && b == 0 && c == 0 => "IETF protocol assignment",
        _ if a == 198 && (b == 18 || b == 19) => "benchmarking",
        _ if a >= 240 => "reserved",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_multicast() => "multicast",
        _ if s[0] & 0xffc0 == 0xfe80 => "link-local",
        _ if s[0] & 0xfe00 == 0xfc00 => "unique-local (ULA)",
        _ if s[0] & 0xffc0 == 0xfec0 => "site-local",
        // ::a.b.c.d (IPv4-compatible, deprecated) and the discard prefix 100::/64.
        _ if s[..6] == [0, 0, 0, 0, 0, 0] => "IPv4-compatible",
        _ if s[0] == 0x100 && s[1..4] == [0, 0, 0] => "discard",
        _ => return None,
    })
}

/// How long a lookup of a webhook's host may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Vets `url` under `policy`: its scheme, then every address of its host (an IP literal is
/// its own address), looked up now.
pub fn vet(policy: &EgressPolicy, url: &str) -> Result<VettedUrl, EgressError> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(EgressError::Scheme);
    };
    if !https && !policy.http_to_loopback {
        return Err(EgressError::Scheme);
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || url.len() > 2048 {
        return Err(EgressError::BadUrl);
    }
    let (host, port) = split_host_port(authority).ok_or(EgressError::BadUrl)?;
    let port = port.unwrap_or(if https { 443 } else { 80 });
    let ips = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => crate::dns::ip_addrs(policy.resolver, host, LOOKUP_TIMEOUT)?,
    };
    if ips.is_empty() {
        return Err(EgressError::NoAddress);
    }
    for &ip in &ips {
        match forbidden_kind(ip) {
            None if https => {}
            Some("loopback") if !https => {}
            // Plain http goes nowhere but loopback, even where it is allowed.
            None => return Err(EgressError::Scheme),
            Some(kind) => return Err(EgressError::Forbidden(ip, kind)),
        }
    }
    Ok(VettedUrl {
        url: url.to_owned(),
        addrs: ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect(),
    })
}

/// `host[:port]` or `[v6][:port]`.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        Some(_) => None,
        None => Some((authority, None)),
    }
    .filter(|(host, _)| !host.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(http_to_loopback: bool) -> EgressPolicy {
        // Nothing listens here: IP literals need no lookup, and a name fails fast.
        EgressPolicy {
            resolver: "127.0.0.1:9".parse().unwrap(),
            http_to_loopback,
        }
    }

    #[test]
    fn only_public_addresses_pass_in_every_notation() {
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = bad.parse().unwrap();
            assert!(forbidden_kind(ip).is_some(), "{bad} passed");
        }
        for good in [
            "93.184.216.34",
            "198.51.100.7",
            "2606:2800:220:1::1",
            "1.1.1.1",
        ] {
            let ip: IpAddr = good.parse().unwrap();
            assert_eq!(forbidden_kind(ip), None, "{good}");
        }
    }

    #[test]
    fn urls_need_https_to_a_public_host_and_keep_their_port() {
        let strict = policy(false);
        for bad in [
            "http://127.0.0.1/",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:10.0.0.1]:8443/",
            "ftp://198.51.100.7/",
            "https://user@198.51.100.7/",
            "https:///x",
            "http://198.51.100.7/",
        ] {
            assert!(vet(&strict, bad).is_err(), "{bad} passed");
        }
        let v = vet(&strict, "https://198.51.100.7:8443/hook?x=1").unwrap();
        assert_eq!(v.addrs, ["198.51.100.7:8443".parse().unwrap()]);
        let v = vet(&strict, "https://[2606:2800:220:1::1]/h").unwrap();
        assert_eq!(v.addrs[0].port(), 443);
        // The test setting: plain http to loopback only.
        let tests = policy(true);
        assert!(vet(&tests, "http://127.0.0.1:8080/hook").is_ok());
        assert!(vet(&tests, "http://198.51.100.7/hook").is_err());
        assert!(vet(&tests, "https://127.0.0.1/hook").is_err());
    }
}
