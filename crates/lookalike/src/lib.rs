//! Look-alike domains, for watching phishing that imitates a protected domain.
//!
//! [`generate`] produces every variant of the kinds dnstwist produces — addition,
//! bitsquatting, cyrillic, homoglyph (IDN), hyphenation, insertion, omission, plural,
//! repetition, replacement (keyboard neighbours on QWERTY, QWERTZ and AZERTY), subdomain,
//! transposition, vowel swap, dictionary, TLD swap and the various TLD tricks — each with its
//! kind, in Unicode and punycode, following dnstwist's rules so that its set is a subset of
//! ours (a test runs the real dnstwist). [`check`] gives a verdict for one sender domain:
//! which protected domain it imitates and by which trick, using the generated set first and
//! then a confusables skeleton and edit distance, so it also catches variants outside it.
//! No DNS lookups happen here.

mod tables;

use std::collections::{BTreeMap, BTreeSet};

use tables::{
    AZERTY, CYRILLIC, GLYPHS_ASCII, GLYPHS_UNICODE, IDN_BR, IDN_INFO, IDN_NONE, QWERTY, QWERTZ,
};

/// One variant of a domain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Variant {
    /// The trick (dnstwist's fuzzer name: `addition`, `homoglyph`, `tld-swap`, …;
    /// `*original` for the domain itself).
    pub kind: &'static str,
    /// The domain as people read it (Unicode).
    pub unicode: String,
    /// The domain as DNS spells it (punycode, lower case).
    pub punycode: String,
}

/// Extra input for the dictionary and TLD-swap kinds.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Words to prepend and append (`dictionary`).
    pub dictionary: Vec<String>,
    /// Top-level domains to swap in (`tld-swap`).
    pub tlds: Vec<String>,
}

/// Why a domain cannot be fuzzed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDomain;

impl std::fmt::Display for InvalidDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a valid domain name")
    }
}

impl std::error::Error for InvalidDomain {}

/// Second-level labels under which a registry sells names (`co.uk`, `com.br`), as dnstwist
/// reads them when it has no public-suffix list.
const CTLD: [&str; 12] = [
    "org", "com", "net", "gov", "edu", "co", "mil", "nom", "ac", "info", "biz", "ne",
];

/// (subdomain, registrable label, public suffix) of a lower-case Unicode domain.
pub fn split(domain: &str) -> (String, String, String) {
    let d: Vec<&str> = domain
        .rsplitn(4, '.')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    match d.len() {
        0 | 1 => (
            String::new(),
            d.first().unwrap_or(&"").to_string(),
            String::new(),
        ),
        2 => (String::new(), d[0].into(), d[1].into()),
        n => {
            if CTLD.contains(&d[n - 2]) {
                (d[..n - 3].join("."), d[n - 3].into(), d[n - 2..].join("."))
            } else {
                (d[..n - 2].join("."), d[n - 2].into(), d[n - 1].into())
            }
        }
    }
}

/// Lower-case Unicode form of a domain given in either form; `None` if it is not one.
pub fn to_unicode(domain: &str) -> Option<String> {
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    let ascii = idna::domain_to_ascii(&domain).ok()?;
    if ascii.is_empty() {
        return None;
    }
    let (unicode, result) = idna::domain_to_unicode(&ascii);
    result.ok().map(|()| unicode)
}

/// The punycode of a candidate, if it is a valid host name by dnstwist's rule (ASCII labels
/// of letters, digits and inner hyphens; a final label of 2–63; 4–253 characters).
fn punycode(unicode: &str) -> Option<String> {
    let ascii = idna::domain_to_ascii_strict(unicode).ok()?;
    let ok_len = (4..=253).contains(&ascii.len());
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let last_ok = labels.last().is_some_and(|l| l.len() >= 2);
    (ok_len && labels.len() >= 2 && labels.iter().all(label_ok) && last_ok).then_some(ascii)
}

type Chars = Vec<char>;

fn s(c: &[char]) -> String {
    c.iter().collect()
}

fn neighbours(c: char) -> impl Iterator<Item = char> {
    [QWERTY, QWERTZ, AZERTY]
        .into_iter()
        .flat_map(move |layout| {
            layout
                .iter()
                .find(|(k, _)| *k == c)
                .map(|(_, n)| n.chars())
                .into_iter()
                .flatten()
        })
}

fn bitsquatting(d: &Chars) -> Vec<String> {
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let mut out = Vec::new();
    for (i, &c) in d.iter().enumerate() {
        for bit in 0..8 {
            if let Some(b) = char::from_u32(c as u32 ^ (1 << bit))
                && valid(b)
            {
                let mut v = d.clone();
                v[i] = b;
                out.push(s(&v));
            }
        }
    }
    out
}

fn cyrillic(d: &Chars) -> Vec<String> {
    let mapped: Option<String> = d
        .iter()
        .map(|c| CYRILLIC.iter().find(|(l, _)| l == c).map(|(_, r)| *r))
        .collect();
    mapped.into_iter().collect()
}

/// The homoglyph table for a public suffix: ASCII look-alikes plus the IDN letters its
/// registry allows (dnstwist's table for `info` and `br`, none where IDN is not sold, the
/// general Unicode table elsewhere).
fn glyphs(tld: &str) -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let idn: &[(&str, &[&str])] = if IDN_NONE.contains(&tld) {
        &[]
    } else if tld == "info" {
        IDN_INFO
    } else if tld == "br" || tld == "com.br" {
        IDN_BR
    } else {
        GLYPHS_UNICODE
    };
    let mut map: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (k, v) in GLYPHS_ASCII.iter().chain(idn) {
        map.entry(k).or_default().extend(v.iter().copied());
    }
    map
}

fn homoglyph_round(d: &str, glyphs: &BTreeMap<&str, BTreeSet<&str>>, out: &mut BTreeSet<String>) {
    let chars: Vec<char> = d.chars().collect();
    let mut buf = [0u8; 4];
    for (i, c) in chars.iter().enumerate() {
        if let Some(gs) = glyphs.get(c.encode_utf8(&mut buf) as &str) {
            for g in gs {
                out.insert(format!("{}{g}{}", s(&chars[..i]), s(&chars[i + 1..])));
            }
        }
    }
    for i in 0..chars.len().saturating_sub(1) {
        let win = s(&chars[i..i + 2]);
        let (a, b) = (chars[i].to_string(), chars[i + 1].to_string());
        let keys: BTreeSet<&str> = [a.as_str(), b.as_str(), win.as_str()].into_iter().collect();
        for key in keys {
            if let Some(gs) = glyphs.get(key) {
                for g in gs {
                    out.insert(format!(
                        "{}{}{}",
                        s(&chars[..i]),
                        win.replace(key, g),
                        s(&chars[i + 2..])
                    ));
                }
            }
        }
    }
}

/// Homoglyph variants stop growing past this many: the second round multiplies the first
/// (a 40-letter label of one repeated letter made 582k variants in 2.6 s; real names, with
/// few look-alikes per letter, make a few thousand).
const MAX_HOMOGLYPHS: usize = 100_000;

fn homoglyph(d: &Chars, tld: &str) -> BTreeSet<String> {
    let glyphs = glyphs(tld);
    let mut first = BTreeSet::new();
    homoglyph_round(&s(d), &glyphs, &mut first);
    let mut all = first.clone();
    for v in &first {
        if all.len() >= MAX_HOMOGLYPHS {
            break;
        }
        homoglyph_round(v, &glyphs, &mut all);
    }
    all
}

fn insertion(d: &Chars) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..d.len().saturating_sub(1) {
        for c in neighbours(d[i]) {
            let (pre, orig, suf) = (s(&d[..i]), d[i], s(&d[i + 1..]));
            out.push(format!("{pre}{c}{orig}{suf}"));
            out.push(format!("{pre}{orig}{c}{suf}"));
        }
    }
    out
}

fn replacement(d: &Chars) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..d.len() {
        for c in neighbours(d[i]) {
            let mut v = d.clone();
            v[i] = c;
            out.push(s(&v));
        }
    }
    out
}

fn addition(d: &Chars) -> Vec<String> {
    let extra: Vec<char> = ('0'..='9').chain('a'..='z').collect();
    let domain = s(d);
    let mut out: Vec<String> = extra.iter().map(|c| format!("{domain}{c}")).collect();
    if domain.contains('-') {
        let parts: Vec<&str> = domain.split('-').collect();
        for p in 1..parts.len() {
            for c in &extra {
                out.push(format!(
                    "{}{c}-{}",
                    parts[..p].join("-"),
                    parts[p..].join("-")
                ));
            }
        }
    }
    out
}

fn dictionary(d: &Chars, words: &[String]) -> Vec<String> {
    let domain = s(d);
    let mut out = Vec::new();
    for w in words {
        if !(domain.starts_with(w.as_str()) && domain.ends_with(w.as_str())) {
            out.extend([
                format!("{domain}-{w}"),
                format!("{domain}{w}"),
                format!("{w}-{domain}"),
                format!("{w}{domain}"),
            ]);
        }
    }
    if domain.contains('-') {
        let parts: Vec<&str> = domain.split('-').collect();
        for w in words {
            out.push(format!("{}-{w}", parts[..parts.len() - 1].join("-")));
            out.push(format!("{w}-{}", parts[1..].join("-")));
        }
    }
    out
}

/// Every variant of `domain` (IDN or punycode), its original first then sorted by kind and
/// name. Variants that are not valid host names are left out.
pub fn generate(domain: &str, options: &Options) -> Result<Vec<Variant>, InvalidDomain> {
    let unicode = to_unicode(domain).ok_or(InvalidDomain)?;
    // A host name by the rule the variants must meet (labels of at most 63 letters, digits
    // and inner hyphens): the work grows with the label, so an unbounded one is refused.
    punycode(&unicode).ok_or(InvalidDomain)?;
    let (sub, label, tld) = split(&unicode);
    if label.is_empty() {
        return Err(InvalidDomain);
    }
    let d: Chars = label.chars().collect();
    let n = d.len();
    let join = |sub: &str, label: &str, tld: &str| {
        [sub, label, tld]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(".")
    };
    let mut by_kind: Vec<(&'static str, Vec<String>)> = vec![
        ("addition", addition(&d)),
        ("bitsquatting", bitsquatting(&d)),
        ("cyrillic", cyrillic(&d)),
        ("homoglyph", homoglyph(&d, &tld).into_iter().collect()),
        (
            "hyphenation",
            (1..n)
                .map(|i| format!("{}-{}", s(&d[..i]), s(&d[i..])))
                .collect(),
        ),
        ("insertion", insertion(&d)),
        (
            "omission",
            (0..n)
                .map(|i| format!("{}{}", s(&d[..i]), s(&d[i + 1..])))
                .collect(),
        ),
        (
            "plural",
            (2..n.saturating_sub(2))
                .map(|i| {
                    let end = if matches!(d[i], 's' | 'x' | 'z') {
                        "es"
                    } else {
                        "s"
                    };
                    format!("{}{end}{}", s(&d[..=i]), s(&d[i + 1..]))
                })
                .collect(),
        ),
        (
            "repetition",
            (0..n)
                .map(|i| format!("{}{}{}", s(&d[..i]), d[i], s(&d[i..])))
                .collect(),
        ),
        ("replacement", replacement(&d)),
        (
            "subdomain",
            (1..n.saturating_sub(1))
                .filter(|&i| !matches!(d[i], '-' | '.') && !matches!(d[i - 1], '-' | '.'))
                .map(|i| format!("{}.{}", s(&d[..i]), s(&d[i..])))
                .collect(),
        ),
        (
            "transposition",
            (0..n.saturating_sub(1))
                .map(|i| {
                    let mut v = d.clone();
                    v.swap(i, i + 1);
                    s(&v)
                })
                .collect(),
        ),
        (
            "vowel-swap",
            (0..n)
                .filter(|&i| "aeiou".contains(d[i]))
                .flat_map(|i| {
                    let d = &d;
                    "aeiou".chars().map(move |v| {
                        let mut x = d.clone();
                        x[i] = v;
                        s(&x)
                    })
                })
                .collect(),
        ),
        ("dictionary", dictionary(&d, &options.dictionary)),
    ];
    let mut names: Vec<(&'static str, String)> = vec![("*original", join(&sub, &label, &tld))];
    for (kind, labels) in by_kind.drain(..) {
        names.extend(labels.into_iter().map(|l| (kind, join(&sub, &l, &tld))));
    }
    for t in &options.tlds {
        let t = t.trim().trim_start_matches('.').to_lowercase();
        if !t.is_empty() && t != tld {
            names.push(("tld-swap", join(&sub, &label, &t)));
        }
    }
    // dnstwist's "various": the suffix glued on, or .com in its place.
    if tld.contains('.') {
        let last = tld.rsplit('.').next().unwrap_or("");
        names.push(("various", join(&sub, &label, last)));
        names.push(("various", join(&sub, &format!("{label}{tld}"), "")));
    } else if !tld.is_empty() {
        names.push(("various", join(&sub, &format!("{label}{tld}"), &tld)));
        if tld != "com" {
            names.push(("various", join(&sub, &format!("{label}-{tld}"), "com")));
            names.push(("various", join(&sub, &format!("{label}{tld}"), "com")));
        }
    }
    if !sub.is_empty() {
        names.push(("various", join("", &format!("{sub}{label}"), &tld)));
        names.push((
            "various",
            join("", &format!("{}{label}", sub.replace('.', "")), &tld),
        ));
        names.push(("various", join("", &format!("{sub}-{label}"), &tld)));
        names.push((
            "various",
            join("", &format!("{}-{label}", sub.replace('.', "-")), &tld),
        ));
    }

    // The domain itself must be a valid host name, or there is nothing to imitate.
    if punycode(&names[0].1).is_none() {
        return Err(InvalidDomain);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (kind, name) in names {
        let Some(ascii) = punycode(&name) else {
            continue;
        };
        if seen.insert(ascii.clone()) {
            let (unicode, _) = idna::domain_to_unicode(&ascii);
            out.push(Variant {
                kind,
                unicode,
                punycode: ascii,
            });
        }
    }
    out[1..].sort_by(|a, b| (a.kind, &a.punycode).cmp(&(b.kind, &b.punycode)));
    Ok(out)
}

/// A sender domain's verdict against the protected domains.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The sender is a protected domain or one of its subdomains.
    Legitimate {
        /// The protected domain.
        protected: String,
    },
    /// The sender imitates a protected domain.
    Lookalike {
        /// The protected domain it imitates.
        protected: String,
        /// How: a generated variant's kind, or `confusable` (same skeleton), `typo` (edit
        /// distance), `brand-in-name` (the protected label inside a longer one).
        trick: String,
        /// For `typo`: the edit distance between the registrable labels.
        #[serde(skip_serializing_if = "Option::is_none")]
        distance: Option<usize>,
    },
    /// Nothing found.
    Clean,
}

/// The confusables skeleton of a label: every look-alike folded to one representative
/// (Cyrillic and accented letters to Latin, `rn` to `m`, `vv` to `w`, `0` to `o`, `1` and
/// `i` to `l`, …), hyphens and dots dropped.
pub fn skeleton(label: &str) -> String {
    let mut folded = String::with_capacity(label.len());
    for c in label.chars() {
        let base = CYRILLIC
            .iter()
            .find(|(_, cy)| cy.starts_with(c))
            .map(|(l, _)| *l)
            .or_else(|| {
                GLYPHS_UNICODE
                    .iter()
                    .find(|(_, gs)| gs.iter().any(|g| g.chars().eq([c])))
                    .and_then(|(k, _)| k.chars().next().filter(|_| k.len() == 1))
            })
            .unwrap_or(c);
        if base != '-' && base != '.' {
            folded.push(base);
        }
    }
    let folded = folded
        .replace("rn", "m")
        .replace("vv", "w")
        .replace("cl", "d")
        .replace('0', "o")
        .replace(['1', 'i'], "l")
        .replace('5', "s");
    // One letter doubled by accident reads the same.
    let mut chars: Vec<char> = folded.chars().collect();
    chars.dedup();
    chars.into_iter().collect()
}

/// Damerau–Levenshtein (optimal string alignment) distance.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The verdict for `sender` (a domain, or an address whose domain is taken) against each
/// protected domain, first match wins.
pub fn check(sender: &str, protected: &[String]) -> Result<Verdict, InvalidDomain> {
    let sender = sender.rsplit('@').next().unwrap_or(sender);
    let sender = to_unicode(sender).ok_or(InvalidDomain)?;
    let (_, s_label, s_tld) = split(&sender);
    for p in protected {
        let p = to_unicode(p).ok_or(InvalidDomain)?;
        if sender == p || sender.ends_with(&format!(".{p}")) {
            return Ok(Verdict::Legitimate { protected: p });
        }
    }
    for p in protected {
        let p = to_unicode(p).ok_or(InvalidDomain)?;
        let (_, p_label, p_tld) = split(&p);
        let found = |trick: &str, distance: Option<usize>| Verdict::Lookalike {
            protected: p.clone(),
            trick: trick.to_owned(),
            distance,
        };
        if let Some(v) = generate(&p, &Options::default())?
            .into_iter()
            .skip(1)
            .find(|v| v.unicode == sender || v.punycode == sender)
        {
            return Ok(found(v.kind, None));
        }
        if s_label == p_label && s_tld != p_tld {
            return Ok(found("tld-swap", None));
        }
        if skeleton(&s_label) == skeleton(&p_label) {
            return Ok(found("confusable", None));
        }
        let distance = edit_distance(&s_label, &p_label);
        let allowed = if p_label.chars().count() >= 8 { 2 } else { 1 };
        if distance <= allowed {
            return Ok(found("typo", Some(distance)));
        }
        if p_label.chars().count() >= 4 && skeleton(&s_label).contains(&skeleton(&p_label)) {
            return Ok(found("brand-in-name", None));
        }
    }
    Ok(Verdict::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_of(domain: &str, name: &str) -> Vec<&'static str> {
        generate(domain, &Options::default())
            .unwrap()
            .into_iter()
            .filter(|v| v.unicode == name || v.punycode == name)
            .map(|v| v.kind)
            .collect()
    }

    #[test]
    fn each_kind_produces_its_classic_example() {
        for (name, kind) in [
            ("paypal.com", "*original"),
            ("paypala.com", "addition"),
            ("paypak.com", "replacement"),
            ("paypal-.com", ""),
            ("pay-pal.com", "hyphenation"),
            ("paypl.com", "omission"),
            ("payppal.com", "repetition"),
            ("papyal.com", "transposition"),
            ("paypol.com", "vowel-swap"),
            ("pay.pal.com", "subdomain"),
            ("paypa1.com", "homoglyph"),
            ("pàypal.com", "homoglyph"),
            ("paypalcom.com", "various"),
            ("qaypal.com", "bitsquatting"),
        ] {
            let got = kinds_of("paypal.com", name);
            if kind.is_empty() {
                assert!(got.is_empty(), "{name}: {got:?}");
            } else {
                assert_eq!(got.first().copied(), Some(kind), "{name}");
            }
        }
        assert_eq!(kinds_of("apple.com", "аррӏе.com"), ["cyrillic"]);
        let v = generate("paypal.com", &Options::default()).unwrap();
        let idn = v.iter().find(|v| v.unicode == "pàypal.com").unwrap();
        assert_eq!(idn.punycode, "xn--pypal-rqa.com");
    }

    /// Found by the `lookalike` fuzz target: a name that IDNA accepts but is no host name
    /// (control characters) left no original, and sorting the variants after it panicked.
    #[test]
    fn regression_fuzz_crash_9589ec12_invalid_host_is_refused_not_a_panic() {
        assert_eq!(
            generate("pa\0\0\0\n.com", &Options::default()),
            Err(InvalidDomain)
        );
        assert!(check("pa\0\0\0\n.com", &["example.com".to_owned()]).is_ok());
    }

    /// Found by the `http_requests` fuzz target (a timeout): `?domain=` with a 130-letter
    /// label and slashes, which IDNA's lenient mapping accepts, took 19 s to expand. The
    /// domain to protect must be a host name (labels of at most 63 LDH characters) first.
    #[test]
    fn regression_fuzz_timeout_1b25c77f_a_name_that_is_no_host_is_refused_not_expanded() {
        let long = format!("examplaccount/e/v1/lookalikered=fal{}se", "T".repeat(100));
        assert_eq!(generate(&long, &Options::default()), Err(InvalidDomain));
        let label_64 = format!("{}.com", "a".repeat(64));
        assert_eq!(generate(&label_64, &Options::default()), Err(InvalidDomain));
        let label_63 = format!("{}.com", "a".repeat(63));
        assert!(generate(&label_63, &Options::default()).is_ok());
        assert!(generate("bücher.example", &Options::default()).is_ok());
    }

    #[test]
    fn regression_a_label_of_one_repeated_letter_stops_at_the_homoglyph_bound() {
        // 40 a's made 582k homoglyph variants (2.6 s, 3.6 s at 63 letters) before the bound.
        let chars: Chars = "a".repeat(40).chars().collect();
        let many = homoglyph(&chars, "com");
        assert!(many.len() < MAX_HOMOGLYPHS + 5_000, "{}", many.len());
        // A real name is far below it and keeps both rounds whole.
        let chars: Chars = "paypal".chars().collect();
        let glyphs = glyphs("com");
        let mut first = BTreeSet::new();
        homoglyph_round("paypal", &glyphs, &mut first);
        let mut both = first.clone();
        for v in &first {
            homoglyph_round(v, &glyphs, &mut both);
        }
        assert_eq!(homoglyph(&chars, "com"), both);
    }

    #[test]
    fn suffixes_split_like_dnstwist() {
        assert_eq!(
            split("a.b.example.co.uk"),
            ("a.b".into(), "example".into(), "co.uk".into())
        );
        assert_eq!(
            split("mail.google.com"),
            ("mail".into(), "google".into(), "com".into())
        );
        assert_eq!(
            split("example.com"),
            ("".into(), "example".into(), "com".into())
        );
    }

    #[test]
    fn verdicts_name_the_trick_even_outside_the_generated_set() {
        let protect = vec!["paypal.com".to_owned(), "acme-bank.co.uk".to_owned()];
        let check = |s: &str| check(s, &protect).unwrap();
        assert_eq!(
            check("paypal.com"),
            Verdict::Legitimate {
                protected: "paypal.com".into()
            }
        );
        assert_eq!(
            check("mail.paypal.com"),
            Verdict::Legitimate {
                protected: "paypal.com".into()
            }
        );
        let trick = |v: Verdict| match v {
            Verdict::Lookalike { trick, .. } => trick,
            other => format!("{other:?}"),
        };
        assert_eq!(trick(check("security@paypa1.com")), "homoglyph");
        // One Cyrillic letter: not a generated variant (dnstwist swaps all or none), but the
        // skeleton catches it.
        assert_eq!(trick(check("xn--pypal-4ve.com")), "confusable");
        assert_eq!(trick(check("paypal.net")), "tld-swap");
        assert_eq!(
            trick(check("pаypa1.net")),
            "confusable",
            "two tricks at once"
        );
        assert_eq!(trick(check("paypaal.net")), "confusable");
        assert_eq!(trick(check("acmebnak.co.uk")), "typo");
        assert_eq!(trick(check("paypal-secure-login.com")), "brand-in-name");
        assert_eq!(check("example.org"), Verdict::Clean);
        assert_eq!(edit_distance("paypal", "papyal"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
