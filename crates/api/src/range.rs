//! `GET /range/{prefix}`: Pwned Passwords' k-anonymity range endpoint, byte for byte.
//!
//! Answer: every stored hash with that 5-hex prefix as `SUFFIX:COUNT` (upper-case suffix),
//! lines joined by CRLF with none after the last, `text/plain`; `?mode=ntlm` for NTLM.
//! `Add-Padding: true` mixes in fake suffixes with count 0 up to 800–1000 lines (see
//! `padding`). The ETag is a digest of the real lines, so it changes exactly when the range
//! does (padding aside), and `If-None-Match` answers 304. Answers come from the range cache
//! (`range_cache`): rendered and compressed once per generation, then sent as shared bytes.

use std::{cell::RefCell, sync::Arc};

use axum::body::Bytes;
use axum::{
    extract::{Path, RawQuery, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use leakwatch_store::Namespace;

use crate::{
    ApiError, AppState,
    compress::{Coding, encode_range_text, preferred_coding},
    padding,
};

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
pub(crate) fn etag(ns: Namespace, body: &[u8]) -> HeaderValue {
    etag_header(ns, etag_digest(body))
}

/// The digest of a range answer's real lines that its ETag names.
pub(crate) fn etag_digest(body: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(body)
}

/// The ETag naming `digest` of a range answer of `ns`.
pub(crate) fn etag_header(ns: Namespace, digest: u64) -> HeaderValue {
    let mut tag = Vec::with_capacity(32);
    tag.push(b'"');
    tag.extend_from_slice(ns.name().as_bytes());
    tag.push(b'-');
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
            _ if !state.store.is_ready() => crate::NOT_READY,
            Namespace::Ntlm => "No NTLM hashes are loaded on this server: ask without mode=ntlm",
            _ => "No password hashes are loaded on this server yet",
        }));
    }
    // gzip on a tie: range text costs the same in either (`hexflate`), and every client
    // decodes gzip.
    let coding = preferred_coding(headers, Coding::Gzip);
    let padded_wanted = headers
        .get("add-padding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let pad_to = padded_wanted.then(padding::target);
    // A padded answer is sent plain-and-cached when the range already holds enough lines;
    // otherwise its real lines come from the cache uncompressed and are padded here.
    // From the answer tier when it holds this generation, else from the cache (or rendered).
    let answer_in = |coding| match state
        .answer_tier
        .as_ref()
        .and_then(|tier| tier.answer(&snap, ns, prefix, coding))
    {
        Some(answer) => Ok(answer),
        None => state.range_cache.answer(&snap, ns, prefix, coding),
    };
    let cached = answer_in(coding)?;
    let (answer, pad_to) = match pad_to {
        Some(target) if (cached.lines as usize) < target => match cached.coding {
            Coding::Identity => (cached, Some(target)),
            _ => (answer_in(Coding::Identity)?, Some(target)),
        },
        _ => (cached, None),
    };

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
    let etag = answer.etag.clone();
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

    let (body, sent_coding) = match pad_to {
        None => (answer.body, answer.coding),
        Some(target) => {
            let body = padding::pad(ns, &answer.body, answer.lines as usize, target);
            // Padded bodies are fresh every time: compressed per request, never cached.
            match encode_range_text(coding, &body) {
                Some(packed) => (Bytes::from(packed), coding),
                None => (Bytes::from(body), Coding::Identity),
            }
        }
    };
    if let Some(name) = sent_coding.content_encoding() {
        resp_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
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
}
