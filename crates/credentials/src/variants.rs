//! The passwords a leaked one also stands for: what people do to a password when a site makes
//! them change it or when they reuse it elsewhere. After MIGP (Pal et al., USENIX Security
//! 2022), whose variants are the most frequent of Das et al.'s transformations (case of the
//! first letter, characters added or removed at the end, substitutions); here a fixed,
//! documented list (docs/FORMAT.md), applied in order, each giving at most one variant:
//!
//! 1. the first character's case switched, if it is an ASCII letter (`Summer2024` → `summer2024`);
//! 2. `!` appended (`Summer2024!`);
//! 3. `1` appended (`Summer20241`);
//! 4. the last character removed (`Summer202`);
//! 5. the trailing number plus one (`Summer2025`; `pass009` → `pass010`, width kept when it
//!    starts with `0`);
//! 6. the trailing number minus one, if above zero (`Summer2023`);
//! 7. the trailing digits and symbols removed (`Summer2024!` → `Summer`);
//! 8. every ASCII letter's case switched, as caps lock does (`sUMMER2024`);
//! 9. ASCII look-alike substitutions, all at once: `a`→`@`, `e`→`3`, `i`→`1`, `o`→`0`,
//!    `s`/`S`→`$` (`$umm3r2024`);
//! 10. `123` appended (`Summer2024123`).
//!
//! A variant equal to the password or to an earlier variant, or empty, is dropped: at most
//! [`MAX_VARIANTS`] a password. Only ASCII is changed, so that every client (the browser's
//! JavaScript among them) computes the same list.

/// At most this many variants a leaked password.
pub const MAX_VARIANTS: usize = 10;

/// The variants of `password`, in rule order (see the module's list).
pub fn variants(password: &str) -> Vec<String> {
    let candidates = [
        switch_first_case(password),
        Some(format!("{password}!")),
        Some(format!("{password}1")),
        drop_last(password),
        step_trailing_number(password, true),
        step_trailing_number(password, false),
        Some(
            password
                .trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation())
                .to_string(),
        ),
        Some(password.chars().map(switch_case).collect()),
        Some(password.chars().map(look_alike).collect()),
        Some(format!("{password}123")),
    ];
    let mut out: Vec<String> = Vec::with_capacity(MAX_VARIANTS);
    for candidate in candidates.into_iter().flatten() {
        if !candidate.is_empty() && candidate != password && !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

fn switch_case(c: char) -> char {
    if c.is_ascii_lowercase() {
        c.to_ascii_uppercase()
    } else {
        c.to_ascii_lowercase()
    }
}

fn switch_first_case(password: &str) -> Option<String> {
    let first = password.chars().next()?;
    first
        .is_ascii_alphabetic()
        .then(|| format!("{}{}", switch_case(first), &password[1..]))
}

fn drop_last(password: &str) -> Option<String> {
    let mut chars = password.chars();
    chars.next_back()?;
    Some(chars.as_str().to_string())
}

fn look_alike(c: char) -> char {
    match c {
        'a' => '@',
        'e' => '3',
        'i' => '1',
        'o' => '0',
        's' | 'S' => '$',
        other => other,
    }
}

/// The password with its trailing run of ASCII digits (at most 18 of them) one up or down.
fn step_trailing_number(password: &str, up: bool) -> Option<String> {
    let stem = password.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &password[stem.len()..];
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let stepped = if up { n + 1 } else { n.checked_sub(1)? };
    let width = if digits.starts_with('0') {
        digits.len()
    } else {
        0
    };
    Some(format!("{stem}{stepped:0width$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, expected: &[&str]) {
        assert_eq!(variants(password), expected, "{password}");
    }

    #[test]
    fn the_rules_in_order() {
        check(
            "Summer2024",
            &[
                "summer2024",
                "Summer2024!",
                "Summer20241",
                "Summer202",
                "Summer2025",
                "Summer2023",
                "Summer",
                "sUMMER2024",
                "$umm3r2024",
                "Summer2024123",
            ],
        );
        check(
            "pass009",
            &[
                "Pass009",
                "pass009!",
                "pass0091",
                "pass00",
                "pass010",
                "pass008",
                "pass",
                "PASS009",
                "p@$$009",
                "pass009123",
            ],
        );
    }

    #[test]
    fn duplicates_empties_and_non_ascii_are_dropped_not_mangled() {
        // "1" → "" (removed last), "" (trailing digits removed): dropped; "0" is "1" minus one.
        check("1", &["1!", "11", "2", "0", "1123"]);
        check("0", &["0!", "01", "1", "0123"]);
        // Non-ASCII letters are left as they are.
        check(
            "Ünïcødé",
            &["Ünïcødé!", "Ünïcødé1", "Ünïcød", "ÜNïCøDé", "Ünïcødé123"],
        );
        check("", &["!", "1", "123"]);
        for password in ["Summer2024", "pass009", "1", "Ünïcødé", "x"] {
            assert!(variants(password).len() <= MAX_VARIANTS);
        }
    }
}
