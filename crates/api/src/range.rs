//! `GET /range/{prefix}`: Pwned Passwords' k-anonymity range endpoint, byte for byte.
//!
//! Answer: every stored hash with that 5-hex prefix as `SUFFIX:COUNT` (upper-case suffix),
//! lines joined by CRLF with none after the last, `text/plain`; `?mode=ntlm` for NTLM.
//! `Add-Padding: true` mixes in fake suffixes with count 0 up to 800–1000 lines. The ETag is
//! a digest of the real lines, so it changes exactly when the range does (padding aside), and
//! `If-None-Match` answers 304.

use std::{cell::RefCell, sync::Arc};

use axum::{
    extract::{Path, RawQuery, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use leakwatch_store::{Key, Namespace};

use crate::{
    ApiError, AppState,
    compress::{MIN_COMPRESSED_LEN, encode, preferred_coding},
};

/// Padding: at least this many lines...
const PAD_MIN: usize = 800;
/// ...plus up to this many more, chosen at random per response.
const PAD_JITTER: usize = 200;

/// Parses a 5-hex prefix, either case.
pub(crate) fn parse_prefix(s: &str) -> Option<u32> {
    (s.len() == 5 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u32::from_str_radix(s, 16).ok())
        .flatten()
}

fn parse_mode(query: Option<&str>) -> Result<Namespace, ApiError> {
    let mut ns = Namespace::Sha1;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k.eq_ignore_ascii_case("mode") {
            ns = match v.to_ascii_lowercase().as_str() {
                "ntlm" => Namespace::Ntlm,
                "sha1" | "" => Namespace::Sha1,
                _ => {
                    return Err(ApiError::BadRequest(
                        "The mode parameter must be sha1 or ntlm",
                    ));
                }
            };
        }
    }
    Ok(ns)
}

fn render(entries: &[(Key, u64)], digits: usize, out: &mut Vec<u8>) {
    let mut count = itoa_buf();
    for (i, &(key, c)) in entries.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        key.write_hex_suffix(digits, out);
        out.push(b':');
        out.extend_from_slice(fmt_u64(c, &mut count));
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn fmt_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// `real` mixed with random suffixes (count 0) up to 800–1000 lines, sorted. A random
/// 135-bit suffix colliding with a real one or another fake is astronomically unlikely, but
/// duplicates are dropped all the same, and the loop tops up what they removed.
fn padded(ns: Namespace, prefix: u32, real: &[(Key, u64)]) -> Vec<(Key, u64)> {
    let target = (PAD_MIN + fastrand::usize(0..=PAD_JITTER)).max(real.len());
    let base = Key::first_with_prefix(ns, prefix as u64, leakwatch_store::PREFIX_BITS);
    let suffix_bits = ns.key_bits() - leakwatch_store::PREFIX_BITS;
    let mut all: Vec<(Key, u64)> = Vec::with_capacity(target);
    all.extend_from_slice(real);
    while all.len() < target {
        while all.len() < target {
            let r = Key::from_u128(fastrand::u128(..))
                .shift_left(32)
                .or_low(fastrand::u32(..) as u64);
            let suffix = r
                .shift_left(160 - suffix_bits)
                .shift_right(160 - suffix_bits);
            if let Some(key) = base.checked_add(suffix) {
                all.push((key, 0));
            }
        }
        // Real entries (count > 0) sort before a fake twin (count 0) and so survive dedup.
        all.sort_unstable_by_key(|e| (e.0, std::cmp::Reverse(e.1)));
        all.dedup_by_key(|e| e.0);
    }
    all
}

thread_local! {
    /// The last `Last-Modified` value rendered on this thread, by namespace and time: it
    /// changes only when an import publishes, so answers share it instead of formatting it.
    static LAST_MODIFIED: RefCell<Vec<(Namespace, u64, HeaderValue)>> = const { RefCell::new(Vec::new()) };
}

fn last_modified(ns: Namespace, unix: u64) -> HeaderValue {
    LAST_MODIFIED.with_borrow_mut(|cache| {
        if let Some((_, _, v)) = cache.iter().find(|(n, t, _)| *n == ns && *t == unix) {
            return v.clone();
        }
        let text =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix));
        let value = HeaderValue::from_str(&text).expect("an HTTP date is a valid header value");
        cache.retain(|(n, _, _)| *n != ns);
        cache.push((ns, unix, value.clone()));
        value
    })
}

/// The ETag of a range answer: namespace and a digest of its real lines, quoted.
fn etag(ns: Namespace, body: &[u8]) -> HeaderValue {
    let mut tag = Vec::with_capacity(32);
    tag.push(b'"');
    tag.extend_from_slice(ns.name().as_bytes());
    tag.push(b'-');
    let digest = xxhash_rust::xxh3::xxh3_64(body);
    for shift in (0..16).rev() {
        tag.push(b"0123456789abcdef"[(digest >> (shift * 4)) as usize & 15]);
    }
    tag.push(b'"');
    HeaderValue::from_maybe_shared(axum::body::Bytes::from(tag))
        .expect("quoted hex is a valid header value")
}

// The request is taken whole, not as a `HeaderMap` extractor, which would copy its headers.
pub(crate) async fn range(
    State(state): State<Arc<AppState>>,
    Path(prefix): Path<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let prefix = parse_prefix(&prefix).ok_or(ApiError::BadRequest(
        "The hash prefix was not in a valid format",
    ))?;
    let ns = parse_mode(query.as_deref())?;
    let snap = state.store.snapshot();
    // Fail closed: with no hashes of this kind loaded, an empty answer would say "never
    // leaked" about every password.
    if snap.segments(ns).is_empty() {
        return Err(ApiError::Unavailable(match ns {
            Namespace::Ntlm => "No NTLM hashes are loaded on this server: ask without mode=ntlm",
            _ => "No password hashes are loaded on this server yet",
        }));
    }
    let real = snap.range(ns, prefix)?;

    let digits = ns.suffix_hex_len();
    // A line is the suffix, ':', a count of up to 20 digits, CRLF.
    let mut body = Vec::with_capacity((digits + 23) * real.len());
    render(&real, digits, &mut body);
    let etag = etag(ns, &body);

    let mut resp_headers = HeaderMap::with_capacity(8);
    let fixed = [
        (header::CONTENT_TYPE, "text/plain"),
        (header::CACHE_CONTROL, "public, max-age=2678400"),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (header::VARY, "Add-Padding, Accept-Encoding"),
    ];
    for (name, value) in fixed {
        resp_headers.insert(name, HeaderValue::from_static(value));
    }
    resp_headers.insert(
        header::LAST_MODIFIED,
        last_modified(ns, snap.modified_unix(ns)),
    );
    resp_headers.insert(header::ETAG, etag.clone());

    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/").as_bytes() == etag.as_bytes()
        });
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, resp_headers).into_response());
    }

    let padded_wanted = headers
        .get("add-padding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if padded_wanted {
        let all = padded(ns, prefix, &real);
        body = Vec::with_capacity((digits + 23) * all.len());
        render(&all, digits, &mut body);
    }
    // An empty or tiny range goes plain: gzip's own header and trailer would be most of it.
    if body.len() >= MIN_COMPRESSED_LEN
        && let Some((encoding, compressed)) = encode(preferred_coding(headers), &body)
    {
        resp_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        return Ok((StatusCode::OK, resp_headers, compressed).into_response());
    }
    Ok((StatusCode::OK, resp_headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        for (s, want) in [
            ("5BAA6", Some(0x5BAA6)),
            ("5baa6", Some(0x5BAA6)),
            ("00000", Some(0)),
            ("FFFFF", Some(0xFFFFF)),
        ] {
            assert_eq!(parse_prefix(s), want, "{s}");
        }
        for bad in ["5BAA", "5BAA61", "5BAG6", "", "+BAA6", "5BAA\u{e9}"] {
            assert_eq!(parse_prefix(bad), None, "{bad}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode(None).unwrap(), Namespace::Sha1);
        assert_eq!(parse_mode(Some("mode=ntlm")).unwrap(), Namespace::Ntlm);
        assert_eq!(parse_mode(Some("x=1&mode=NTLM")).unwrap(), Namespace::Ntlm);
        assert!(parse_mode(Some("mode=md5")).is_err());
    }

    #[test]
    fn padding_fills_to_between_800_and_1000_with_fresh_suffixes_in_the_range() {
        for ns in Namespace::ALL {
            let real: Vec<(Key, u64)> = (1..=5u128)
                .map(|i| {
                    let base = Key::first_with_prefix(ns, 0xABCDE, 20);
                    (base.checked_add(Key::from_u128(i * 7)).unwrap(), 9)
                })
                .collect();
            let all = padded(ns, 0xABCDE, &real);
            assert!((800..=1000).contains(&all.len()), "{}", all.len());
            assert!(all.iter().all(|(k, _)| k.prefix(ns) == 0xABCDE));
            assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "sorted, unique");
            for r in &real {
                assert!(all.contains(r), "real entry kept with its count");
            }
            assert_eq!(
                all.iter().filter(|e| e.1 == 0).count(),
                all.len() - real.len()
            );
        }
        // An answer already longer than the padding target is left as it is.
        let many: Vec<(Key, u64)> = (1..=1200u128)
            .map(|i| {
                (
                    Key::first_with_prefix(Namespace::Sha1, 7, 20)
                        .checked_add(Key::from_u128(i))
                        .unwrap(),
                    1,
                )
            })
            .collect();
        assert_eq!(padded(Namespace::Sha1, 7, &many), many);
    }

    #[test]
    fn render_is_crlf_separated_without_trailing_newline() {
        let k = Key::from_hex(b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8").unwrap();
        let k2 = k.checked_add(Key::from_u128(1)).unwrap();
        let mut out = Vec::new();
        render(&[(k, 3), (k2, 10_434_004)], 35, &mut out);
        assert_eq!(out, b"1E4C9B93F3F0682250B6CF8331B7EE68FD8:3\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD9:10434004");
    }
}
