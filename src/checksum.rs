//! SHA-256 of the release artifacts: each file streamed through a fixed buffer (constant memory
//! whatever its size), several files at once on separate cores. `sha2` picks the CPU's SHA
//! instructions at run time where the processor has them.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Bytes read at a time per file; with one reader per core this bounds the memory used.
const BUFFER: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSum {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// The SHA-256 of one file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<FileSum> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(FileSum {
        path: path.to_path_buf(),
        size,
        sha256: hex(&hasher.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes `paths` on up to `threads` threads (0: one per core), in the order given.
pub fn sha256_files(paths: &[PathBuf], threads: usize) -> std::io::Result<Vec<FileSum>> {
    let threads = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    }
    .min(paths.len())
    .max(1);
    // Largest first: each file is hashed on one core, so a big file started last would leave
    // the other cores idle at the end. Results still come back in the order given.
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(std::fs::metadata(&paths[i]).map(|m| m.len()).unwrap_or(0))
    });
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<std::io::Result<FileSum>>>> =
        Mutex::new((0..paths.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(&index) = order.get(i) else { return };
                    let path = &paths[index];
                    let sum = sha256_file(path).map_err(|e| {
                        std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                    });
                    results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(sum);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(std::io::Error::other("a file was not hashed"))))
        .collect()
}

/// The checksums file in the format `sha256sum -c` reads: `<hex>  <name>`, sorted by name.
pub fn render_sums(sums: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = sums.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
        .iter()
        .map(|(name, sha)| format!("{sha}  {name}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_known_values_in_parallel_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"abc").unwrap();
        std::fs::write(&b, vec![b'x'; 3 * BUFFER + 7]).unwrap();
        let sums = sha256_files(&[a.clone(), b.clone()], 2).unwrap();
        assert_eq!(
            sums[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sums[1].size, 3 * BUFFER as u64 + 7);
        assert_eq!(sums[1], sha256_file(&b).unwrap());
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let err = sha256_files(&[PathBuf::from("/nonexistent/x")], 0).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x"));
    }
}
