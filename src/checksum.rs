//! SHA-256 of the release artifacts: each file streamed through a fixed buffer (constant memory
//! whatever its size), several files at once on separate cores. The digest is `ring`'s (already
//! linked for TLS): BoringSSL's assembly, which picks the CPU's SHA or AVX2 instructions at run
//! time, as fast per core as `openssl dgst` and about twice as fast as a portable implementation
//! on a processor without SHA instructions.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bytes read at a time per file; with one reader per core this bounds the memory used.
const BUFFER: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSum {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// A streaming SHA-256.
#[derive(Clone)]
pub struct Hasher(ring::digest::Context);

impl Default for Hasher {
    fn default() -> Self {
        Hasher(ring::digest::Context::new(&ring::digest::SHA256))
    }
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest in lowercase hex.
    pub fn finish(self) -> String {
        hex(self.0.finish().as_ref())
    }
}

/// The SHA-256 of `bytes` in lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// The SHA-256 of one file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<FileSum> {
    let mut file = File::open(path)?;
    let mut hasher = Hasher::default();
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
        sha256: hasher.finish(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes `paths` on up to `threads` threads (0: one per core), in the order given.
pub fn sha256_files(paths: &[PathBuf], threads: usize) -> std::io::Result<Vec<FileSum>> {
    parallel(
        paths,
        |p| p.as_path(),
        threads,
        |path| {
            sha256_file(path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        },
    )
    .into_iter()
    .collect()
}

/// Runs `work` on every path on up to `threads` threads (0: one per core); the results in the
/// order given.
fn parallel<I: Sync, T: Send>(
    items: &[I],
    path_of: impl Fn(&I) -> &Path + Sync,
    threads: usize,
    work: impl Fn(&I) -> std::io::Result<T> + Sync,
) -> Vec<std::io::Result<T>> {
    let threads = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    }
    .min(items.len())
    .max(1);
    // Largest first: each file is worked on by one core, so a big file started last would leave
    // the other cores idle at the end. Results still come back in the order given.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(
            std::fs::metadata(path_of(&items[i]))
                .map(|m| m.len())
                .unwrap_or(0),
        )
    });
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<std::io::Result<T>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
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
                    let result = work(&items[index]);
                    results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(std::io::Error::other("a file was not worked on"))))
        .collect()
}

/// A file as the file system describes it: which file it is and when its bytes or its inode last
/// changed. Any write, truncation, `touch` or rename over it changes the change time, which no
/// unprivileged process can set back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

fn identity(path: &Path) -> std::io::Result<Identity> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path)?;
    Ok(Identity {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}

/// What this process has hashed itself, with each file's identity from before it was read: the
/// bytes of a file whose identity is unchanged are the bytes that were hashed, so one process
/// reads every artifact once. A new process (`embargo publish`, a resumed run) starts empty and
/// reads everything again.
static KNOWN: Mutex<Vec<(PathBuf, Identity, FileSum)>> = Mutex::new(Vec::new());

fn remember(path: &Path, id: Identity, sum: &FileSum) {
    let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    known.retain(|(p, _, _)| p != path);
    known.push((path.to_path_buf(), id, sum.clone()));
}

fn recall(path: &Path) -> Option<FileSum> {
    let now = identity(path).ok()?;
    let known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    known
        .iter()
        .find(|(p, id, _)| p == path && *id == now)
        .map(|(_, _, sum)| sum.clone())
}

/// Hashes `path` and remembers it for [`sha256_files_once`].
fn sha256_remembered(path: &Path) -> std::io::Result<FileSum> {
    let id = identity(path)?;
    let sum = sha256_file(path)?;
    remember(path, id, &sum);
    Ok(sum)
}

/// [`sha256_files`], except that a file this process hashed (or wrote while hashing) and that has
/// not changed since is not read again.
pub fn sha256_files_once(paths: &[PathBuf], threads: usize) -> std::io::Result<Vec<FileSum>> {
    parallel(
        paths,
        |p| p.as_path(),
        threads,
        |path| {
            match recall(path) {
                Some(sum) => Ok(sum),
                None => sha256_remembered(path),
            }
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        },
    )
    .into_iter()
    .collect()
}

/// Moves every `(from, to)` into place and hashes it, one file per core: a rename where both are
/// on one file system (the bytes are read once, to hash them), otherwise a copy that hashes the
/// bytes as they pass. Each file is remembered, so this process does not read it again.
pub fn place_all(moves: &[(PathBuf, PathBuf)], threads: usize) -> std::io::Result<Vec<FileSum>> {
    each_pair(moves, threads, place)
}

/// Copies every `(from, to)`, hashing the bytes as they are written, one file per core; the
/// sources are left as they are. Each copy is remembered, so this process does not read it again.
pub fn copy_all(copies: &[(PathBuf, PathBuf)], threads: usize) -> std::io::Result<Vec<FileSum>> {
    each_pair(copies, threads, copy_hashing)
}

/// `work` on every `(from, to)`, one pair per core, each error naming both paths.
fn each_pair(
    pairs: &[(PathBuf, PathBuf)],
    threads: usize,
    work: impl Fn(&Path, &Path) -> std::io::Result<FileSum> + Sync,
) -> std::io::Result<Vec<FileSum>> {
    parallel(
        pairs,
        |(from, _)| from.as_path(),
        threads,
        |(from, to)| {
            work(from, to).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("{} to {}: {e}", from.display(), to.display()),
                )
            })
        },
    )
    .into_iter()
    .collect()
}

fn place(from: &Path, to: &Path) -> std::io::Result<FileSum> {
    match std::fs::rename(from, to) {
        Ok(()) => sha256_remembered(to),
        // Another file system (EXDEV), or a folder the build made read-only: copy instead.
        Err(_) => copy_hashing(from, to),
    }
}

/// Copies `from` to `to`, hashing the bytes as they are written.
pub fn copy_hashing(from: &Path, to: &Path) -> std::io::Result<FileSum> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let mut source = File::open(from)?;
    let mode = source.metadata()?.permissions().mode();
    let mut target = File::create(to)?;
    let mut hasher = Hasher::default();
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0u64;
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        target.write_all(&buf[..n])?;
        size += n as u64;
    }
    target.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))?;
    drop(target);
    let sum = FileSum {
        path: to.to_path_buf(),
        size,
        sha256: hasher.finish(),
    };
    remember(to, identity(to)?, &sum);
    Ok(sum)
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
    fn a_remembered_file_is_read_again_once_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("built");
        let to = dir.path().join("placed");
        std::fs::write(&from, b"abc").unwrap();
        let placed = place_all(&[(from.clone(), to.clone())], 1).unwrap();
        assert!(!from.exists(), "moved, not copied, on one file system");
        assert_eq!(placed[0], sha256_file(&to).unwrap());
        assert_eq!(
            sha256_files_once(std::slice::from_ref(&to), 1).unwrap(),
            placed
        );
        // Same size, other bytes: the change time tells, whatever the clock's granularity,
        // because the write below also replaces the inode's times.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&to, b"abd").unwrap();
        let again = sha256_files_once(std::slice::from_ref(&to), 1).unwrap();
        assert_eq!(again[0], sha256_file(&to).unwrap());
        assert_ne!(again[0].sha256, placed[0].sha256);
    }

    #[test]
    fn a_copy_hashes_what_it_writes_and_keeps_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("tool");
        let to = dir.path().join("copy");
        std::fs::write(&from, vec![b'y'; 2 * BUFFER + 3]).unwrap();
        std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sum = copy_hashing(&from, &to).unwrap();
        assert_eq!(sum, sha256_file(&to).unwrap());
        assert_eq!(
            std::fs::metadata(&to).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let err = sha256_files(&[PathBuf::from("/nonexistent/x")], 0).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x"));
    }
}
