//! RFC 9497's OPRF in its base mode, suite ristretto255-SHA512, through the `voprf` crate:
//! the server's key ([`OprfKey`]: evaluate a leaked pair when building buckets, blind-evaluate
//! a client's element when answering), and the client's side ([`Blinded`]: blind, then
//! finalise the server's answer). The tests hold the RFC's Appendix A.1.1 vectors.

use std::fmt;

use leakwatch_identity::hex::{key_from_hex, to_hex};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use voprf::{BlindedElement, EvaluationElement, Group, OprfClient, OprfServer, Ristretto255};

/// Bytes of a serialised group element (a blinded or an evaluated element).
pub const ELEMENT_LEN: usize = 32;
/// Bytes of an OPRF output (SHA-512).
pub const OUTPUT_LEN: usize = 64;

/// Why an OPRF step failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OprfError {
    /// The key is not 64 hex digits of a non-zero scalar.
    #[error("not an OPRF key: {0}")]
    Key(&'static str),
    /// A client sent bytes that are not a valid, non-identity group element.
    #[error("not a ristretto255 element")]
    Element,
    /// The input is empty or longer than 65,535 bytes.
    #[error("OPRF input empty or too long")]
    Input,
}

/// The server's OPRF key. Kept like the operator key (a file of 64 hex digits, never an
/// argument); `Debug` shows its fingerprint, never the key.
pub struct OprfKey {
    server: OprfServer<Ristretto255>,
    fingerprint: String,
}

impl fmt::Debug for OprfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OprfKey")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl OprfKey {
    /// A fresh random key as 64 hex digits (the file's content).
    pub fn generate_hex() -> String {
        let server =
            OprfServer::<Ristretto255>::new(&mut OsRng).expect("a random seed derives a key");
        to_hex(&server.serialize())
    }

    /// The key from its file's content (64 hex digits, surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<OprfKey, OprfError> {
        let bytes = key_from_hex(text).ok_or(OprfError::Key("want 64 hex digits"))?;
        Self::from_bytes(&bytes)
    }

    /// The key from its 32 bytes (a canonical, non-zero scalar).
    pub fn from_bytes(bytes: &[u8]) -> Result<OprfKey, OprfError> {
        let server = OprfServer::<Ristretto255>::new_with_key(bytes)
            .map_err(|_| OprfError::Key("not a canonical non-zero scalar"))?;
        Ok(Self::from_server(server))
    }

    /// RFC 9497's DeriveKeyPair: the key from a seed and an info string (the test vectors').
    pub fn derive(seed: &[u8], info: &[u8]) -> Result<OprfKey, OprfError> {
        let server = OprfServer::<Ristretto255>::new_from_seed(seed, info)
            .map_err(|_| OprfError::Key("seed and info too long"))?;
        Ok(Self::from_server(server))
    }

    fn from_server(server: OprfServer<Ristretto255>) -> OprfKey {
        // A name for the key that reveals nothing of it: the first 8 bytes of the SHA-256 of
        // its public element (what bucket files record, so a server refuses buckets built
        // under another key).
        let scalar = Ristretto255::deserialize_scalar(&server.serialize())
            .expect("a server's own key deserialises");
        let public = Ristretto255::base_elem() * scalar;
        let digest = Sha256::digest(Ristretto255::serialize_elem(public));
        OprfKey {
            server,
            fingerprint: to_hex(&digest[..8]),
        }
    }

    /// 16 hex digits naming the key (see [`OprfKey::from_bytes`]); not secret.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The key's 32 bytes as 64 hex digits (what its file holds).
    pub fn to_hex(&self) -> String {
        to_hex(&self.server.serialize())
    }

    /// The OPRF's output for `input`, computed with the key (RFC 9497 `Evaluate`): what the
    /// bucket builder computes for every leaked pair and variant.
    pub fn evaluate(&self, input: &[u8]) -> Result<[u8; OUTPUT_LEN], OprfError> {
        let output = self.server.evaluate(input).map_err(|_| OprfError::Input)?;
        Ok(output.into())
    }

    /// The server's answer to a client's blinded element (RFC 9497 `BlindEvaluate`). A
    /// malformed element, or the identity, is refused.
    pub fn blind_evaluate(&self, blinded: &[u8]) -> Result<[u8; ELEMENT_LEN], OprfError> {
        let element =
            BlindedElement::<Ristretto255>::deserialize(blinded).map_err(|_| OprfError::Element)?;
        let evaluated = self.server.blind_evaluate(&element);
        to_element(&evaluated.serialize())
    }
}

/// A client's blinded input, waiting for the server's answer (RFC 9497 `Blind`); holds the
/// blind, so it is never sent or stored.
pub struct Blinded {
    client: OprfClient<Ristretto255>,
    message: [u8; ELEMENT_LEN],
}

impl fmt::Debug for Blinded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Blinded { .. }")
    }
}

impl Blinded {
    /// Blinds `input` with a fresh random scalar.
    pub fn new(input: &[u8]) -> Result<Blinded, OprfError> {
        let result =
            OprfClient::<Ristretto255>::blind(input, &mut OsRng).map_err(|_| OprfError::Input)?;
        Ok(Blinded {
            message: to_element(&result.message.serialize())?,
            client: result.state,
        })
    }

    /// Blinds `input` with a given blind (the RFC's vectors; never for a real check).
    #[cfg(test)]
    fn with_blind(input: &[u8], blind: &[u8]) -> Blinded {
        let blind = Ristretto255::deserialize_scalar(blind).expect("a vector's blind");
        let result = OprfClient::<Ristretto255>::deterministic_blind_unchecked(input, blind)
            .expect("a vector's input");
        Blinded {
            message: to_element(&result.message.serialize()).expect("an element"),
            client: result.state,
        }
    }

    /// The blinded element to send to the server.
    pub fn message(&self) -> &[u8; ELEMENT_LEN] {
        &self.message
    }

    /// The OPRF's output for `input` from the server's answer (RFC 9497 `Finalize`).
    pub fn finalize(&self, input: &[u8], evaluated: &[u8]) -> Result<[u8; OUTPUT_LEN], OprfError> {
        let element = EvaluationElement::<Ristretto255>::deserialize(evaluated)
            .map_err(|_| OprfError::Element)?;
        let output = self
            .client
            .finalize(input, &element)
            .map_err(|_| OprfError::Input)?;
        Ok(output.into())
    }
}

fn to_element(bytes: &[u8]) -> Result<[u8; ELEMENT_LEN], OprfError> {
    bytes.try_into().map_err(|_| OprfError::Element)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unhex;

    /// RFC 9497, Appendix A.1.1: OPRF(ristretto255, SHA-512), base mode.
    const SEED: &str = "a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3";
    const KEY_INFO: &str = "74657374206b6579";
    const SK_SM: &str = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e";
    const BLIND: &str = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706";
    /// (Input, BlindedElement, EvaluationElement, Output) of test vectors 1 and 2.
    const VECTORS: [(&str, &str, &str, &str); 2] = [
        (
            "00",
            "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
            "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
            "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3\
             ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
        ),
        (
            "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
            "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
            "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
            "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4\
             f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
        ),
    ];

    #[test]
    fn rfc_9497_a_1_1_key_derivation() {
        let key = OprfKey::derive(&unhex(SEED), &unhex(KEY_INFO)).unwrap();
        assert_eq!(key.to_hex(), SK_SM);
        assert_eq!(OprfKey::from_hex(SK_SM).unwrap().to_hex(), SK_SM);
    }

    #[test]
    fn rfc_9497_a_1_1_vectors_blind_evaluate_finalize_and_evaluate() {
        let key = OprfKey::from_hex(SK_SM).unwrap();
        for (input, blinded, evaluated, output) in VECTORS {
            let input = unhex(input);
            let client = Blinded::with_blind(&input, &unhex(BLIND));
            assert_eq!(to_hex(client.message()), blinded);
            let answer = key.blind_evaluate(client.message()).unwrap();
            assert_eq!(to_hex(&answer), evaluated);
            assert_eq!(to_hex(&client.finalize(&input, &answer).unwrap()), output);
            // The server's own evaluation (the bucket builder's) is the same function.
            assert_eq!(to_hex(&key.evaluate(&input).unwrap()), output);
        }
    }

    #[test]
    fn a_random_blind_reaches_the_same_output_and_hides_the_input() {
        let key = OprfKey::from_hex(&OprfKey::generate_hex()).unwrap();
        let input = b"leakwatch credential v1\x00\x05alicehunter2";
        let first = Blinded::new(input).unwrap();
        let second = Blinded::new(input).unwrap();
        assert_ne!(first.message(), second.message(), "blinds are fresh");
        for client in [first, second] {
            let answer = key.blind_evaluate(client.message()).unwrap();
            assert_eq!(
                client.finalize(input, &answer).unwrap(),
                key.evaluate(input).unwrap()
            );
        }
    }

    #[test]
    fn malformed_elements_and_keys_are_refused() {
        let key = OprfKey::from_hex(SK_SM).unwrap();
        assert_eq!(key.blind_evaluate(&[0; 32]), Err(OprfError::Element)); // identity
        assert_eq!(key.blind_evaluate(&[0xff; 32]), Err(OprfError::Element));
        assert_eq!(key.blind_evaluate(&[1; 31]), Err(OprfError::Element));
        assert!(OprfKey::from_hex("00").is_err());
        assert!(OprfKey::from_hex(&"0".repeat(64)).is_err()); // zero scalar
        assert!(OprfKey::from_hex(&"f".repeat(64)).is_err()); // not canonical
        assert!(!format!("{key:?}").contains(SK_SM));
    }
}
