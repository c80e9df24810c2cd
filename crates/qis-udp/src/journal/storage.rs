//! Where a journal's bytes live: a file on disk, or (in tests) a file that loses every write
//! not yet synced when it "crashes", as a power cut does to the page cache.

use crate::durable::{DurableError, write_atomically};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The file operations a journal needs. Appended bytes may sit in a cache until
/// [`JournalFile::sync`]; what was synced survives a crash.
pub trait JournalFile: fmt::Debug + Send {
    /// Where it is (for messages).
    fn path(&self) -> &Path;
    /// Its whole content; empty if it does not exist.
    fn read_all(&mut self) -> std::io::Result<Vec<u8>>;
    /// Appends `bytes` (durable only after the next [`JournalFile::sync`]).
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> std::io::Result<()>;
    /// Cuts the file to `len` bytes, durably.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Replaces the whole file with `bytes`, atomically and durably: a crash leaves the old
    /// content or the new one.
    fn replace(&mut self, bytes: &[u8]) -> Result<(), DurableError>;
}

/// A journal file on disk: appends through one open handle, `fdatasync` to sync, and
/// replacement through [`write_atomically`] (temporary file, sync, rename, directory sync).
#[derive(Debug)]
pub struct DiskFile {
    path: PathBuf,
    /// Open for appending once the file exists.
    file: Option<File>,
}

impl DiskFile {
    /// The journal file at `path` (not opened yet).
    pub fn new(path: PathBuf) -> DiskFile {
        DiskFile { path, file: None }
    }

    fn handle(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().append(true).open(&self.path)?);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }
}

impl JournalFile for DiskFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_all(&mut self) -> std::io::Result<Vec<u8>> {
        match fs::read(&self.path) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            other => other,
        }
    }

    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.handle()?.write_all(bytes)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.handle()?.sync_data()
    }

    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        let file = self.handle()?;
        file.set_len(len)?;
        file.sync_data()
    }

    fn replace(&mut self, bytes: &[u8]) -> Result<(), DurableError> {
        write_atomically(&self.path, bytes, 0o600)?;
        // The handle points at the file replaced: reopen on the next append.
        self.file = None;
        Ok(())
    }
}
