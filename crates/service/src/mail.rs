//! The SMTP server leakwatch mails through (`leakwatch_notify::Mailer`), and its URL with a
//! password read from a file joined to it, so the password is in neither the environment nor
//! the process list.

pub use leakwatch_notify::{Email, Mailer, RetryPolicy, maildir};

/// Why a password cannot be joined to an SMTP URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpUrlError {
    /// The URL has no `scheme://`.
    #[error("the SMTP URL has no scheme")]
    NoScheme,
    /// The URL names no user for the password (`scheme://USER@HOST`).
    #[error("a password needs a user name in the SMTP URL: {scheme}://USER@HOST")]
    NoUser {
        /// The URL's scheme.
        scheme: String,
    },
    /// The URL holds a password already.
    #[error("the SMTP URL has a password already; give it in one place only")]
    PasswordTwice,
}

/// `url` (`smtp://USER@HOST…`) with `password` added to its user, percent-encoded.
pub fn with_password(url: &str, password: &str) -> Result<String, SmtpUrlError> {
    let (scheme, rest) = url.split_once("://").ok_or(SmtpUrlError::NoScheme)?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((user, host)) = authority.rsplit_once('@') else {
        return Err(SmtpUrlError::NoUser {
            scheme: scheme.to_owned(),
        });
    };
    if user.contains(':') {
        return Err(SmtpUrlError::PasswordTwice);
    }
    let encoded: String = password
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    Ok(format!("{scheme}://{user}:{encoded}@{host}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_from_a_file_joins_the_user_in_the_smtp_url_percent_encoded() {
        let check = |url: &str, password: &str, want: Result<&str, SmtpUrlError>| {
            assert_eq!(
                with_password(url, password),
                want.map(str::to_owned),
                "{url}"
            );
        };
        check(
            "smtp://alerts@mail.example.org:587?tls=required",
            "p@ss:w/rd 1",
            Ok("smtp://alerts:p%40ss%3Aw%2Frd%201@mail.example.org:587?tls=required"),
        );
        check("smtps://u@h:465", "plain", Ok("smtps://u:plain@h:465"));
        check(
            "smtp://mail.example.org:25",
            "x",
            Err(SmtpUrlError::NoUser {
                scheme: "smtp".into(),
            }),
        );
        check("smtp://u:old@h:25", "x", Err(SmtpUrlError::PasswordTwice));
        check("mail.example.org", "x", Err(SmtpUrlError::NoScheme));
    }
}
