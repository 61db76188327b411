//! The demo's mailbox: mail delivered into a local Maildir (`tmp`, `new`, `cur`) by
//! [`crate::Mailer::maildir`], and read back for the demo's `/demo/mailbox` page.
//!
//! Only `leakwatch demo` delivers here. A real deployment hands its mail to an SMTP server
//! and keeps no copy: these files hold recipients' addresses in clear.

use std::{
    io::{self, Write},
    path::Path,
    time::SystemTime,
};

/// Delivers `message` into the Maildir `dir` as Maildir readers expect: written whole and
/// synced under `tmp`, then renamed into `new`. The file is named after the message's outbox
/// id, so a delivery repeated after a crash replaces the first rather than doubling it.
pub(crate) fn deliver(dir: &Path, id: &str, message: &[u8]) -> io::Result<()> {
    let name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("{name}.leakwatch");
    let tmp = dir.join("tmp").join(&name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(message)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join("new").join(&name))?;
    std::fs::File::open(dir.join("new"))?.sync_all()
}

/// One message of a Maildir, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivered {
    /// When it was delivered (the file's modification time).
    pub delivered: SystemTime,
    /// The `To` address.
    pub to: String,
    /// The decoded `Subject`.
    pub subject: String,
    /// The decoded plain-text body.
    pub text: String,
}

/// The newest `limit` messages of the Maildir `dir` (`new` and `cur`), newest first. A file
/// that is not a message is skipped; a missing Maildir is empty.
pub fn read(dir: &Path, limit: usize) -> io::Result<Vec<Delivered>> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let entries = match std::fs::read_dir(dir.join(sub)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_file() {
                files.push((meta.modified()?, entry.path()));
            }
        }
    }
    files.sort_by(|a, b| b.cmp(a));
    let parser = mail_parser::MessageParser::default();
    let mut out = Vec::new();
    for (delivered, path) in files {
        if out.len() == limit {
            break;
        }
        let raw = std::fs::read(&path)?;
        let Some(message) = parser.parse(&raw) else {
            continue;
        };
        out.push(Delivered {
            delivered,
            to: message
                .to()
                .and_then(|to| to.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_owned(),
            subject: message.subject().unwrap_or_default().to_owned(),
            text: message
                .body_text(0)
                .map(|t| t.into_owned())
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use crate::{Email, Mailer};

    fn email(id: &str, to: &str, subject: &str) -> Email {
        Email {
            to: to.into(),
            subject: subject.into(),
            // Long and non-ASCII, so lettre encodes it (quoted-printable or base64).
            text: format!("Grüße — {}\nsecond line\n", "x".repeat(120)),
            id: id.into(),
            unsubscribe: None,
        }
    }

    #[test]
    fn a_delivered_mail_lands_in_new_private_and_reads_back_decoded() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mailbox");
        let mailer = Mailer::maildir(&dir, "demo@leakwatch.example").unwrap();
        mailer
            .send(&email("check.1.100", "a@mail.example", "Your check"))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        mailer
            .send(&email("alert.2.200", "b@mail.example", "Ünïcode subject"))
            .unwrap();
        assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        let files: Vec<_> = std::fs::read_dir(dir.join("new"))
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(files.len(), 2);
        for f in &files {
            let mode = f.metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert!(!f.file_name().to_string_lossy().contains(':'));
        }
        let read = super::read(&dir, 10).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].to, "b@mail.example", "newest first");
        assert_eq!(read[0].subject, "Ünïcode subject");
        assert_eq!(read[1].subject, "Your check");
        assert!(
            read[1].text.starts_with("Grüße — xxxx"),
            "{:?}",
            read[1].text
        );
        assert!(read[1].text.contains("second line"));
        assert_eq!(super::read(&dir, 1).unwrap().len(), 1);
    }

    #[test]
    fn a_repeated_delivery_of_one_outbox_row_replaces_the_first() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mailbox");
        let mailer = Mailer::maildir(&dir, "demo@leakwatch.example").unwrap();
        let mail = email("check.7.700", "a@mail.example", "Your check");
        mailer.send(&mail).unwrap();
        mailer.send(&mail).unwrap();
        assert_eq!(super::read(&dir, 10).unwrap().len(), 1);
    }

    #[test]
    fn a_missing_maildir_reads_as_empty() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(
            super::read(&tmp.path().join("none"), 10)
                .unwrap()
                .is_empty()
        );
    }
}
