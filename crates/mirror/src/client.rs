//! Fetching one range from an HIBP-compatible range API, politely and persistently.
//!
//! One shared hyper client: HTTP/2 when a TLS server offers it by ALPN (all requests then
//! share one multiplexed connection), HTTP/1.1 with a pool of keep-alive connections
//! otherwise. It asks for gzip, sends the range's last ETag as `If-None-Match`, and retries
//! timeouts, connection failures, 429 and 5xx with exponential backoff and jitter (honouring
//! `Retry-After`); any other status is the source refusing, reported at once.
//!
//! This module does not parse range bodies or remember anything between requests.

use std::{io::Read, path::Path, sync::Arc, time::Duration};

use http_body_util::{BodyExt, Empty};
use hyper::{
    Request, StatusCode, Uri, Version,
    body::Bytes,
    header::{self, HeaderValue},
};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};
use leakwatch_store::Namespace;

use crate::{MirrorError, Result};

/// A decoded range body larger than this is refused (a range is tens of KB).
const MAX_BODY: u64 = 64 << 20;
/// The longest wait between attempts, and the longest `Retry-After` honoured.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where the ranges come from: a base URL (`/range/{prefix}` is appended) or a URL template
/// with `{prefix}` in it (static per-prefix files). `?mode=ntlm` is added for NTLM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    text: String,
}

impl Source {
    /// Checks a source URL: http or https, a host, no credentials.
    pub fn parse(text: &str) -> Result<Source> {
        let bad = |reason: &str| MirrorError::BadSource(format!("{text}: {reason}"));
        let uri: Uri = text
            .replace("{prefix}", "00000")
            .parse()
            .map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(bad("the URL must start with http:// or https://")),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        if text.contains('?') {
            return Err(bad(
                "a query string is not supported (the mode is added as ?mode=ntlm)",
            ));
        }
        Ok(Source {
            text: text.trim_end_matches('/').to_owned(),
        })
    }

    /// The URL of one range.
    pub fn range_url(&self, ns: Namespace, prefix: u32) -> String {
        let hex = format!("{prefix:05X}");
        let mut url = if self.text.contains("{prefix}") {
            self.text.replace("{prefix}", &hex)
        } else {
            format!("{}/range/{hex}", self.text)
        };
        if ns == Namespace::Ntlm {
            url.push_str("?mode=ntlm");
        }
        url
    }

    /// The source as given (what the manifest records).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// What the source answered for one range.
#[derive(Debug)]
pub(crate) enum Answer {
    /// 304: the range is as the ETag sent says.
    NotModified { etag: Vec<u8> },
    /// 200: the decoded body.
    Body { etag: Vec<u8>, body: Vec<u8> },
}

/// One range's answer and what it cost.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub answer: Answer,
    pub version: Version,
    /// Whether the body came gzip-encoded.
    pub gzip: bool,
    /// Body bytes as they came over the wire (compressed, if they were).
    pub wire_bytes: u64,
    /// Attempts that failed before this answer.
    pub retries: u32,
    /// Why the last of them failed.
    pub last_failure: Option<String>,
}

/// The shared client.
#[derive(Debug, Clone)]
pub(crate) struct Fetcher {
    http: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    source: Arc<Source>,
    timeout: Duration,
    retries: u32,
}

fn tls_config(ca_cert: Option<&Path>) -> Result<tokio_rustls::rustls::ClientConfig> {
    use tokio_rustls::rustls::{
        self, RootCertStore,
        pki_types::{CertificateDer, pem::PemObject},
    };
    let mut roots = RootCertStore::empty();
    // Mozilla's roots, bundled: no dependence on the host's certificate store.
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_cert {
        let bad = |e: &dyn std::fmt::Display| {
            MirrorError::BadSource(format!("CA certificate {}: {e}", path.display()))
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|c| c.collect())
            .map_err(|e| bad(&e))?;
        for cert in certs {
            roots.add(cert).map_err(|e| bad(&e))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| MirrorError::BadSource(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(config)
}

impl Fetcher {
    pub(crate) fn new(
        source: Source,
        parallel: usize,
        timeout: Duration,
        retries: u32,
        ca_cert: Option<&Path>,
    ) -> Result<Fetcher> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(ca_cert)?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let http = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_max_idle_per_host(parallel)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Fetcher {
            http,
            source: Arc::new(source),
            timeout,
            retries,
        })
    }

    /// Fetches a range, sending `etag` (if known) as `If-None-Match`, retrying what can be
    /// retried up to the configured number of times.
    pub(crate) async fn fetch(&self, ns: Namespace, prefix: u32, etag: &[u8]) -> Result<Fetched> {
        let url = self.source.range_url(ns, prefix);
        let mut failures = 0u32;
        let mut last_failure = None;
        loop {
            let attempt = tokio::time::timeout(self.timeout, self.once(&url, etag)).await;
            let (error, wait) = match attempt {
                Ok(Ok(Ok(mut fetched))) => {
                    fetched.retries = failures;
                    fetched.last_failure = last_failure;
                    return Ok(fetched);
                }
                Ok(Ok(Err(fatal))) => return Err(fatal),
                Ok(Err(Retry { reason, after })) => (reason, after),
                Err(_) => (format!("no answer within {:?}", self.timeout), None),
            };
            failures += 1;
            last_failure = Some(error.clone());
            if failures > self.retries {
                return Err(MirrorError::Unreachable {
                    url,
                    attempts: failures,
                    last: error,
                });
            }
            let backoff = Duration::from_millis(250u64 << failures.min(8)).min(MAX_BACKOFF);
            let jittered = backoff.mul_f64(0.5 + fastrand::f64() / 2.0);
            tokio::time::sleep(wait.unwrap_or(jittered).min(MAX_BACKOFF)).await;
        }
    }

    /// One attempt: `Err(Retry)` for what is worth another try, `Ok(Err)` for a refusal.
    async fn once(&self, url: &str, etag: &[u8]) -> std::result::Result<Result<Fetched>, Retry> {
        let mut request = Request::get(url)
            .header(
                header::USER_AGENT,
                concat!("leakwatch-sync/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::ACCEPT_ENCODING, "gzip");
        if !etag.is_empty()
            && let Ok(value) = HeaderValue::from_bytes(etag)
        {
            request = request.header(header::IF_NONE_MATCH, value);
        }
        let request = match request.body(Empty::new()) {
            Ok(r) => r,
            Err(e) => return Ok(Err(MirrorError::BadSource(format!("{url}: {e}")))),
        };
        let response = self.http.request(request).await.map_err(|e| Retry {
            reason: error_chain(&e),
            after: None,
        })?;
        let status = response.status();
        let version = response.version();
        let new_etag = response
            .headers()
            .get(header::ETAG)
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(Retry {
                reason: format!("{status}"),
                after,
            });
        }
        if status == StatusCode::NOT_MODIFIED {
            if etag.is_empty() {
                return Ok(Err(MirrorError::BadSource(format!(
                    "{url}: 304 Not Modified to a request without If-None-Match"
                ))));
            }
            return Ok(Ok(Fetched {
                // The tag sent is kept: servers that compress on the fly (nginx) send a
                // strong tag on a 304 and its weak twin on the gzipped 200, and switching
                // between them would look like a change every sync.
                answer: Answer::NotModified {
                    etag: etag.to_vec(),
                },
                version,
                gzip: false,
                wire_bytes: 0,
                retries: 0,
                last_failure: None,
            }));
        }
        if status != StatusCode::OK {
            return Ok(Err(MirrorError::Refused {
                url: url.to_owned(),
                status: status.as_u16(),
            }));
        }
        let gzip = match response.headers().get(header::CONTENT_ENCODING) {
            None => false,
            Some(v) if v.as_bytes().eq_ignore_ascii_case(b"gzip") => true,
            Some(v) if v.as_bytes().eq_ignore_ascii_case(b"identity") => false,
            Some(v) => {
                return Ok(Err(MirrorError::BadSource(format!(
                    "{url}: unrequested Content-Encoding {:?}",
                    String::from_utf8_lossy(v.as_bytes())
                ))));
            }
        };
        let wire = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Retry {
                reason: format!("body: {}", error_chain(&e)),
                after: None,
            })?
            .to_bytes();
        let wire_bytes = wire.len() as u64;
        let body = if gzip {
            let mut out = Vec::with_capacity(wire.len() * 3);
            let read = flate2::read::GzDecoder::new(&wire[..])
                .take(MAX_BODY + 1)
                .read_to_end(&mut out);
            match read {
                Ok(n) if n as u64 <= MAX_BODY => out,
                Ok(_) => {
                    return Ok(Err(MirrorError::BadSource(format!(
                        "{url}: the decoded answer is larger than {MAX_BODY} bytes"
                    ))));
                }
                // A damaged gzip stream is worth fetching again.
                Err(e) => {
                    return Err(Retry {
                        reason: format!("gzip: {e}"),
                        after: None,
                    });
                }
            }
        } else if wire_bytes > MAX_BODY {
            return Ok(Err(MirrorError::BadSource(format!(
                "{url}: the answer is larger than {MAX_BODY} bytes"
            ))));
        } else {
            wire.to_vec()
        };
        Ok(Ok(Fetched {
            answer: Answer::Body {
                etag: new_etag,
                body,
            },
            version,
            gzip,
            wire_bytes,
            retries: 0,
            last_failure: None,
        }))
    }
}

/// A failure worth another attempt.
#[derive(Debug)]
struct Retry {
    reason: String,
    after: Option<Duration>,
}

/// An error and its causes on one line (hyper's own message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_urls_from_a_base_or_a_template() {
        let base = Source::parse("https://api.pwnedpasswords.com/").unwrap();
        assert_eq!(
            base.range_url(Namespace::Sha1, 0x5BAA6),
            "https://api.pwnedpasswords.com/range/5BAA6"
        );
        assert_eq!(
            base.range_url(Namespace::Ntlm, 0),
            "https://api.pwnedpasswords.com/range/00000?mode=ntlm"
        );
        let files = Source::parse("http://127.0.0.1:8080/hashes/{prefix}.txt").unwrap();
        assert_eq!(
            files.range_url(Namespace::Sha1, 0xFFFFF),
            "http://127.0.0.1:8080/hashes/FFFFF.txt"
        );
        for bad in [
            "ftp://x/",
            "api.pwnedpasswords.com",
            "https://user:pw@host/",
            "https://host/?mode=ntlm",
            "",
        ] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }
}
