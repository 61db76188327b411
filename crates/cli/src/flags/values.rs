//! The flags' value sets (clap `ValueEnum`s) and, in one place, their conversion into the
//! library types they stand for.

use clap::ValueEnum;
use leakwatch_gen::{DumpFormat, GenFormat};
use leakwatch_identity::Kind;
use leakwatch_service::audit::ExportFormat;
use leakwatch_service::imports::Format;
use leakwatch_store::Namespace;

#[derive(Clone, Copy, ValueEnum)]
pub enum SyncMode {
    Sha1,
    Ntlm,
    Both,
}

/// The server's log format (`serve --log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// A coding the answer tier writes beside plain text (`serve --answer-codings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AnswerCodingArg {
    Gzip,
    Br,
    /// Plain text only.
    None,
}

impl AnswerCodingArg {
    /// The codings a list of these names (`none` alone, or any of the others).
    pub fn codings(list: &[AnswerCodingArg]) -> Result<leakwatch_api::AnswerCodings, String> {
        if list.contains(&AnswerCodingArg::None) && list.len() > 1 {
            return Err("--answer-codings: `none` stands alone".into());
        }
        Ok(leakwatch_api::AnswerCodings {
            gzip: list.contains(&AnswerCodingArg::Gzip),
            brotli: list.contains(&AnswerCodingArg::Br),
        })
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KindArg {
    Email,
    Phone,
    Username,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum VendorFormat {
    Csv,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ImpactFormat {
    Text,
    Json,
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AuditFormatArg {
    Auto,
    Pwdump,
    Csv,
    Sha1,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AuditOutput {
    Text,
    Csv,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DumpFormatArg {
    /// `email<sep>password` lines.
    Combo,
    /// CSV with a header.
    Csv,
    /// TSV with a header.
    Tsv,
    /// JSON Lines.
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SeparatorArg {
    Colon,
    Semicolon,
    Pipe,
    Tab,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Auto,
    Hibp,
    HibpDir,
    Plain,
    Combo,
    Csv,
    Tsv,
    Jsonl,
    Stealer,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GenFormatArg {
    Sha1,
    Ntlm,
    Plain,
}

impl SyncMode {
    /// The namespaces to mirror.
    pub fn namespaces(self) -> Vec<Namespace> {
        match self {
            SyncMode::Sha1 => vec![Namespace::Sha1],
            SyncMode::Ntlm => vec![Namespace::Ntlm],
            SyncMode::Both => vec![Namespace::Sha1, Namespace::Ntlm],
        }
    }
}

impl From<KindArg> for Kind {
    fn from(k: KindArg) -> Kind {
        match k {
            KindArg::Email => Kind::Email,
            KindArg::Phone => Kind::Phone,
            KindArg::Username => Kind::Username,
        }
    }
}

impl AuditFormatArg {
    /// The export format; `None` = detect it.
    pub fn format(self) -> Option<ExportFormat> {
        match self {
            AuditFormatArg::Auto => None,
            AuditFormatArg::Pwdump => Some(ExportFormat::Pwdump),
            AuditFormatArg::Csv => Some(ExportFormat::Csv),
            AuditFormatArg::Sha1 => Some(ExportFormat::Sha1),
        }
    }
}

impl DumpFormatArg {
    /// The generator's dump format, with this separator for combo lines.
    pub fn with_separator(self, separator: SeparatorArg) -> DumpFormat {
        let sep = match separator {
            SeparatorArg::Colon => b':',
            SeparatorArg::Semicolon => b';',
            SeparatorArg::Pipe => b'|',
            SeparatorArg::Tab => b'\t',
        };
        match self {
            DumpFormatArg::Combo => DumpFormat::Combo(sep),
            DumpFormatArg::Csv => DumpFormat::Csv,
            DumpFormatArg::Tsv => DumpFormat::Tsv,
            DumpFormatArg::Jsonl => DumpFormat::Jsonl,
        }
    }
}

impl FormatArg {
    /// The input format; `None` = detect it.
    pub fn format(self) -> Option<Format> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Hibp => Some(Format::Hibp),
            FormatArg::HibpDir => Some(Format::HibpDir),
            FormatArg::Plain => Some(Format::Plain),
            FormatArg::Combo => Some(Format::Combo),
            FormatArg::Csv => Some(Format::Csv),
            FormatArg::Tsv => Some(Format::Tsv),
            FormatArg::Jsonl => Some(Format::Jsonl),
            FormatArg::Stealer => Some(Format::Stealer),
        }
    }
}

impl From<GenFormatArg> for GenFormat {
    fn from(f: GenFormatArg) -> GenFormat {
        match f {
            GenFormatArg::Sha1 => GenFormat::Sha1,
            GenFormatArg::Ntlm => GenFormat::Ntlm,
            GenFormatArg::Plain => GenFormat::Plain,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AnswerCodingArg::{self, Br, Gzip, None as Plain};
    use leakwatch_api::AnswerCodings;

    #[test]
    fn answer_codings_name_what_the_files_hold_and_none_stands_alone() {
        let check = |list: &[AnswerCodingArg], gzip, brotli| {
            assert_eq!(
                AnswerCodingArg::codings(list),
                Ok(AnswerCodings { gzip, brotli }),
                "{list:?}"
            );
        };
        check(&[Gzip, Br], true, true);
        check(&[Br, Gzip, Gzip], true, true);
        check(&[Gzip], true, false);
        check(&[Br], false, true);
        check(&[Plain], false, false);
        for list in [&[Plain, Gzip][..], &[Br, Plain], &[Plain, Plain]] {
            assert!(AnswerCodingArg::codings(list).is_err(), "{list:?}");
        }
    }
}
