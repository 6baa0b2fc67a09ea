//! Reads of the small files an operator points credprobe at (secrets,
//! private keys, certificates, CA bundles, the web configuration), each
//! bounded: a wrong path to a disk image or a log file is a clear error
//! naming its size limit, not a process that swallows gigabytes.

use std::io::Read;
use std::path::Path;

use tokio::io::AsyncReadExt;

/// The most credprobe reads from a secret file: a client secret is a few
/// hundred bytes at most.
pub const SECRET_LIMIT: u64 = 64 * 1024;

/// The most credprobe reads from a PEM file (private key, certificate
/// chain, CA bundle) or the web configuration: the largest public CA
/// bundles are about 250 KiB.
pub const PEM_LIMIT: u64 = 4 * 1024 * 1024;

/// Reads `path` whole, failing when it holds more than `limit` bytes.
pub fn read(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    within(bytes, limit)
}

/// [`read`] for the runtime: the re-read of a file that changed while
/// the daemon runs.
pub async fn read_async(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    tokio::fs::File::open(path)
        .await?
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .await?;
    within(bytes, limit)
}

/// Reads `path` as UTF-8 text, failing when it holds more than `limit`
/// bytes.
pub fn read_to_string(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

fn within(bytes: Vec<u8>, limit: u64) -> std::io::Result<Vec<u8>> {
    if bytes.len() as u64 > limit {
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

    #[tokio::test]
    async fn the_async_read_has_the_same_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, vec![b'k'; 2048]).unwrap();
        assert_eq!(read_async(&path, 2048).await.unwrap().len(), 2048);
        let error = read_async(&path, 1024).await.unwrap_err().to_string();
        assert!(error.contains("larger than 1 KiB"), "{error}");
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
