//! The allocation records on disk, in `host-local`'s layout: `DATA_DIR/NETWORK/IP` holds
//! `CONTAINER_ID\r\nIFNAME`, `last_reserved_ip.N` holds where round-robin resumes for range set
//! N, and an exclusive `flock` on `DATA_DIR/NETWORK/lock` serializes every CNI call on it, across
//! processes and with `host-local` itself (concurrent ADDs never hand out one address twice).

use std::fs::{self, File};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::store::{Attachment, Store};

const LAST_RESERVED: &str = "last_reserved_ip.";

/// One network's directory of allocation records.
#[derive(Debug, Clone)]
pub struct DiskStore {
    dir: PathBuf,
}

/// The store while this process holds its lock; dropping it unlocks.
#[derive(Debug)]
pub struct LockedDiskStore {
    dir: PathBuf,
    /// Held for the lock; unlocked when closed.
    _lock: File,
}

impl DiskStore {
    /// The records of `network` under `data_dir`, creating the directory if needed.
    pub fn open(data_dir: &Path, network: &str) -> io::Result<DiskStore> {
        let dir = data_dir.join(network);
        fs::create_dir_all(&dir)?;
        Ok(DiskStore { dir })
    }

    /// Waits for the exclusive lock (the `lock` file `host-local` uses too).
    pub fn lock(&self) -> io::Result<LockedDiskStore> {
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("lock"))?;
        lock.lock()?;
        Ok(LockedDiskStore {
            dir: self.dir.clone(),
            _lock: lock,
        })
    }
}

impl LockedDiskStore {
    fn record(&self, ip: IpAddr) -> PathBuf {
        self.dir.join(ip.to_string())
    }

    /// Writes `contents` to `path` through a temporary file, so a crash never leaves a record
    /// half written. With `exclusive`, fails with `AlreadyExists` if `path` exists.
    fn write_whole(&self, path: &Path, contents: &str, exclusive: bool) -> io::Result<()> {
        let temporary = self.dir.join(format!(".tmp-{}", std::process::id()));
        let mut file = File::create(&temporary)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        drop(file);
        let placed = if exclusive {
            // A hard link fails if the name exists: the record appears whole or not at all.
            fs::hard_link(&temporary, path)
        } else {
            fs::rename(&temporary, path)
        };
        let _ = fs::remove_file(&temporary);
        placed
    }
}

impl Store for LockedDiskStore {
    fn reserve(
        &mut self,
        ip: IpAddr,
        container_id: &str,
        ifname: &str,
        range_set: usize,
    ) -> io::Result<bool> {
        match self.write_whole(
            &self.record(ip),
            &format!("{container_id}\r\n{ifname}"),
            true,
        ) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(error) => return Err(error),
        }
        let last = self.dir.join(format!("{LAST_RESERVED}{range_set}"));
        self.write_whole(&last, &ip.to_string(), false)?;
        Ok(true)
    }

    fn last_reserved(&self, range_set: usize) -> io::Result<Option<IpAddr>> {
        match fs::read_to_string(self.dir.join(format!("{LAST_RESERVED}{range_set}"))) {
            Ok(text) => Ok(text.trim().parse().ok()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn attachments(&self) -> io::Result<Vec<Attachment>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Some(ip) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<IpAddr>().ok())
            else {
                continue; // lock, last_reserved_ip.N and temporary files.
            };
            let text = match fs::read_to_string(entry.path()) {
                Ok(text) => text,
                // Released by nobody else (we hold the lock), but be lenient.
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            let mut lines = text.split("\r\n");
            found.push(Attachment {
                ip,
                container_id: lines.next().unwrap_or("").trim().to_string(),
                ifname: lines.next().unwrap_or("").trim().to_string(),
            });
        }
        found.sort_by_key(|a| a.ip);
        Ok(found)
    }

    fn release(&mut self, container_id: &str, ifname: &str) -> io::Result<Vec<IpAddr>> {
        let mut released = Vec::new();
        for attachment in self.attachments()? {
            let same_interface = attachment.ifname == ifname || attachment.ifname.is_empty();
            if attachment.container_id == container_id && same_interface {
                self.free(attachment.ip)?;
                released.push(attachment.ip);
            }
        }
        Ok(released)
    }

    fn free(&mut self, ip: IpAddr) -> io::Result<()> {
        match fs::remove_file(self.record(ip)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
