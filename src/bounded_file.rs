//! Reads of the small files an operator points credprobe at (secrets,
//! private keys, certificates, CA bundles, the web configuration), each
//! bounded: a wrong path to a disk image or a log file is a clear error
//! naming its size limit, not a process that swallows gigabytes. Beside
//! them, [`FileStamp`], which tells that such a file changed without
//! reading it. Reads of a file that changed while the daemon runs go
//! through [`crate::watched_file`], on the blocking pool.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

use secrecy::zeroize::Zeroizing;

/// The most credprobe reads from a secret file: a client secret is a few
/// hundred bytes at most.
pub const SECRET_LIMIT: u64 = 64 * 1024;

/// The most credprobe reads from a PEM file (private key, certificate
/// chain, CA bundle) or the web configuration: the largest public CA
/// bundles are about 250 KiB.
pub const PEM_LIMIT: u64 = 4 * 1024 * 1024;

/// What identifies one version of a file without reading it: inode, size
/// and modification time, read through symlinks (a Kubernetes Secret or
/// ConfigMap update swaps a symlink). Every file credprobe re-reads when
/// it changes is compared by this stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    /// The stamp of a file whose metadata is at hand.
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// The stamp of the file at `path` now.
    pub fn current(path: &Path) -> std::io::Result<FileStamp> {
        std::fs::metadata(path).map(|meta| FileStamp::of(&meta))
    }
}

/// Reads `path` whole, failing when it holds more than `limit` bytes.
///
/// The buffer is sized from the file's length once, so a private key is
/// not copied through growing buffers whose old copies would be freed
/// without being zeroed; a refused buffer is zeroed.
pub fn read(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = buffer(file.metadata()?.len(), limit);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    within(bytes, limit)
}

/// Reads `path` as UTF-8 text, failing when it holds more than `limit`
/// bytes.
pub fn read_to_string(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// Room for the whole file and the one byte past the limit that tells a
/// file over it (a file may grow between the length and the read).
fn buffer(len: u64, limit: u64) -> Vec<u8> {
    let room = len.min(limit).saturating_add(1);
    Vec::with_capacity(usize::try_from(room).unwrap_or(usize::MAX))
}

fn within(bytes: Vec<u8>, limit: u64) -> std::io::Result<Vec<u8>> {
    if bytes.len() as u64 > limit {
        drop(Zeroizing::new(bytes));
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is larger than {}, the most credprobe reads from such a file",
                size(limit)
            ),
        ));
    }
    Ok(bytes)
}

fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, vec![b'a'; 1024]).unwrap();
        assert_eq!(read(&path, 1024).unwrap().len(), 1024);
        let error = read(&path, 1023).unwrap_err().to_string();
        assert_eq!(
            error,
            "it is larger than 1023 bytes, the most credprobe reads from such a file"
        );
        let error = read(&path, 512).unwrap_err().to_string();
        assert!(error.contains("larger than 512 bytes"), "{error}");
    }

    #[test]
    fn the_buffer_is_sized_once_so_no_partial_copy_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, vec![b'k'; 3000]).unwrap();
        // Room for the file and the probe byte: filled without growing.
        assert_eq!(read(&path, PEM_LIMIT).unwrap().capacity(), 3001);
    }

    #[test]
    fn text_that_is_not_utf8_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let error = read_to_string(&path, PEM_LIMIT).unwrap_err().to_string();
        assert_eq!(error, "it is not UTF-8 text");
        assert_eq!(size(PEM_LIMIT), "4 MiB");
        assert_eq!(size(SECRET_LIMIT), "64 KiB");
    }
}
