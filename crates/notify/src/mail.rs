//! E-mail over SMTP with lettre: a [`Mailer`] built from a URL, and the [`Email`] a
//! composer hands it. Plain text only; the body is ASCII-safe whatever it holds, since
//! lettre picks the transfer encoding. The demo's mailer delivers into a local Maildir
//! instead ([`Mailer::maildir`]), so its mail can be read without a mail server.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use lettre::{
    Message, SmtpTransport, Transport,
    message::{Mailbox, header::ContentType},
};

/// One mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The recipient's address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// Unique and stable per notification (the outbox row), so a repeat after a crash
    /// carries the same `Message-ID`.
    pub id: String,
    /// The one-click unsubscribe URL (RFC 8058), for alerts.
    pub unsubscribe: Option<String>,
}

/// `List-Unsubscribe: <URL>` (RFC 2369).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.trim_matches(['<', '>']).to_owned()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Debug, Clone)]
struct OneClick;

impl lettre::message::header::Header for OneClick {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(OneClick)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

/// Why a mail was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// Worth trying again later: the server is unreachable, busy (4xx), or timed out.
    #[error("temporary: {0}")]
    Transient(String),
    /// Will not succeed as it is: the server refused it (5xx) or the address is malformed.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Where a [`Mailer`] hands its messages.
#[derive(Clone)]
enum Delivery {
    /// One SMTP server.
    Smtp(SmtpTransport),
    /// A local Maildir (`tmp`, `new`, `cur`): the demo's mailbox.
    Maildir(Arc<PathBuf>),
}

/// Sends mail through one SMTP server (or, for the demo, into a local Maildir).
#[derive(Clone)]
pub struct Mailer {
    transport: Delivery,
    from: Mailbox,
    /// Right-hand side of every `Message-ID`.
    id_domain: String,
    /// The URL without credentials, for messages.
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for the SMTP server at `url`, sending as `from` (`Name <addr>` or `addr`).
    ///
    /// `url`: `smtp://host:port` (no TLS: loopback and trusted networks only),
    /// `smtp://host:587?tls=required` (STARTTLS, refused without it),
    /// `smtp://host:25?tls=opportunistic` (STARTTLS when offered), or `smtps://host:465`
    /// (implicit TLS). Credentials go in the URL's user and password (percent-encoded).
    ///
    /// `ca_pem`: PEM certificates to trust for the server's TLS certificate besides the
    /// public roots (a private CA); only with a TLS URL.
    pub fn new(url: &str, from: &str, ca_pem: Option<&[u8]>) -> Result<Mailer, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("mail sender {from:?}: {e}"))?;
        let server = redact(url);
        let mut builder = SmtpTransport::from_url(url)
            .map_err(|e| format!("SMTP URL {server}: {e}"))?
            .timeout(Some(Duration::from_secs(30)));
        if let Some(pem) = ca_pem {
            use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
            let host = url_host(url).ok_or_else(|| format!("SMTP URL {server}: no host"))?;
            let params = TlsParameters::builder(host.to_owned())
                .add_root_certificate(
                    Certificate::from_pem(pem).map_err(|e| format!("SMTP CA certificate: {e}"))?,
                )
                .build()
                .map_err(|e| format!("SMTP TLS: {e}"))?;
            builder = builder.tls(if url.starts_with("smtps://") {
                Tls::Wrapper(params)
            } else if url.contains("tls=required") {
                Tls::Required(params)
            } else if url.contains("tls=opportunistic") {
                Tls::Opportunistic(params)
            } else {
                return Err(format!(
                    "SMTP URL {server} does not use TLS, so a CA certificate makes no sense: use smtps:// or ?tls=required"
                ));
            });
        }
        let transport = Delivery::Smtp(builder.build());
        let id_domain = from.email.domain().to_owned();
        Ok(Mailer {
            transport,
            from,
            id_domain,
            server,
        })
    }

    /// A mailer that delivers into the Maildir `dir` (made, with its `tmp`, `new` and `cur`,
    /// private to the user, if missing), sending as `from`. For `leakwatch demo`: its
    /// messages hold addresses in clear, which a real deployment hands only to its SMTP
    /// server.
    pub fn maildir(dir: &Path, from: &str) -> Result<Mailer, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("mail sender {from:?}: {e}"))?;
        for sub in ["tmp", "new", "cur"] {
            let path = dir.join(sub);
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(&path)
                .map_err(|e| format!("making the Maildir {}: {e}", path.display()))?;
        }
        Ok(Mailer {
            transport: Delivery::Maildir(Arc::new(dir.to_owned())),
            id_domain: from.email.domain().to_owned(),
            from,
            server: format!("the Maildir {}", dir.display()),
        })
    }

    /// The server's URL without credentials.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends `email`, waiting for the server's answer.
    pub fn send(&self, email: &Email) -> Result<(), DeliveryError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| DeliveryError::Permanent("the recipient address is malformed".into()))?;
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&email.subject)
            .message_id(Some(format!("<{}@{}>", email.id, self.id_domain)))
            .header(ContentType::TEXT_PLAIN);
        if let Some(url) = &email.unsubscribe {
            message = message
                .header(ListUnsubscribe(url.clone()))
                .header(OneClick);
        }
        let message = message
            .body(email.text.clone())
            .map_err(|e| DeliveryError::Permanent(format!("building the message: {e}")))?;
        let transport = match &self.transport {
            Delivery::Smtp(transport) => transport,
            Delivery::Maildir(dir) => {
                return crate::maildir::deliver(dir, &email.id, &message.formatted())
                    .map_err(|e| DeliveryError::Transient(format!("writing to the Maildir: {e}")));
            }
        };
        transport.send(&message).map(drop).map_err(|e| {
            // The error's text may quote the server's reply, never the recipient.
            let reason = e.to_string();
            if e.is_permanent() {
                DeliveryError::Permanent(reason)
            } else {
                DeliveryError::Transient(reason)
            }
        })
    }
}

/// The host of an SMTP URL: after the scheme and any credentials, before the port, path or
/// query.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let end = rest.find([':', '/', '?']).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// `url` with any password replaced, for logs and errors.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_credentials_never_shown() {
        let m = Mailer::new(
            "smtps://user:secret@mail.example.test:465",
            "leakwatch <alerts@example.test>",
            None,
        )
        .unwrap();
        assert_eq!(m.server(), "smtps://…@mail.example.test:465");
        assert!(!format!("{m:?}").contains("secret"));
        assert!(Mailer::new("smtp://localhost:2525", "alerts@example.test", None).is_ok());
        assert!(
            Mailer::new(
                "smtp://localhost:2525?tls=required",
                "alerts@example.test",
                None
            )
            .is_ok()
        );
        let err = Mailer::new("http://user:secret@x", "alerts@example.test", None).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        assert!(Mailer::new("smtp://localhost:2525", "not an address", None).is_err());
        let plain_with_ca = Mailer::new("smtp://localhost:2525", "a@example.test", Some(b"x"));
        assert!(
            plain_with_ca.is_err(),
            "a CA needs a TLS URL or a valid PEM"
        );
        assert_eq!(
            url_host("smtps://u:p@w@mail.example.test:465/x"),
            Some("mail.example.test")
        );
        assert_eq!(url_host("smtp://127.0.0.1?tls=required"), Some("127.0.0.1"));
        assert_eq!(url_host("smtp://"), None);
    }
}
