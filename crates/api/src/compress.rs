//! Response compression for handlers that compress their own answers: `Accept-Encoding`
//! negotiation (q-values; brotli wins ties) and gzip/brotli at the fastest levels with
//! per-thread reused state.
//!
//! Handlers call this instead of running behind tower-http's `CompressionLayer`, which
//! allocated a fresh deflate state for every response and cost the range route a third of
//! its throughput. It does not decide *whether* an answer is worth compressing; callers do.

use std::cell::RefCell;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};

/// Answers shorter than this go plain: below about a packet, compressing saves no round
/// trip and costs more CPU than sending the bytes.
pub(crate) const MIN_COMPRESSED_LEN: usize = 512;

/// A content coding an answer can be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    /// The `Content-Encoding` to send (none for identity).
    pub(crate) fn content_encoding(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Brotli => Some("br"),
        }
    }
}

/// The coding `Accept-Encoding` prefers among gzip and br: the highest q-value above 0,
/// `on_tie` when both have it (brotli for JSON, whose answers it makes smaller; gzip for
/// range text, which [`crate::hexflate`] packs in either at the same size and cost);
/// identity if it names neither.
pub(crate) fn preferred_coding(headers: &HeaderMap, on_tie: Coding) -> Coding {
    let mut best = (Coding::Identity, 0.0f32);
    let items = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let coding = if name.eq_ignore_ascii_case("br") {
            Coding::Brotli
        } else if name.eq_ignore_ascii_case("gzip") {
            Coding::Gzip
        } else {
            continue;
        };
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
            .unwrap_or(0.0);
        if q > best.1 || (q > 0.0 && q == best.1 && coding == on_tie) {
            best = (coding, q);
        }
    }
    best.0
}

/// `body` as a brotli stream at quality 0 (tower-http's fastest level, which this route
/// used before it compressed its own answers), with a window just large enough for it.
fn brotli(body: &[u8]) -> Option<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 0,
        lgwin: (usize::BITS - body.len().max(1).leading_zeros()).clamp(10, 22) as i32,
        size_hint: body.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(body.len() / 2 + 64);
    brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
    Some(out)
}

thread_local! {
    /// One raw-deflate state per server thread, reset between answers: tower-http's layer
    /// allocated (and page-faulted) a fresh zlib state for every response, which cost three
    /// quarters of the gzip throughput.
    static DEFLATE: RefCell<flate2::Compress> =
        RefCell::new(flate2::Compress::new(flate2::Compression::fast(), false));
}

/// `body` as a gzip member (RFC 1952): header, raw deflate at the fastest level (as nginx's
/// default), CRC-32 and length. `None` if deflate reports an error (then it is sent plain).
fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() / 2 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    DEFLATE.with_borrow_mut(|z| {
        z.reset();
        loop {
            let consumed = z.total_in() as usize;
            out.reserve(body.len().saturating_sub(consumed) / 2 + 64);
            match z.compress_vec(&body[consumed..], &mut out, flate2::FlushCompress::Finish) {
                Ok(flate2::Status::StreamEnd) => return Some(()),
                Ok(_) => continue,
                Err(_) => {
                    z.reset();
                    return None;
                }
            }
        }
    })?;
    let mut crc = flate2::Crc::new();
    crc.update(body);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    Some(out)
}

/// The coding a request's `Accept-Encoding` prefers, as an extractor; never rejects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accepts(pub Coding);

impl<S: Send + Sync> FromRequestParts<S> for Accepts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Accepts(preferred_coding(&parts.headers, Coding::Brotli)))
    }
}

/// `body` in `coding`, with the `Content-Encoding` value to send; `None` to send it plain
/// (identity wanted, or the encoder failed).
pub(crate) fn encode(coding: Coding, body: &[u8]) -> Option<(&'static str, Vec<u8>)> {
    match coding {
        Coding::Identity => None,
        Coding::Gzip => gzip(body).map(|b| ("gzip", b)),
        Coding::Brotli => brotli(body).map(|b| ("br", b)),
    }
}

/// Range text (`SUFFIX:COUNT` lines) in `coding`; `None` to send it plain (identity wanted,
/// shorter than [`MIN_COMPRESSED_LEN`] so not worth it, or no encoder took it). gzip and brotli go
/// through the encoder made for that text ([`crate::hexflate`]), ~30× faster than zlib's
/// fastest level and brotli's fastest quality at about their sizes (~28 and ~23 µs a
/// 1,900-line range against 828 and 670); anything it does not hold, through the general
/// encoders.
pub(crate) fn encode_range_text(coding: Coding, body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    encode_range_text_into(coding, body, &mut out).then_some(out)
}

/// [`encode_range_text`] into `out` (cleared first; a reused room): `false` to send plain.
pub(crate) fn encode_range_text_into(coding: Coding, body: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if body.len() < MIN_COMPRESSED_LEN {
        return false;
    }
    let general = match coding {
        Coding::Identity => return false,
        Coding::Gzip if crate::hexflate::gzip_into(body, out).is_some() => return true,
        Coding::Brotli if crate::hexflate::brotli_into(body, out).is_some() => return true,
        Coding::Gzip => gzip(body),
        Coding::Brotli => brotli(body),
    };
    out.clear();
    general.is_some_and(|general| {
        out.extend_from_slice(&general);
        true
    })
}

/// A 200 answer of `content_type`, compressed in the coding the client prefers when it is
/// at least [`MIN_COMPRESSED_LEN`] bytes. `Vary: Accept-Encoding` either way, since the
/// representation depends on it.
pub(crate) fn respond(content_type: &'static str, body: Vec<u8>, accepts: Accepts) -> Response {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if body.len() >= MIN_COMPRESSED_LEN
        && let Some((coding, compressed)) = encode(accepts.0, &body)
    {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        return (StatusCode::OK, headers, compressed).into_response();
    }
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn compressed_answers_decode_to_the_body() {
        use std::io::Read;
        for body in [Vec::new(), b"ABC:1".to_vec(), vec![b'7'; 200_000]] {
            for _ in 0..2 {
                // twice: the reused deflate state must start clean
                let gz = gzip(&body).unwrap();
                let mut back = Vec::new();
                flate2::read::GzDecoder::new(&gz[..])
                    .read_to_end(&mut back)
                    .unwrap();
                assert_eq!(back, body);
            }
            let br = brotli(&body).unwrap();
            let mut back = Vec::new();
            brotli::Decompressor::new(&br[..], 4096)
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, body);
        }
    }

    /// Range text goes through the encoder made for it in both codings (a general
    /// encoder's output decodes the same, so only the bytes tell which one ran); any other
    /// text through the general ones, and decodes back.
    #[test]
    fn range_text_takes_the_range_code_and_other_text_the_general_encoders() {
        use std::io::Read;
        let text: Vec<u8> = b"0123456789ABCDEF0123456789ABCDEF012:42\r\n"
            .iter()
            .copied()
            .cycle()
            .take(4_000)
            .collect();
        assert_eq!(
            encode_range_text(Coding::Gzip, &text),
            crate::hexflate::gzip(&text)
        );
        assert_eq!(
            encode_range_text(Coding::Brotli, &text),
            crate::hexflate::brotli(&text)
        );
        assert_eq!(encode_range_text(Coding::Identity, &text), None);
        // Too short to be worth compressing: sent plain, in either coding.
        let short = &text[..MIN_COMPRESSED_LEN - 1];
        assert_eq!(encode_range_text(Coding::Gzip, short), None);
        assert_eq!(encode_range_text(Coding::Brotli, short), None);
        assert!(encode_range_text(Coding::Gzip, &text[..MIN_COMPRESSED_LEN]).is_some());
        let other = [&b"{\"hashSuffix\": 1}"[..]; 100].concat();
        let gz = encode_range_text(Coding::Gzip, &other).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, other);
        let br = encode_range_text(Coding::Brotli, &other).unwrap();
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, other);
    }

    #[test]
    fn accept_encoding_is_read_with_q_values() {
        let check = |accept: &str, want: Coding| {
            let mut h = HeaderMap::new();
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(accept).unwrap(),
            );
            assert_eq!(preferred_coding(&h, Coding::Brotli), want, "{accept}");
        };
        check("gzip", Coding::Gzip);
        check("deflate, GZIP", Coding::Gzip);
        check("br", Coding::Brotli);
        check("gzip, deflate, br", Coding::Brotli);
        check("br;q=0.5, gzip", Coding::Gzip);
        check("br, gzip;q=0.9", Coding::Brotli);
        check("br;q=0, gzip;q=0.1", Coding::Gzip);
        check("gzip;q=0", Coding::Identity);
        check("identity", Coding::Identity);
        check("deflate, zstd", Coding::Identity);
        check("gzip;q=zero", Coding::Identity);
        assert_eq!(
            preferred_coding(&HeaderMap::new(), Coding::Brotli),
            Coding::Identity
        );
        // Range text breaks ties the other way; an explicit preference still wins.
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        assert_eq!(preferred_coding(&h, Coding::Gzip), Coding::Gzip);
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0.8, br"),
        );
        assert_eq!(preferred_coding(&h, Coding::Gzip), Coding::Brotli);
    }
}
