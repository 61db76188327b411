//! The private credential check as a login server (or `leakwatch credentials check`) calls
//! it: [`Client::check`] says whether a login and password were leaked — exactly, or as a
//! variant of the password — by asking a leakwatch server's `POST /api/v1/credentials/check`
//! with only the login's bucket and an OPRF-blinded element (docs/FORMAT.md, "Credential
//! check"). Neither the login nor the password, nor anything the server could test a guess
//! against, leaves this process.
//!
//! ```no_run
//! let client = leakwatch_client::Client::new("https://leakwatch.example", "KEY");
//! match client.check("alice@example.com", "Summer2024")? {
//!     Some(leakwatch_client::Match::Exact) => println!("this pair was leaked"),
//!     Some(_) => println!("a password like it was leaked with this login"),
//!     None => println!("not found"),
//! }
//! # Ok::<(), leakwatch_client::ClientError>(())
//! ```
//!
//! Architecture invariant: this crate speaks HTTP to a server and the protocol's arithmetic
//! through `leakwatch-credentials`; it knows nothing of the store, the service or the CLI.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
pub use leakwatch_credentials::Match;
use leakwatch_credentials::{
    BUCKET_BITS, Blinded, MAX_BUCKET_BITS, bucket_of, lookup, normalize_login, oprf_input,
    tags_from_bytes,
};
use serde::Deserialize;

/// Why a check has no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The login is not an e-mail address or a username (empty, too long, not text).
    #[error("the login is not a valid e-mail address or username")]
    Login,
    /// The login and password are too long for one OPRF input (65,535 bytes).
    #[error("the login and password are too long")]
    TooLong,
    /// The server could not be reached or did not answer in time.
    #[error("the server could not be asked: {0}")]
    Transport(String),
    /// The server refused the check (a bad key, a missing scope, a limit) with this status
    /// and reason.
    #[error("the server answered {status}: {reason}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's one-line reason.
        reason: String,
    },
    /// The server's answer does not follow the protocol (a bad element, tags cut short, a
    /// bucket split twice).
    #[error("the server's answer is malformed: {0}")]
    Malformed(&'static str),
}

/// A leakwatch server to check against, with an API key of scope `credentials`.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    key: String,
    agent: ureq::Agent,
}

/// The answer's body (`crates/api/src/credentials.rs`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    bucket_bits: u32,
    evaluated: Option<String>,
    tags: Option<String>,
}

impl Client {
    /// A client of the server at `base_url` (e.g. `https://leakwatch.example`) with `api_key`.
    pub fn new(base_url: &str, api_key: &str) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .user_agent(concat!("leakwatch-client/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            url: format!(
                "{}/api/v1/credentials/check",
                base_url.trim_end_matches('/')
            ),
            key: api_key.to_owned(),
            agent: config.into(),
        }
    }

    /// Whether `login` (as typed: it is normalised here as the server's buckets were) with
    /// `password` was leaked: `Some(Match::Exact)`, `Some(Match::Similar)` (a variant of the
    /// password was leaked with this login), or `None`.
    pub fn check(&self, login: &str, password: &str) -> Result<Option<Match>, ClientError> {
        let login = normalize_login(login).map_err(|_| ClientError::Login)?;
        let input = oprf_input(&login, password).ok_or(ClientError::TooLong)?;
        let mut bits = BUCKET_BITS;
        // At most two asks: a split bucket names the bits it needs, which depend on the
        // whole 20-bit bucket, so the second ask is answered.
        for _ in 0..2 {
            let blinded = Blinded::new(&input).map_err(|_| ClientError::TooLong)?;
            let body = serde_json::json!({
                "bucket": bucket_of(&login, bits),
                "bucketBits": bits,
                "blinded": STANDARD.encode(blinded.message()),
            });
            let answer = self.ask(&body.to_string())?;
            let (Some(evaluated), Some(tags)) = (answer.evaluated, answer.tags) else {
                if answer.bucket_bits <= bits || answer.bucket_bits > MAX_BUCKET_BITS {
                    return Err(ClientError::Malformed("a bucket split into no more bits"));
                }
                bits = answer.bucket_bits;
                continue;
            };
            let decode = |s: &str| STANDARD.decode(s.as_bytes());
            let evaluated = decode(&evaluated).map_err(|_| ClientError::Malformed("evaluated"))?;
            let tags = decode(&tags)
                .ok()
                .and_then(|t| tags_from_bytes(&t))
                .ok_or(ClientError::Malformed("tags"))?;
            let output = blinded
                .finalize(&input, &evaluated)
                .map_err(|_| ClientError::Malformed("evaluated is not a valid element"))?;
            return Ok(lookup(&tags, &output));
        }
        Err(ClientError::Malformed("a bucket split twice"))
    }

    fn ask(&self, body: &str) -> Result<Answer, ClientError> {
        let mut response = self
            .agent
            .post(&self.url)
            .header("hibp-api-key", &self.key)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(4 << 20)
            .read_to_string()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if status != 200 {
            return Err(ClientError::Refused {
                status,
                reason: reason_of(&text),
            });
        }
        serde_json::from_str(&text).map_err(|_| ClientError::Malformed("not the answer's JSON"))
    }
}

/// The one-line reason of an error answer (a JSON `message` or plain text), shortened.
fn reason_of(text: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.trim().to_owned());
    message.chars().take(200).collect()
}
