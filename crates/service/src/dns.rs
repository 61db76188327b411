//! A DNS TXT lookup over UDP (RFC 1035), enough to verify domain ownership: one question,
//! recursion desired, answers read with name compression. The resolver is configurable so
//! tests use a DNS server on loopback; by default it is the first `nameserver` in
//! `/etc/resolv.conf`. It does not cache, validate DNSSEC, or fall back to TCP (a truncated
//! answer is an error: verification records are short).

use std::{
    net::{SocketAddr, UdpSocket},
    time::Duration,
};

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The resolver did not answer in time, or the socket failed.
    #[error("the DNS resolver {0} did not answer: {1}")]
    Unreachable(SocketAddr, std::io::Error),
    /// The answer was not a well-formed reply to the question.
    #[error("the DNS resolver {0} sent a malformed answer")]
    Malformed(SocketAddr),
    /// The resolver reported an error (SERVFAIL, REFUSED, …; NXDOMAIN is an empty answer).
    #[error("the DNS resolver {0} answered with error code {1}")]
    Failed(SocketAddr, u8),
    /// The name is not a valid domain name.
    #[error("not a valid domain name")]
    BadName,
}

/// The resolver named first in `/etc/resolv.conf`, or 127.0.0.1:53.
pub fn system_resolver() -> SocketAddr {
    std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let mut words = l.split_whitespace();
                (words.next() == Some("nameserver"))
                    .then(|| words.next()?.parse::<std::net::IpAddr>().ok())
                    .flatten()
            })
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 53)))
}

/// Every TXT record of `name` (each record's strings joined), asking `resolver`; empty if
/// the name does not exist. Two tries, `timeout` each.
pub fn txt_records(
    resolver: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<String>, DnsError> {
    let id: u16 = fastrand::u16(..);
    let query = encode_query(id, name)?;
    let bind: SocketAddr = if resolver.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind).map_err(|e| DnsError::Unreachable(resolver, e))?;
    socket
        .connect(resolver)
        .and_then(|()| socket.set_read_timeout(Some(timeout)))
        .map_err(|e| DnsError::Unreachable(resolver, e))?;
    let mut buf = [0u8; 4096];
    let mut last_error = None;
    for _ in 0..2 {
        if let Err(e) = socket.send(&query) {
            last_error = Some(e);
            continue;
        }
        loop {
            match socket.recv(&mut buf) {
                // A stray datagram with another id is not our answer: keep waiting.
                Ok(n) if n >= 2 && buf[..2] != id.to_be_bytes() => continue,
                Ok(n) => return parse_answer(&buf[..n], id).map_err(|e| e.at(resolver)),
                Err(e) => {
                    last_error = Some(e);
                    break;
                }
            }
        }
    }
    Err(DnsError::Unreachable(
        resolver,
        last_error.unwrap_or_else(|| std::io::ErrorKind::TimedOut.into()),
    ))
}

fn encode_query(id: u16, name: &str) -> Result<Vec<u8>, DnsError> {
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // standard query, recursion desired
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::BadName);
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 || !label.is_ascii() {
            return Err(DnsError::BadName);
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, 16, 0, 1]); // TXT, IN
    Ok(q)
}

/// A parse failure before the resolver's address is known.
enum ParseError {
    Malformed,
    Failed(u8),
}

impl ParseError {
    fn at(self, resolver: SocketAddr) -> DnsError {
        match self {
            ParseError::Malformed => DnsError::Malformed(resolver),
            ParseError::Failed(code) => DnsError::Failed(resolver, code),
        }
    }
}

fn parse_answer(msg: &[u8], id: u16) -> Result<Vec<String>, ParseError> {
    let bad = ParseError::Malformed;
    if msg.len() < 12 || msg[..2] != id.to_be_bytes() || msg[2] & 0x80 == 0 {
        return Err(bad);
    }
    if msg[2] & 0x02 != 0 {
        return Err(bad); // truncated
    }
    match msg[3] & 0x0f {
        0 => {}
        3 => return Ok(Vec::new()), // NXDOMAIN
        code => return Err(ParseError::Failed(code)),
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([msg[i], msg[i + 1]]));
    let (questions, answers) = (count(4), count(6));
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at).ok_or(ParseError::Malformed)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at).ok_or(ParseError::Malformed)?;
        let fixed = msg.get(at..at + 10).ok_or(ParseError::Malformed)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = msg
            .get(at + 10..at + 10 + len)
            .ok_or(ParseError::Malformed)?;
        at += 10 + len;
        if rtype != 16 {
            continue; // a CNAME on the way
        }
        let mut text = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let n = usize::from(data[i]);
            text.extend_from_slice(data.get(i + 1..i + 1 + n).ok_or(ParseError::Malformed)?);
            i += 1 + n;
        }
        out.push(String::from_utf8_lossy(&text).into_owned());
    }
    Ok(out)
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return msg.get(at + 1).map(|_| at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply to `query` with the given TXT answers (each a list of strings), the answer
    /// names compressed to point at the question.
    fn reply(query: &[u8], answers: &[&[&str]]) -> Vec<u8> {
        let mut r = query.to_vec();
        r[2] |= 0x80;
        r[7] = answers.len() as u8;
        for strings in answers {
            r.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 1, 44]);
            let data: Vec<u8> = strings
                .iter()
                .flat_map(|s| std::iter::once(s.len() as u8).chain(s.bytes()))
                .collect();
            r.extend_from_slice(&(data.len() as u16).to_be_bytes());
            r.extend_from_slice(&data);
        }
        r
    }

    #[test]
    fn txt_answers_are_parsed_with_compression_and_split_strings() {
        let q = encode_query(7, "example.test.").unwrap();
        assert_eq!(&q[12..26], b"\x07example\x04test\x00");
        let r = reply(&q, &[&["leakwatch-verify=", "abc"], &["v=spf1 -all"]]);
        assert_eq!(
            parse_answer(&r, 7).ok().unwrap(),
            ["leakwatch-verify=abc", "v=spf1 -all"]
        );
        assert!(parse_answer(&r, 8).is_err(), "another query's answer");
        assert!(parse_answer(&r[..r.len() - 2], 7).is_err(), "cut short");
        let mut nx = reply(&q, &[]);
        nx[3] = 3;
        assert_eq!(parse_answer(&nx, 7).ok().unwrap(), Vec::<String>::new());
        let mut servfail = reply(&q, &[]);
        servfail[3] = 2;
        assert!(matches!(
            parse_answer(&servfail, 7),
            Err(ParseError::Failed(2))
        ));
        for bad in ["", "a..b", &"x".repeat(64), "bücher.example"] {
            assert!(encode_query(1, bad).is_err(), "{bad}");
        }
    }
}
