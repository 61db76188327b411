//! Opening an input: a file, standard input, or the downloader's per-prefix directory;
//! plain, gzip or zstd (recognised by magic bytes, so standard input works too).
//!
//! Every byte handed on is also fed to an xxh3-128 hasher: the fingerprint of the
//! decompressed content identifies the source, so importing it again is a no-op whatever
//! its file name or compression. This module does not parse lines.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::{Path, PathBuf},
};

use twox_hash::XxHash3_128;

/// Where input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-`).
    Stdin,
    /// A file, possibly compressed.
    File(PathBuf),
    /// A directory of `XXXXX.txt` range files.
    Dir(PathBuf),
}

impl Source {
    /// `-` is standard input, a directory is a range directory, anything else a file.
    pub fn from_arg(arg: &str) -> Source {
        if arg == "-" {
            Source::Stdin
        } else if Path::new(arg).is_dir() {
            Source::Dir(arg.into())
        } else {
            Source::File(arg.into())
        }
    }

    /// A label for the manifest and messages.
    pub fn label(&self) -> String {
        match self {
            Source::Stdin => "-".into(),
            Source::File(p) | Source::Dir(p) => p.display().to_string(),
        }
    }

    /// The file's name, for a file (format detection looks at its extension).
    pub fn file_name(&self) -> Option<&str> {
        match self {
            Source::File(p) => p.file_name().and_then(|n| n.to_str()),
            _ => None,
        }
    }

    /// Size in bytes of the raw input, when known up front (for the progress bar).
    pub fn raw_len(&self) -> Option<u64> {
        match self {
            Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            _ => None,
        }
    }
}

/// Counts the raw (possibly compressed) bytes read, for progress.
#[derive(Debug)]
pub struct Counted<R> {
    inner: R,
    /// Raw bytes read so far.
    pub counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// A decompressed byte stream that fingerprints what it yields.
pub struct Input {
    reader: Box<dyn Read + Send>,
    hasher: XxHash3_128,
    peeked: Vec<u8>,
    peek_pos: usize,
}

/// How much of the input format detection looks at.
const HEAD_LEN: usize = 64 << 10;

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Input")
    }
}

impl Input {
    /// Opens a source; `raw_bytes` counts raw bytes read, for progress.
    pub fn open(
        source: &Source,
        raw_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> io::Result<Input> {
        let reader: Box<dyn Read + Send> = match source {
            Source::Stdin => decompress(Counted {
                inner: io::stdin(),
                counter: raw_bytes,
            })?,
            Source::File(p) => decompress(Counted {
                inner: File::open(p)?,
                counter: raw_bytes,
            })?,
            Source::Dir(p) => Box::new(RangeDirReader::open(p, raw_bytes)?),
        };
        Ok(Input {
            reader,
            hasher: XxHash3_128::new(),
            peeked: Vec::new(),
            peek_pos: 0,
        })
    }

    /// The first bytes of the (decompressed) input, without consuming them.
    pub fn head(&mut self) -> &[u8] {
        if self.peeked.is_empty() {
            let mut buf = vec![0u8; HEAD_LEN];
            let mut n = 0;
            while n < HEAD_LEN {
                match self.reader.read(&mut buf[n..]) {
                    Ok(0) | Err(_) => break, // a real read error resurfaces on the next read
                    Ok(k) => n += k,
                }
            }
            buf.truncate(n);
            self.peeked = buf;
        }
        &self.peeked[self.peek_pos..]
    }

    /// `xxh3-128:` and the digest of every byte read so far.
    pub fn fingerprint(&self) -> String {
        format!("xxh3-128:{:032x}", self.hasher.finish_128())
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = if self.peek_pos < self.peeked.len() {
            let n = buf.len().min(self.peeked.len() - self.peek_pos);
            buf[..n].copy_from_slice(&self.peeked[self.peek_pos..self.peek_pos + n]);
            self.peek_pos += n;
            n
        } else {
            self.reader.read(buf)?
        };
        self.hasher.write(&buf[..n]);
        Ok(n)
    }
}

fn decompress<R: Read + Send + 'static>(raw: R) -> io::Result<Box<dyn Read + Send>> {
    let mut r = BufReader::with_capacity(1 << 20, raw);
    let head = r.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(r)?)
    } else {
        Box::new(r)
    })
}

/// Presents a directory of `XXXXX.txt` files as one stream of full `HASH:COUNT` lines, by
/// putting each file's 5-hex prefix in front of each of its lines. Files are read in name
/// order; other files are ignored. Each file may itself be compressed.
struct RangeDirReader {
    files: std::vec::IntoIter<(String, PathBuf)>,
    out: Vec<u8>,
    pos: usize,
    raw_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RangeDirReader {
    fn open(
        dir: &Path,
        raw_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> io::Result<Self> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let prefix = name.split('.').next().unwrap_or("");
            if prefix.len() == 5
                && prefix.bytes().all(|b| b.is_ascii_hexdigit())
                && entry.file_type()?.is_file()
            {
                files.push((prefix.to_ascii_uppercase(), entry.path()));
            }
        }
        if files.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} holds no XXXXX.txt range files", dir.display()),
            ));
        }
        files.sort();
        Ok(RangeDirReader {
            files: files.into_iter(),
            out: Vec::new(),
            pos: 0,
            raw_bytes,
        })
    }
}

impl Read for RangeDirReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            let Some((prefix, path)) = self.files.next() else {
                return Ok(0);
            };
            let mut content = Vec::new();
            let counted = Counted {
                inner: File::open(&path)?,
                counter: self.raw_bytes.clone(),
            };
            decompress(counted)?.read_to_end(&mut content)?;
            self.out.clear();
            self.pos = 0;
            for line in content.split(|&b| b == b'\n') {
                if line.trim_ascii().is_empty() {
                    continue;
                }
                self.out.extend_from_slice(prefix.as_bytes());
                self.out.extend_from_slice(line);
                self.out.push(b'\n');
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
