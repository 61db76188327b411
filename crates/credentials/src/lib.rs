//! The private credential check (issue #24): a user or a login server learns whether a
//! (login, password) pair was leaked — **exact** — or a password close to it with the same
//! login — **similar** — while the server learns only the login's bucket, in the manner of
//! Cloudflare's MIGP (Pal et al., USENIX Security 2022) and Google's Password Checkup.
//!
//! The pieces, each its own module:
//! - [`login`]: how a login is normalised (the README's identifier rules), the bytes the OPRF
//!   is evaluated on, and the login's bucket (the first [`BUCKET_BITS`] bits of SHA-256);
//! - [`oprf`]: RFC 9497's OPRF, suite ristretto255-SHA512 (the `voprf` crate): the server's
//!   key, evaluation and blind evaluation, and the client's blind and finalise;
//! - [`variants`]: the password variants a leaked pair also stands for (at most
//!   [`variants::MAX_VARIANTS`]), after MIGP's rules;
//! - [`entry`]: a bucket entry, a 108-bit tag of an OPRF output that says exact or similar,
//!   which nobody without the OPRF key can link to a login or a password.
//!
//! Architecture invariant: this crate knows nothing of HTTP, the store or the catalogue; it
//! holds the protocol's arithmetic and byte formats, so that the server, the CLI client, the
//! build job and the login-server library all compute them one way (docs/FORMAT.md).

pub mod entry;
pub mod login;
pub mod oprf;
pub mod variants;

pub use entry::{Match, TAG_BITS, Tag, entry_key, lookup, tag};
pub use login::{BUCKET_BITS, bucket_of, normalize_login, oprf_input};
pub use oprf::{Blinded, ELEMENT_LEN, OUTPUT_LEN, OprfError, OprfKey};
