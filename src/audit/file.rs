//! The audit trail's file: appended to (one `write` per line, so lines are
//! never interleaved), created owner-only (0600), and rotated by size
//! before a line would take it past `max_bytes`: `path` becomes `path.1`,
//! `path.1` becomes `path.2`, ... and `path.<keep>` is removed. Lines are
//! not fsynced: the file holds what the kernel was given.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An open audit file and its size.
pub(super) struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    /// `None` after a failed rotation; reopened on the next line.
    file: Option<File>,
    size: u64,
}

fn open(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// `path` with `.n` appended.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl RotatingFile {
    /// Opens (creating) the file at `path`, appending to what it holds.
    pub(super) fn open(path: &Path, max_bytes: u64, keep: u32) -> io::Result<Self> {
        let file = open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes,
            keep,
            file: Some(file),
            size,
        })
    }

    /// Appends one line (with its line end), rotating first when it would
    /// not fit.
    pub(super) fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let len = line.len() as u64;
        if self.size > 0 && self.size.saturating_add(len) > self.max_bytes {
            self.rotate()?;
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = open(&self.path)?;
                self.size = file.metadata()?.len();
                self.file.insert(file)
            }
        };
        file.write_all(line)?;
        self.size = self.size.saturating_add(len);
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        for n in (1..self.keep).rev() {
            match std::fs::rename(numbered(&self.path, n), numbered(&self.path, n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        let file = open(&self.path)?;
        self.size = 0;
        self.file = Some(file);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_before_a_line_would_overflow_and_keeps_keep_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut file = RotatingFile::open(&path, 25, 2).unwrap();
        for i in 0..7 {
            file.write_line(format!("line-{i}-0123456789\n").as_bytes())
                .unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        // 18-byte lines, at most 25 bytes a file: one line each.
        assert_eq!(read(path.clone()), "line-6-0123456789\n");
        assert_eq!(read(numbered(&path, 1)), "line-5-0123456789\n");
        assert_eq!(read(numbered(&path, 2)), "line-4-0123456789\n");
        assert!(!numbered(&path, 3).exists());
        // A reopened file continues its size count.
        drop(file);
        let mut file = RotatingFile::open(&path, 40, 2).unwrap();
        file.write_line(b"line-7-0123456789\n").unwrap();
        assert_eq!(read(path.clone()).lines().count(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
