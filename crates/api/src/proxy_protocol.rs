//! The PROXY protocol (version 2) from trusted load balancers, so that behind HAProxy (or any
//! proxy that speaks it) the client's address — which per-IP limits count and the audit
//! trail records as the peer — is the client's and not the proxy's.
//!
//! Only connections from the addresses named by `serve --proxy-protocol-from` are read this
//! way, and each of those must open with a version-2 header: a connection from a trusted
//! proxy without one is closed (the protocol forbids guessing), and a header from anyone else
//! is never read (it is just a bad request there), so nobody can claim another address by
//! sending one. A `LOCAL` header (a proxy's own health check) keeps the proxy's address, as
//! do address families without an IP (UNIX sockets, `UNSPEC`). Headers are parsed by the
//! `ppp` crate; this module only reads exactly the header's bytes off the connection.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use ppp::v2::{Addresses, Command, Header};
use tokio::io::AsyncReadExt;

/// The fixed part of a version-2 header: 12 signature bytes, version and command, family and
/// protocol, the length of the rest (u16, big-endian).
const FIXED: usize = 16;
/// Version 2's signature.
const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest header accepted past the fixed part: addresses (at most 216 bytes, UNIX sockets)
/// and TLVs (HAProxy's are short).
const MAX_REST: usize = 2048;

/// The proxies whose connections carry a PROXY header: addresses or networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of IP addresses and CIDR networks (`10.0.0.5,
    /// 10.1.0.0/16, ::1`).
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => IpNet::from(item.parse::<IpAddr>().map_err(|_| {
                    format!("{item:?} is not an IP address or a CIDR network (10.0.0.0/8)")
                })?),
            };
            nets.push(net);
        }
        if nets.is_empty() {
            return Err("name at least one proxy address".into());
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether a connection from `ip` comes from a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// An IPv4 address as IPv4 even when it arrives mapped into IPv6 (a dual-stack listener).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why a trusted proxy's connection was closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyHeaderError {
    /// The connection failed or closed before the header was whole.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
    /// It did not start with a version-2 signature.
    #[error("a trusted proxy's connection did not start with a PROXY protocol v2 header")]
    Missing,
    /// The header was malformed or too long.
    #[error("malformed PROXY protocol v2 header: {0}")]
    Malformed(String),
}

/// Reads the PROXY header a trusted proxy's connection starts with — exactly its bytes, so
/// what follows is left for TLS or HTTP — and returns the client's address it names, or
/// `peer` (the proxy's own) for a `LOCAL` header or one without an IP address.
pub async fn read_header<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    peer: SocketAddr,
) -> Result<SocketAddr, ProxyHeaderError> {
    let mut header = vec![0u8; FIXED];
    stream.read_exact(&mut header).await?;
    if &header[..12] != SIGNATURE {
        return Err(ProxyHeaderError::Missing);
    }
    let rest = usize::from(u16::from_be_bytes([header[14], header[15]]));
    if rest > MAX_REST {
        return Err(ProxyHeaderError::Malformed(format!(
            "{rest} bytes of addresses and TLVs"
        )));
    }
    header.resize(FIXED + rest, 0);
    stream.read_exact(&mut header[FIXED..]).await?;
    let parsed = Header::try_from(header.as_slice())
        .map_err(|e| ProxyHeaderError::Malformed(e.to_string()))?;
    Ok(match (parsed.command, parsed.addresses) {
        (Command::Proxy, Addresses::IPv4(a)) => {
            SocketAddr::new(a.source_address.into(), a.source_port)
        }
        (Command::Proxy, Addresses::IPv6(a)) => {
            SocketAddr::new(canonical(a.source_address.into()), a.source_port)
        }
        _ => peer,
    })
}

#[cfg(test)]
mod tests {
    use ppp::v2::{Builder, Protocol, Type, Version};

    use super::*;

    fn proxy() -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }

    /// A header `ppp`'s builder makes for `client` → `server`, with a TLV, then `after`.
    fn header(command: Command, client: &str, server: &str, after: &[u8]) -> Vec<u8> {
        let addresses: Addresses = (
            client.parse::<SocketAddr>().unwrap(),
            server.parse::<SocketAddr>().unwrap(),
        )
            .into();
        let mut bytes =
            Builder::with_addresses(Version::Two | command, Protocol::Stream, addresses)
                .write_tlv(Type::NoOp, b"pad")
                .unwrap()
                .build()
                .unwrap();
        bytes.extend_from_slice(after);
        bytes
    }

    async fn read(bytes: &[u8]) -> (Result<SocketAddr, ProxyHeaderError>, Vec<u8>) {
        let mut stream = bytes;
        let got = read_header(&mut stream, proxy()).await;
        (got, stream.to_vec())
    }

    #[tokio::test]
    async fn the_client_address_comes_from_the_header_and_the_request_is_left_whole() {
        let request = b"GET / HTTP/1.1\r\n\r\n";
        for (client, want) in [
            ("192.0.2.7:5555", "192.0.2.7:5555"),
            ("[2001:db8::9]:443", "[2001:db8::9]:443"),
            ("[::ffff:192.0.2.8]:80", "192.0.2.8:80"),
        ] {
            let server = if client.starts_with('[') {
                "[::1]:80"
            } else {
                "127.0.0.1:80"
            };
            let (got, rest) = read(&header(Command::Proxy, client, server, request)).await;
            assert_eq!(got.unwrap(), want.parse::<SocketAddr>().unwrap());
            assert_eq!(rest, request);
        }
        // A health check's LOCAL header keeps the proxy's own address.
        let (got, rest) = read(&header(
            Command::Local,
            "192.0.2.7:5555",
            "127.0.0.1:80",
            request,
        ))
        .await;
        assert_eq!(got.unwrap(), proxy());
        assert_eq!(rest, request);
    }

    #[tokio::test]
    async fn a_connection_without_a_whole_valid_header_is_refused() {
        let (got, _) = read(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(matches!(got, Err(ProxyHeaderError::Missing)), "{got:?}");
        // Version 1's text header is not version 2.
        let (got, _) =
            read(b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\nGET / HTTP/1.1\r\n\r\n").await;
        assert!(matches!(got, Err(ProxyHeaderError::Missing)), "{got:?}");
        let whole = header(Command::Proxy, "192.0.2.7:5555", "127.0.0.1:80", b"");
        let (got, _) = read(&whole[..whole.len() - 1]).await;
        assert!(matches!(got, Err(ProxyHeaderError::Io(_))), "{got:?}");
        let mut bad_version = whole.clone();
        bad_version[12] = 0x31;
        let (got, _) = read(&bad_version).await;
        assert!(
            matches!(got, Err(ProxyHeaderError::Malformed(_))),
            "{got:?}"
        );
        let mut too_long = whole.clone();
        too_long[14..16].copy_from_slice(&4000u16.to_be_bytes());
        let (got, _) = read(&too_long).await;
        assert!(
            matches!(got, Err(ProxyHeaderError::Malformed(_))),
            "{got:?}"
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_and_networks() {
        let t = TrustedProxies::parse("10.0.0.5, 10.1.0.0/16,::1").unwrap();
        for (ip, trusted) in [
            ("10.0.0.5", true),
            ("10.0.0.6", false),
            ("10.1.200.3", true),
            ("::1", true),
            ("::ffff:10.0.0.5", true),
            ("192.0.2.1", false),
        ] {
            assert_eq!(t.trusts(ip.parse().unwrap()), trusted, "{ip}");
        }
        assert!(TrustedProxies::parse("").is_err());
        assert!(TrustedProxies::parse("10.0.0.300").is_err());
        assert!(TrustedProxies::parse("example.org").is_err());
    }
}
