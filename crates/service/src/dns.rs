//! DNS lookups through hickory-resolver, a maintained stub resolver: query ids from a
//! CSPRNG, every answer matched to its question, TCP when a UDP answer is truncated. Used for
//! the TXT record that proves a domain's ownership and for the addresses of a webhook's host
//! (see `egress`). The resolver is configurable so tests use a DNS server on loopback; by
//! default it is the first `nameserver` in `/etc/resolv.conf`. Nothing is cached (every
//! lookup asks again: a webhook's host is vetted at registration and again at delivery) and
//! the hosts file is not read. DNSSEC is not validated (the records are checked against what
//! the operator key derives; a webhook's addresses are vetted, not trusted).

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use hickory_resolver::{
    Resolver, TokioResolver,
    config::{ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig},
    net::runtime::TokioRuntimeProvider,
};

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The resolver did not answer in time, or could not be reached.
    #[error("the DNS resolver {0} did not answer: {1}")]
    Unreachable(SocketAddr, String),
    /// The resolver reported an error (SERVFAIL, REFUSED, …; NXDOMAIN is an empty answer).
    #[error("the DNS resolver {0} failed: {1}")]
    Failed(SocketAddr, String),
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

/// A resolver asking only `server` (UDP, then TCP on truncation), `timeout` per try, two
/// tries, no cache, no hosts file, no search domains.
fn resolver(server: SocketAddr, timeout: Duration) -> Result<TokioResolver, DnsError> {
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = server.port();
    let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
    name_server.connections = vec![udp, tcp];
    let config = ResolverConfig::from_name_servers(vec![name_server]);
    let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
    let options = builder.options_mut();
    options.timeout = timeout;
    options.attempts = 2;
    options.cache_size = 0;
    options.use_hosts_file = ResolveHosts::Never;
    options.ndots = 0;
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    builder
        .build()
        .map_err(|e| DnsError::Unreachable(server, e.to_string()))
}

/// Runs a lookup on a runtime of its own (callers are blocking threads: a request's
/// `spawn_blocking`, the delivery worker, the CLI); `None` from `answer` is "no such
/// records", an empty list.
fn lookup<T>(
    server: SocketAddr,
    timeout: Duration,
    ask: impl AsyncFnOnce(&TokioResolver) -> Result<Vec<T>, hickory_resolver::net::NetError>,
) -> Result<Vec<T>, DnsError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DnsError::Unreachable(server, e.to_string()))?;
    runtime.block_on(async {
        let resolver = resolver(server, timeout)?;
        match ask(&resolver).await {
            Ok(found) => Ok(found),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) if e.to_string().contains("timed out") => {
                Err(DnsError::Unreachable(server, e.to_string()))
            }
            Err(e) => Err(DnsError::Failed(server, e.to_string())),
        }
    })
}

/// `name` as an absolute name (a trailing dot: no search domain is tried).
fn absolute(name: &str) -> Result<String, DnsError> {
    let name = name.trim().trim_end_matches('.');
    if name.is_empty() || name.len() > 253 || name.contains(char::is_whitespace) {
        return Err(DnsError::BadName);
    }
    Ok(format!("{name}."))
}

/// Every TXT record of `name` (each record's strings joined), asking `resolver`; empty if
/// the name does not exist. Two tries, `timeout` each.
pub fn txt_records(
    resolver: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<String>, DnsError> {
    let name = absolute(name)?;
    lookup(resolver, timeout, async |r: &TokioResolver| {
        let found = r.txt_lookup(name.as_str()).await?;
        Ok(found
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                hickory_resolver::proto::rr::RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    })
}

/// Every address (A and AAAA) of `host`, asking `resolver`; empty if the name does not
/// exist. Two tries, `timeout` each.
pub fn ip_addrs(
    resolver: SocketAddr,
    host: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DnsError> {
    let name = absolute(host)?;
    lookup(resolver, timeout, async |r: &TokioResolver| {
        Ok(r.lookup_ip(name.as_str()).await?.iter().collect())
    })
}

/// Which of `names` look registered — each has name servers or an address (NS, else A or
/// AAAA), as dnstwist decides — asking `resolver`, at most `parallel` names at a time, the
/// answers in the names' order. A name that does not exist or has neither is unregistered;
/// a resolver that does not answer is an error (the caller says so rather than guess).
pub fn registered(
    resolver_at: SocketAddr,
    names: &[String],
    timeout: Duration,
    parallel: usize,
) -> Result<Vec<bool>, DnsError> {
    let names: Vec<String> = names
        .iter()
        .map(|n| absolute(n))
        .collect::<Result<_, _>>()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DnsError::Unreachable(resolver_at, e.to_string()))?;
    runtime.block_on(async {
        let resolver = resolver(resolver_at, timeout)?;
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
        let mut lookups = tokio::task::JoinSet::new();
        for (i, name) in names.into_iter().enumerate() {
            let (resolver, permits) = (resolver.clone(), permits.clone());
            lookups.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let known = |e: &hickory_resolver::net::NetError| {
                    e.is_no_records_found() || e.is_nx_domain()
                };
                let fail = |e: hickory_resolver::net::NetError| {
                    if e.to_string().contains("timed out") {
                        DnsError::Unreachable(resolver_at, e.to_string())
                    } else {
                        DnsError::Failed(resolver_at, e.to_string())
                    }
                };
                match resolver.ns_lookup(name.as_str()).await {
                    Ok(found) if !found.answers().is_empty() => return Ok((i, true)),
                    Ok(_) => {}
                    Err(e) if known(&e) => {}
                    Err(e) => return Err(fail(e)),
                }
                match resolver.lookup_ip(name.as_str()).await {
                    Ok(found) => Ok((i, found.iter().next().is_some())),
                    Err(e) if known(&e) => Ok((i, false)),
                    Err(e) => Err(fail(e)),
                }
            });
        }
        let mut out = vec![false; lookups.len()];
        while let Some(done) = lookups.join_next().await {
            let (i, registered) =
                done.map_err(|e| DnsError::Failed(resolver_at, e.to_string()))??;
            out[i] = registered;
        }
        Ok(out)
    })
}
