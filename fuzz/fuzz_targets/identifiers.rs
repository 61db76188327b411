//! Identifier normalisation on arbitrary text: an accepted e-mail address, phone number or
//! username is stable (normalising the normalised form gives it back); nothing panics.
#![no_main]

use leakwatch_identity::{
    lookup_candidates, normalize_domain, normalize_email, normalize_phone, normalize_username,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(email) = normalize_email(text) {
        assert_eq!(
            normalize_email(&email).as_deref(),
            Ok(email.as_str()),
            "{text:?}"
        );
    }
    if let Ok(user) = normalize_username(text) {
        assert_eq!(
            normalize_username(&user).as_deref(),
            Ok(user.as_str()),
            "{text:?}"
        );
    }
    for region in [None, Some("GB"), Some("US")] {
        if let Ok(phone) = normalize_phone(text, region) {
            assert_eq!(
                normalize_phone(&phone, None).as_deref(),
                Ok(phone.as_str()),
                "{text:?} with {region:?}"
            );
        }
    }
    let _ = normalize_domain(text);
    // (That errors never quote the input is tested by the identity crate's unit tests; a
    // fuzzer would find inputs that are merely substrings of the fixed messages.)
    let _ = lookup_candidates(text, Some("GB"));
});
