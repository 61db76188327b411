//! Every input form of the same data gives the same store; bad lines are counted, sampled
//! and skipped; re-imports change nothing; plaintext never reaches the disk.

use std::io::Write;

use leakwatch_gen::GenFormat;
use leakwatch_store::Namespace;

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(plain_gzip_zstd_stdin_crlf_lowercase_and_directory_inputs_agree),
        test!(plaintext_lists_fill_both_namespaces_and_never_reach_the_disk),
        test!(bad_hash_lines_are_counted_sampled_with_line_numbers_and_skipped),
        test!(importing_the_same_content_twice_changes_nothing),
        test!(options_that_do_not_fit_the_input_are_refused_naming_the_flag),
    ]
}

fn ingest_into(
    data: &std::path::Path,
    source: &str,
    stdin: Option<&[u8]>,
    extra: &[&str],
) -> String {
    let mut args = vec!["ingest", "-q", "--data", data.to_str().unwrap()];
    args.extend(extra);
    args.push(source);
    String::from_utf8(leakwatch(&args, stdin).stdout).unwrap()
}

fn plain_gzip_zstd_stdin_crlf_lowercase_and_directory_inputs_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let text = generate(GenFormat::Sha1, 20_000, 9);
    let model = model_of_hash_lines(&text, 40);
    let p = |n: &str| tmp.path().join(n);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    write(&p("h.txt.gz"), &gz.finish().unwrap());
    write(&p("h.txt.zst"), &zstd::encode_all(&text[..], 3).unwrap());
    let crlf_lower = String::from_utf8(text.clone())
        .unwrap()
        .to_lowercase()
        .replace('\n', "\r\n");
    write(&p("h-crlf.txt"), crlf_lower.as_bytes());
    write(&p("h.txt"), &text);
    let range_dir = p("ranges");
    leakwatch(
        &[
            "gen",
            "passwords",
            "--count",
            "20000",
            "--seed",
            "9",
            "--dir",
            "--out",
            range_dir.to_str().unwrap(),
        ],
        None,
    );

    for (i, source) in ["h.txt", "h.txt.gz", "h.txt.zst", "h-crlf.txt", "ranges"]
        .iter()
        .enumerate()
    {
        let data = p(&format!("d{i}"));
        ingest_into(&data, p(source).to_str().unwrap(), None, &[]);
        assert_eq!(store_model(&data, Namespace::Sha1), model, "{source}");
    }
    let data = p("stdin");
    ingest_into(&data, "-", Some(&text), &[]);
    assert_eq!(store_model(&data, Namespace::Sha1), model, "stdin");
}

fn plaintext_lists_fill_both_namespaces_and_never_reach_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = generate(GenFormat::Plain, 30_000, 4);
    // Known plaintexts to hunt for afterwards, plus lines that must be rejected.
    text.extend_from_slice(b"Zebra-Canary-4711\n\xFF\xFEnot utf8\n\n");
    text.extend_from_slice(&vec![b'x'; 2000]);
    text.extend_from_slice(b"\nZebra-Canary-4711\n");
    let file = write(&tmp.path().join("list.txt"), &text);
    let data = tmp.path().join("data");
    let rejects = tmp.path().join("rejects.txt");
    let out = ingest_into(
        &data,
        file.to_str().unwrap(),
        None,
        &["--rejects", rejects.to_str().unwrap()],
    );
    assert!(out.contains("3 rejected"), "{out}");

    let (sha, ntlm) = model_of_plain(
        &text
            .split(|&b| b == b'\n')
            .filter(|l| std::str::from_utf8(l).is_ok() && l.len() <= 1024)
            .collect::<Vec<_>>()
            .join(&b'\n'),
    );
    assert_eq!(store_model(&data, Namespace::Sha1), sha);
    assert_eq!(store_model(&data, Namespace::Ntlm), ntlm);

    let out = leakwatch(
        &["check", "password", "--data", data.to_str().unwrap()],
        Some(b"Zebra-Canary-4711\n"),
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "2");
    let out = leakwatch(
        &["check", "password", "--data", data.to_str().unwrap()],
        Some(b"not-in-the-list-9999"),
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "0");

    let sample = std::fs::read_to_string(&rejects).unwrap();
    let line_numbers: Vec<&str> = sample
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(line_numbers, ["30002", "30003", "30004"], "{sample}");
    assert!(
        sample.contains("not valid UTF-8")
            && sample.contains("empty line")
            && sample.contains("longer than 1024")
    );

    // No plaintext anywhere under the data directory or in the rejects file.
    let mut stack = vec![data.clone(), rejects.clone()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(17).any(|w| w == b"Zebra-Canary-4711"),
                "plaintext in {}",
                path.display()
            );
            assert!(
                !bytes.windows(8).any(|w| w == b"not utf8"),
                "rejected plaintext in {}",
                path.display()
            );
        }
    }
}

fn bad_hash_lines_are_counted_sampled_with_line_numbers_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let good = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:3\n";
    let text = format!(
        "{good}{good}NOTAHASH:1\n5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:zero\n7C4A8D09CA3762AF61E59520943DC26494F8941B:0\n7C4A8D09CA3762AF61E59520943DC26494F8941B:2\n"
    );
    let file = write(&tmp.path().join("h.txt"), text.as_bytes());
    let data = tmp.path().join("data");
    let rejects = tmp.path().join("r.txt");
    let out = ingest_into(
        &data,
        file.to_str().unwrap(),
        None,
        &["--format", "hibp", "--rejects", rejects.to_str().unwrap()],
    );
    assert!(
        out.contains("6 lines read, 3 accepted, 3 rejected"),
        "{out}"
    );
    let m = store_model(&data, Namespace::Sha1);
    assert_eq!(m.len(), 2);
    assert_eq!(m["5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"], 6);
    let sample = std::fs::read_to_string(&rejects).unwrap();
    assert!(sample.contains("3\tnot HASH:COUNT"), "{sample}");
    assert!(
        sample.contains("4\tcount missing")
            && sample.contains("5\tcount is 0\t7C4A8D09CA3762AF61E59520943DC26494F8941B:0"),
        "{sample}"
    );
    assert!(
        !sample.contains("NOTAHASH"),
        "a line that is not hash-like is withheld: {sample}"
    );
}

fn importing_the_same_content_twice_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let text = generate(GenFormat::Sha1, 5_000, 3);
    let file = write(&tmp.path().join("h.txt"), &text);
    let data = tmp.path().join("data");
    ingest_into(&data, file.to_str().unwrap(), None, &[]);
    let snapshot = |d: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(d.join("store"))
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot(&data);
    // Same file, then the same content compressed and through stdin.
    let out = ingest_into(&data, file.to_str().unwrap(), None, &[]);
    assert!(out.contains("already imported"), "{out}");
    write(
        &tmp.path().join("h.zst"),
        &zstd::encode_all(&text[..], 1).unwrap(),
    );
    ingest_into(&data, tmp.path().join("h.zst").to_str().unwrap(), None, &[]);
    ingest_into(&data, "-", Some(&text), &[]);
    assert_eq!(snapshot(&data), before);
}

/// The import library says what does not fit (`ingest::Mismatch`); the CLI says which flag
/// fixes it, in one line, and nothing is published.
fn options_that_do_not_fit_the_input_are_refused_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let hashes = write(&tmp.path().join("h.txt"), &generate(GenFormat::Sha1, 10, 1));
    let h = hashes.to_str().unwrap();
    let dir = tmp.path().join("ranges");
    std::fs::create_dir_all(&dir).unwrap();
    write(
        &dir.join("00000.txt"),
        b"0005AD76BD555C1D6D771DE417A4B87E4B4:10\n",
    );
    let dump = write(
        &tmp.path().join("d.csv"),
        b"email,password\na@example.test,x\n",
    );
    add_breach(&data, "Fictobank", &[]);
    let check = |args: &[&str], want: &str| {
        let out = try_leakwatch(args, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(err.trim_end(), format!("Error: {want}"), "{args:?}");
    };
    check(
        &["ingest", "-q", "--data", d, "--format", "hibp-dir", h],
        "--format hibp-dir needs a directory",
    );
    check(
        &[
            "ingest",
            "-q",
            "--data",
            d,
            "--format",
            "plain",
            dir.to_str().unwrap(),
        ],
        "a directory is read as hibp-dir, not Plain",
    );
    check(
        &[
            "ingest",
            "-q",
            "--data",
            d,
            "--format",
            "hibp",
            "--breach",
            "Fictobank",
            "--no-aliases",
            h,
        ],
        "--breach links a dump's accounts to a breach; hibp files hold no accounts",
    );
    check(
        &[
            "ingest",
            "-q",
            "--data",
            d,
            "--format",
            "csv",
            dump.to_str().unwrap(),
        ],
        "a csv dump needs --breach NAME (the breach its accounts are linked to)",
    );
    // A dump's layout: what the library finds wrong (ingest::LayoutError), worded with --map.
    let no_id = write(&tmp.path().join("no-id.csv"), b"a,b\n1,2\n");
    let dump_args = |format: &'static str, file: &std::path::Path, map: Option<&'static str>| {
        let mut args = vec![
            "ingest".to_owned(),
            "-q".into(),
            "--data".into(),
            d.to_owned(),
            "--breach".into(),
            "Fictobank".into(),
            "--no-aliases".into(),
            "--format".into(),
            format.into(),
        ];
        if let Some(m) = map {
            args.extend(["--map".into(), m.into()]);
        }
        args.push(file.to_str().unwrap().to_owned());
        args
    };
    for (args, want) in [
        (
            dump_args("combo", &hashes, Some("email=1")),
            "--map applies to CSV, TSV and JSON Lines, not combolists",
        ),
        (
            dump_args("jsonl", &hashes, Some("password=pw")),
            "--map names no identifier field (email, phone or username)",
        ),
        (
            dump_args("csv", &no_id, None),
            "no identifier column found in the header (a, b); name one with --map email=COLUMN",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check(&args, want);
    }
    assert_eq!(
        store_model(&data, Namespace::Sha1).len(),
        0,
        "nothing published"
    );
}
