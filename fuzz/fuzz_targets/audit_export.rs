//! The password-audit export reader on arbitrary bytes, with format detection and forced
//! formats: never panics, never reports more accounts than lines.
#![no_main]

use leakwatch_audit::{ExportFormat, read_export};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count();
    for format in [
        None,
        Some(ExportFormat::Pwdump),
        Some(ExportFormat::Csv),
        Some(ExportFormat::Sha1),
    ] {
        if let Ok(export) = read_export(data, format) {
            assert!(export.accounts.len() + export.rejected as usize <= lines);
        }
    }
});
