//! `URL:login:password` lines: the URL recognised first (the module's rules in `stealer`).

use std::borrow::Cow;

use super::{Capture, Malformed, is_scheme, website_of};
use crate::parse::trim_cr;

/// Splits a ULP line into its URL, login and password (see the module's rules).
pub fn split_ulp(line: &[u8]) -> Result<(&str, &str, &[u8]), Malformed> {
    let line = trim_cr(line);
    let url_end = url_end(line)?;
    let login_end = memchr::memchr(b':', &line[url_end + 1..])
        .map(|i| url_end + 1 + i)
        .ok_or(Malformed::NoPassword)?;
    // The URL and login must be text; the password may be any bytes.
    let url = std::str::from_utf8(&line[..url_end]).map_err(|_| Malformed::NotText)?;
    let login =
        std::str::from_utf8(&line[url_end + 1..login_end]).map_err(|_| Malformed::NotText)?;
    let password = &line[login_end + 1..];
    let (url, login) = (url.trim(), login.trim());
    if url.is_empty() {
        return Err(Malformed::NoUrl);
    }
    if login.is_empty() {
        return Err(Malformed::NoLogin);
    }
    if password.is_empty() {
        return Err(Malformed::NoPassword);
    }
    Ok((url, login, password))
}

/// The offset of the colon that ends a ULP line's URL.
fn url_end(line: &[u8]) -> Result<usize, Malformed> {
    let find = |from: usize, what: &dyn Fn(u8) -> bool| {
        line[from.min(line.len())..]
            .iter()
            .position(|&b| what(b))
            .map(|i| from + i)
    };
    let colon_after = |from: usize| find(from, &|b| b == b':');
    let is_port_digits = |from: usize| {
        let digits = line[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        (1..=5).contains(&digits).then_some(from + digits)
    };
    // After `scheme://`, or from the start.
    let authority = line
        .windows(3)
        .position(|w| w == b"://")
        .filter(|&i| std::str::from_utf8(&line[..i]).is_ok_and(is_scheme))
        .map_or(0, |i| i + 3);
    // User-info (`…@host`) only where a path bounds the authority and what lies between
    // the `@` and the path is a host and maybe a port: an `@` in a login is not one.
    let mut host = authority;
    if let Some(slash) = find(authority, &|b| b == b'/')
        && let Some(at) = line[authority..slash].iter().rposition(|&b| b == b'@')
    {
        let at = authority + at;
        let between = &line[at + 1..slash];
        let port_only = match memchr::memchr(b':', between) {
            None => true,
            Some(c) => between[c + 1..].iter().all(u8::is_ascii_digit),
        };
        if port_only {
            host = at + 1;
        }
    }
    let host_end = if line.get(host) == Some(&b'[') {
        find(host, &|b| b == b']').map_or(line.len(), |i| i + 1)
    } else {
        find(host, &|b| matches!(b, b':' | b'/' | b'?' | b'#')).unwrap_or(line.len())
    };
    match line.get(host_end) {
        None => Err(Malformed::NoLogin),
        Some(b':') => match is_port_digits(host_end + 1) {
            // `:port` then a path: the URL runs to the path's first colon.
            Some(port_end) if matches!(line.get(port_end), Some(b'/' | b'?' | b'#')) => {
                colon_after(port_end).ok_or(Malformed::NoLogin)
            }
            // `:port:login:password` (a login and a password still follow the port).
            Some(port_end)
                if line.get(port_end) == Some(&b':')
                    && memchr::memchr_iter(b':', &line[port_end..]).count() >= 2 =>
            {
                Ok(port_end)
            }
            _ => Ok(host_end),
        },
        // A path: the URL runs to its first colon.
        Some(_) => colon_after(host_end).ok_or(Malformed::NoLogin),
    }
}

/// Reads one ULP line into a capture.
pub fn parse_ulp(line: &[u8]) -> Result<Capture<'_>, Malformed> {
    let (url, login, password) = split_ulp(line)?;
    Ok(Capture {
        website: website_of(url)?,
        login: Cow::Borrowed(login),
        password: Cow::Borrowed(password),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulp_lines_split_where_the_url_ends_whatever_colons_it_and_the_password_hold() {
        let check = |line: &str, want: Result<(&str, &str, &str), Malformed>| {
            let got =
                split_ulp(line.as_bytes()).map(|(u, l, p)| (u, l, std::str::from_utf8(p).unwrap()));
            assert_eq!(got, want, "{line}");
        };
        check(
            "https://www.example.com/login:ann@example.test:pw",
            Ok(("https://www.example.com/login", "ann@example.test", "pw")),
        );
        check(
            "https://host.example.com:8443/path:bob:pa:ss:word",
            Ok(("https://host.example.com:8443/path", "bob", "pa:ss:word")),
        );
        check(
            "https://host.example.com:8443:bob:secret",
            Ok(("https://host.example.com:8443", "bob", "secret")),
        );
        check(
            "android://k3yH4sh==@com.example.app/:carol@example.test:pw1\r",
            Ok((
                "android://k3yH4sh==@com.example.app/",
                "carol@example.test",
                "pw1",
            )),
        );
        check(
            "shop.example.test:8080:dave:pw",
            Ok(("shop.example.test:8080", "dave", "pw")),
        );
        check(
            "shop.example.test:dave:pw:x",
            Ok(("shop.example.test", "dave", "pw:x")),
        );
        check(
            "https://example.com:12345:pw",
            Ok(("https://example.com", "12345", "pw")),
        );
        check(
            "http://[2001:db8::1]:8080/x:eve:pw",
            Ok(("http://[2001:db8::1]:8080/x", "eve", "pw")),
        );
        check(
            "https://example.com:ann@example.test:p/w",
            Ok(("https://example.com", "ann@example.test", "p/w")),
        );
        check(
            "https://u:p@www.example.com:8443/x:login:pass",
            Ok(("https://u:p@www.example.com:8443/x", "login", "pass")),
        );
        check("https://example.com/only-url", Err(Malformed::NoLogin));
        check(
            "https://example.com/:login-only",
            Err(Malformed::NoPassword),
        );
        check("https://example.com/: :pw", Err(Malformed::NoLogin));
        check("https://example.com/:ann:", Err(Malformed::NoPassword));
        check(":ann:pw", Err(Malformed::NoUrl));
        check("", Err(Malformed::NoLogin));
    }
}
