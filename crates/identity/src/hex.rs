//! Key files' text: 32 key bytes as 64 hex digits, and bytes as lower-case hex (key ids,
//! fingerprints). One reader for every key kept in a file (the operator key, the credential
//! check's OPRF key).

/// The 32 bytes of a key written as 64 hex digits (surrounding white space ignored).
pub fn key_from_hex(text: &str) -> Option<[u8; 32]> {
    let t = text.trim().as_bytes();
    // Digits only: `from_str_radix` alone would take a "+f" pair.
    if t.len() != 64 || !t.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, pair) in t.chunks_exact(2).enumerate() {
        key[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(key)
}

/// `bytes` as lower-case hex digits.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_bad_text_is_refused() {
        let text = format!(" {}\n", "0f".repeat(32));
        assert_eq!(key_from_hex(&text), Some([0x0f; 32]));
        assert_eq!(to_hex(&[0x0f; 32]), "0f".repeat(32));
        assert_eq!(key_from_hex(&"0f".repeat(31)), None);
        assert_eq!(key_from_hex(&format!("{}zz", "0f".repeat(31))), None);
        // Regression: the operator key's reader took "+f" as a byte (`from_str_radix`).
        assert_eq!(key_from_hex(&format!("{}+f", "0f".repeat(31))), None);
    }
}
