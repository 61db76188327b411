//! The files of a stealer-log source: a directory tree, an archive of one (`.zip`, `.tar`,
//! `.tar.gz`/`.tgz`), a single file, or standard input — each handed over as a name and a
//! reader, streamed (nothing is extracted to disk: a member is read where it lies).

use std::{
    fs,
    io::{self, BufRead, BufReader, Read},
    path::{Path, PathBuf},
};

/// What kind of container a source path is, by what it is and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Dir,
    Zip,
    Tar { gz: bool },
    File,
}

fn container_of(path: &Path) -> io::Result<Container> {
    if fs::symlink_metadata(path)?.is_dir() {
        return Ok(Container::Dir);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    Ok(if name.ends_with(".zip") {
        Container::Zip
    } else if name.ends_with(".tar") {
        Container::Tar { gz: false }
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Container::Tar { gz: true }
    } else {
        Container::File
    })
}

/// What [`walk`] calls for each file: its name and a reader of its bytes.
pub type EachFile<'a> = dyn FnMut(&str, &mut dyn BufRead) -> io::Result<()> + 'a;

/// Hands every regular file of `source` to `each` with its name (relative to a directory,
/// or its path in an archive; `-` is standard input). Returns how many archive members
/// could not be read (encrypted, or compressed by a method this build lacks).
pub fn walk(source: &Path, each: &mut EachFile<'_>) -> io::Result<u64> {
    if source == Path::new("-") {
        let stdin = io::stdin();
        let mut lock = stdin.lock();
        each("-", &mut lock)?;
        return Ok(0);
    }
    match container_of(source)? {
        Container::Dir => {
            let mut files = Vec::new();
            collect_files(source, &mut files)?;
            for path in files {
                let rel = path.strip_prefix(source).unwrap_or(&path);
                let mut reader = BufReader::with_capacity(1 << 16, fs::File::open(&path)?);
                each(&rel.to_string_lossy(), &mut reader)?;
            }
            Ok(0)
        }
        Container::File => {
            let mut reader = BufReader::with_capacity(1 << 16, fs::File::open(source)?);
            let name = source
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            each(&name, &mut reader)?;
            Ok(0)
        }
        Container::Tar { gz } => {
            let file = BufReader::with_capacity(1 << 16, fs::File::open(source)?);
            let raw: Box<dyn Read> = if gz {
                Box::new(flate2::bufread::MultiGzDecoder::new(file))
            } else {
                Box::new(file)
            };
            let mut archive = tar::Archive::new(raw);
            for entry in archive.entries()? {
                let entry = entry?;
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let mut reader = BufReader::with_capacity(1 << 16, entry);
                each(&name, &mut reader)?;
            }
            Ok(0)
        }
        Container::Zip => {
            let file = BufReader::with_capacity(1 << 16, fs::File::open(source)?);
            let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
            let mut unreadable = 0u64;
            for i in 0..archive.len() {
                let member = match archive.by_index(i) {
                    Ok(m) => m,
                    Err(
                        zip::result::ZipError::UnsupportedArchive(_)
                        | zip::result::ZipError::CompressionMethodNotSupported(_)
                        | zip::result::ZipError::InvalidPassword,
                    ) => {
                        unreadable += 1;
                        continue;
                    }
                    Err(e) => return Err(zip_error(e)),
                };
                if !member.is_file() || member.encrypted() {
                    unreadable += u64::from(member.encrypted());
                    continue;
                }
                let name = member.name().map_err(zip_error)?.into_owned();
                let mut reader = BufReader::with_capacity(1 << 16, member);
                each(&name, &mut reader)?;
            }
            Ok(unreadable)
        }
    }
}

fn zip_error(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("zip archive: {other}")),
    }
}

/// The regular files under `path`, in path order (symbolic links not followed).
fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_file() {
        out.push(path.to_owned());
    } else if meta.is_dir() {
        let mut entries: Vec<PathBuf> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<_>>()?;
        entries.sort();
        for entry in entries {
            collect_files(&entry, out)?;
        }
    }
    Ok(())
}
