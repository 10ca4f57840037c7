//! Atomic replacement of a file: a uniquely named temporary file beside it, synced, then renamed.
//!
//! Every save gets its own temporary file, `<file name>.tmp-<pid>-<count>-<nanoseconds>`, where
//! `count` is a process-wide counter, so saves to one path from several threads or processes never
//! share one. A reader opening the target sees the old file or the new one, never a partial one:
//! the rename is atomic.
//!
//! A save killed before its rename leaves its temporary file behind. The next save to the same
//! path removes such leftovers (names of that pattern for that target only, including the older
//! `<file name>.tmp-<pid>` form) when they are stale: untouched for over an hour, or untouched
//! for over a minute while no process with their pid runs (checked in `/proc`, so only on systems
//! that have it). A save in progress keeps its file: its own process is alive, and a writer in
//! another pid namespace sharing the folder is protected by the minute of grace while it writes.

use super::FileError;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Saves started by this process, so two saves in one nanosecond still get distinct names.
static SAVES: AtomicU64 = AtomicU64::new(0);

/// A temporary file unmodified this long is abandoned, whoever wrote it.
const ABANDONED_AFTER: Duration = Duration::from_secs(60 * 60);

/// A temporary file whose writer's pid is not running is kept this long after its last write, in
/// case the writer runs in another pid namespace that shares the folder.
const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// Writes `bytes` to a temporary file beside `path` with `write`, syncs, and renames it over `path`.
///
/// On any failure (or a panic in `write`) the temporary file is removed and `path` is left as it
/// was. Stale temporary files of earlier, killed saves to `path` are removed first (see the
/// module docs for the rule).
///
/// # Errors
/// [`FileError::Io`] naming the temporary file or `path` and the step that failed.
pub fn write_atomically(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> std::io::Result<()>,
) -> Result<(), FileError> {
    let file_name = path.file_name().ok_or_else(|| {
        let why = std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file");
        FileError::io(path, "save to", why)
    })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    remove_stale_temp_files(dir.unwrap_or(Path::new(".")), file_name);
    let mut guard = TempFile {
        path: path.with_file_name(temp_name(file_name)),
        renamed: false,
    };
    let tmp = &guard.path;
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| FileError::io(tmp, "create", e))?;
    write(&mut file, bytes).map_err(|e| FileError::io(tmp, "write", e))?;
    file.sync_all().map_err(|e| FileError::io(tmp, "sync", e))?;
    drop(file);
    std::fs::rename(tmp, path).map_err(|e| FileError::io(path, "replace", e))?;
    guard.renamed = true;
    // Make the rename itself durable; not every platform can open a directory, so best effort.
    if let Some(dir) = dir
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes its file when dropped before the rename: on an error return or a panic in `write`.
struct TempFile {
    path: PathBuf,
    renamed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn temp_name(file_name: &OsStr) -> OsString {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = SAVES.fetch_add(1, Ordering::Relaxed);
    let mut name = file_name.to_os_string();
    name.push(format!(".tmp-{}-{count}-{nanos}", std::process::id()));
    name
}

/// The writer's pid if `name` is a temporary file of a save to `file_name`.
fn temp_file_pid(name: &OsStr, file_name: &OsStr) -> Option<u32> {
    let rest = name
        .as_encoded_bytes()
        .strip_prefix(file_name.as_encoded_bytes())?
        .strip_prefix(b".tmp-")?;
    let fields: Vec<&[u8]> = rest.split(|&b| b == b'-').collect();
    let numeric = |f: &&[u8]| !f.is_empty() && f.iter().all(u8::is_ascii_digit);
    if !matches!(fields.len(), 1 | 3) || !fields.iter().all(numeric) {
        return None;
    }
    std::str::from_utf8(fields[0]).ok()?.parse().ok()
}

/// Best effort: a file that cannot be inspected or removed is left alone.
fn remove_stale_temp_files(dir: &Path, file_name: &OsStr) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let Some(pid) = temp_file_pid(&entry.file_name(), file_name) else {
            continue;
        };
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        // A modification time in the future counts as fresh.
        let idle = now.duration_since(modified).unwrap_or(Duration::ZERO);
        let orphaned = idle > ORPHAN_GRACE && pid != std::process::id() && has_exited(pid);
        if idle > ABANDONED_AFTER || orphaned {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether no process `pid` runs here; `false` where that cannot be told (no `/proc`).
fn has_exited(pid: u32) -> bool {
    let proc = Path::new("/proc");
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_targets_temp_names_are_recognised() {
        let target = OsStr::new("w.safetensors");
        let pid = |name: &str| temp_file_pid(OsStr::new(name), target);
        assert_eq!(pid("w.safetensors.tmp-12-3-1700000000"), Some(12));
        assert_eq!(pid("w.safetensors.tmp-12"), Some(12));
        for other in [
            "w.safetensors",
            "w.safetensors.tmp-",
            "w.safetensors.tmp-12-3",
            "w.safetensors.tmp-12-x-1",
            "w.safetensors.tmp-12-3-1-9",
            "v.safetensors.tmp-12-3-1",
            "ww.safetensors.tmp-12-3-1",
        ] {
            assert_eq!(pid(other), None, "{other}");
        }
        let a = temp_name(target);
        let b = temp_name(target);
        assert_ne!(a, b);
        assert_eq!(temp_file_pid(&a, target), Some(std::process::id()));
    }
}
