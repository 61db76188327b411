//! Secret key files (the operator, audit and OPRF keys): read only when nobody but their
//! owner may read them, as ssh treats a private key, and written once, mode 0600, never
//! over an existing file.

use std::{io, path::Path};

/// Why a key file could not be used. Never quotes the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Reading or writing it failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// Reading or creating.
        what: &'static str,
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Its group or others may read it: a key that others can read is a key others may have.
    #[error(
        "{path} is readable by others (mode {mode:04o}): a key file must be private; chmod 600 it"
    )]
    NotPrivate {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

/// The text of the key file `path`, refused when group or others may read it.
pub fn read_private(path: &Path) -> Result<String, KeyFileError> {
    let io = |source| KeyFileError::Io {
        what: "reading the key file",
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::NotPrivate {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    let mut text = String::new();
    io::Read::read_to_string(&mut &file, &mut text).map_err(io)?;
    Ok(text)
}

/// Writes `key` and a newline to the new file `path`, readable and writable by its owner
/// only, and syncs it; an existing file is never replaced.
pub fn write_private(path: &Path, key: &str) -> Result<(), KeyFileError> {
    use std::io::Write;
    let io = |source| KeyFileError::Io {
        what: "creating (it must not exist yet)",
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    writeln!(file, "{key}").map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(())
}
