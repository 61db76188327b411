//! Breach-dump reading on arbitrary bytes: format detection, the layout a header implies
//! (CSV/TSV columns, combolist separator and identifier kind, JSON Lines fields), and every
//! line parsed by it. Layouts may be refused and lines rejected; nothing panics.
#![no_main]

use leakwatch_identity::Identifier;
use leakwatch_ingest::{
    dump::{DumpOptions, Layout, detect},
    parse::Format,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let detected = detect(data, None);
    let options = DumpOptions {
        default_region: Some("GB".into()),
        ..DumpOptions::default()
    };
    for format in [
        detected,
        Format::Combo,
        Format::Csv,
        Format::Tsv,
        Format::Jsonl,
    ] {
        if !format.is_dump() {
            continue;
        }
        let Ok(layout) = Layout::new(format, data, &options) else {
            continue;
        };
        for line in data
            .split(|&b| b == b'\n')
            .skip(layout.header_lines as usize)
        {
            // Whatever a line yields, its identifiers come out normalised: parsing one
            // again gives it back unchanged.
            let Ok(record) = layout.parse(line) else {
                continue;
            };
            for id in &record.identifiers {
                let again = Identifier::parse(id.kind(), id.as_str(), Some("GB"));
                assert_eq!(
                    again.as_ref().ok(),
                    Some(id),
                    "{id:?} re-normalised as {again:?}"
                );
            }
        }
    }
});
