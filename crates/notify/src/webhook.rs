//! Webhooks: a notification POSTed as JSON to a subscriber's URL, signed so the receiver
//! can tell it came from this leakwatch and is fresh.
//!
//! Headers: `X-Leakwatch-Event`, `X-Leakwatch-Delivery` (stable per notification: a repeat
//! after a crash carries the same one, so receivers can drop it), `X-Leakwatch-Timestamp`
//! (Unix seconds) and `X-Leakwatch-Signature: sha256=HEX`, the HMAC-SHA256 under the
//! subscriber's secret of `TIMESTAMP.BODY` (the timestamp, a dot, the raw body). Receivers
//! should recompute it, compare in constant time, and refuse old timestamps.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::DeliveryError;

/// One webhook call.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookCall {
    /// Where to POST (http or https).
    pub url: String,
    /// The addresses to connect to, vetted by the composer just now: the URL's host is not
    /// looked up again (nothing may change between the check and the connection). Empty:
    /// nothing is sent.
    pub addrs: Vec<std::net::SocketAddr>,
    /// The subscriber's signing secret.
    pub secret: String,
    /// What happened (`breach.alert`).
    pub event: &'static str,
    /// Stable per notification.
    pub delivery: String,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for WebhookCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookCall")
            .field("event", &self.event)
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
    }
}

/// `sha256=` and the hex HMAC-SHA256 under `secret` of `TIMESTAMP.BODY`.
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// A resolver that answers every name with the addresses vetted for this call.
#[derive(Debug)]
struct Vetted(Vec<std::net::SocketAddr>);

impl ureq::unversioned::resolver::Resolver for Vetted {
    fn resolve(
        &self,
        _uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let mut out = self.empty();
        for addr in &self.0 {
            if out.try_push(*addr).is_err() {
                break;
            }
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// POSTs `call` to its vetted addresses (TLS still checks the URL's host name), signed at
/// `now`. 2xx is delivered; 408, 429, 5xx and network errors are worth retrying; any other
/// status is permanent. No redirect is followed (it would lead past the vetting).
pub fn post(call: &WebhookCall, now: u64) -> Result<(), DeliveryError> {
    if call.addrs.is_empty() {
        return Err(DeliveryError::Permanent(
            "the webhook has no vetted address".into(),
        ));
    }
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("leakwatch/", env!("CARGO_PKG_VERSION")))
        .build();
    let agent = ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        Vetted(call.addrs.clone()),
    );
    let response = agent
        .post(&call.url)
        .header("Content-Type", "application/json")
        .header("X-Leakwatch-Event", call.event)
        .header("X-Leakwatch-Delivery", &call.delivery)
        .header("X-Leakwatch-Timestamp", &now.to_string())
        .header(
            "X-Leakwatch-Signature",
            &signature(&call.secret, now, &call.body),
        )
        .send(&call.body[..]);
    match response {
        Ok(r) => {
            let status = r.status().as_u16();
            match status {
                200..=299 => Ok(()),
                408 | 429 | 500..=599 => Err(DeliveryError::Transient(format!(
                    "the webhook answered {status}"
                ))),
                _ => Err(DeliveryError::Permanent(format!(
                    "the webhook answered {status}"
                ))),
            }
        }
        Err(ureq::Error::BadUri(_) | ureq::Error::RequireHttpsOnly(_)) => Err(
            DeliveryError::Permanent("the webhook URL is not usable".into()),
        ),
        Err(e) => Err(DeliveryError::Transient(format!("the webhook failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Independent value: python3 -c "import hmac,hashlib;
        //   print(hmac.new(b'k', b'1.{}', hashlib.sha256).hexdigest())"
        assert_eq!(
            signature("k", 1, b"{}"),
            "sha256=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
    }
}
