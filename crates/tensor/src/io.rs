//! Files of named tensors: safetensors, written atomically, verified by checksums, read with every
//! failure naming the path.
//!
//! Model checkpoints (`tapegrad-nn`) and optimizer state (`tapegrad-optim`) both store named
//! tensors plus string metadata; this is the one implementation they share.
//!
//! - **Atomic:** a save writes a uniquely named temporary file beside the target, syncs it, and
//!   renames it over the target, so a crash or a full disk mid-save leaves the previous file intact,
//!   concurrent saves to one path do not disturb each other, and a reader never sees a partial
//!   file; see [`write_atomically`] for when leftover temporary files are removed.
//! - **Checked:** a save records an XXH64 checksum of every tensor's bytes and one of the header as
//!   plain metadata strings (`tapegrad.xxh64/<name>`, `tapegrad.xxh64`), so the file stays standard
//!   safetensors that any reader opens. A load verifies them: a flipped bit anywhere is an error
//!   naming the path and the tensor, never silently different values. Files written before
//!   checksums existed (no such key) still load, unverified. A tool that edits a saved file must
//!   drop the `tapegrad.xxh64` keys (the file then loads unverified), or its load fails.
//! - **Never a panic:** names safetensors cannot hold (duplicate, empty, `__metadata__`) are save
//!   errors; truncated files, damaged headers and headers declaring impossible offsets or shapes
//!   are load errors.

mod atomic;
mod checksum;

pub use atomic::write_atomically;

use crate::element::Float;
use crate::tensor::Tensor;
use checksum::Entry;
use safetensors::tensor::{Dtype, Metadata, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a tensor file could not be written or read; every variant names the file.
///
/// Shared by checkpoints, optimizer state and data files, which wrap it in their own errors.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The operating system refused (missing file, no permission, disk full, …).
    Io {
        /// The file.
        path: PathBuf,
        /// The step that failed, as a verb: `"read"`, `"create"`, `"write"`, `"sync"`, `"replace"`.
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is damaged or holds data that cannot be read as asked: truncated, not safetensors,
    /// a checksum mismatch, an unsupported or unexpected dtype.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// What a save was handed cannot be stored (duplicate, empty or reserved names); nothing was
    /// written.
    Invalid {
        /// The file that was to be written.
        path: PathBuf,
        /// What is wrong with the tensors or metadata.
        what: String,
    },
}

impl FileError {
    /// An OS error while doing `action` (a verb: `"read"`, `"write"`, …) to `path`.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        FileError::Io {
            path: path.into(),
            action,
            source,
        }
    }

    /// `path` is damaged or unusable: `what` says how.
    pub fn corrupt(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        FileError::Corrupt {
            path: path.into(),
            what: what.into(),
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Io { path, .. }
            | FileError::Corrupt { path, .. }
            | FileError::Invalid { path, .. } => path,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io {
                path,
                action,
                source,
            } => write!(f, "{}: cannot {action}: {source}", path.display()),
            FileError::Corrupt { path, what } => write!(f, "{}: {what}", path.display()),
            FileError::Invalid { path, what } => write!(f, "{}: not saved: {what}", path.display()),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io { source, .. } => Some(source),
            FileError::Corrupt { .. } | FileError::Invalid { .. } => None,
        }
    }
}

/// Named tensors and string metadata read from a file.
#[derive(Debug, Clone)]
pub struct TensorFile<T: Float> {
    /// Tensors by name, converted to `T`.
    pub tensors: BTreeMap<String, Tensor<T>>,
    /// The dtype each tensor was stored in (`"f32"` or `"f64"`).
    pub dtypes: BTreeMap<String, &'static str>,
    /// Free-form string metadata (without the checksum entries).
    pub metadata: HashMap<String, String>,
}

fn to_le_bytes<T: Float>(t: &Tensor<T>) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.numel() * std::mem::size_of::<T>());
    for x in t.to_vec() {
        match T::DTYPE {
            "f32" => out.extend_from_slice(&(x.to_f64() as f32).to_le_bytes()),
            _ => out.extend_from_slice(&x.to_f64().to_le_bytes()),
        }
    }
    out
}

/// Refuses what safetensors 0.4 would panic on (duplicate names index past its name table) or
/// write as a file no reader accepts (a tensor named `__metadata__`), and keys tapegrad reserves.
fn check_names<T: Float>(
    path: &Path,
    tensors: &[(String, Tensor<T>)],
    metadata: &HashMap<String, String>,
) -> Result<(), FileError> {
    let invalid = |what: String| FileError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    let mut seen = HashSet::new();
    for (name, _) in tensors {
        if name.is_empty() {
            return Err(invalid("a tensor has an empty name".into()));
        }
        if name == "__metadata__" {
            return Err(invalid(
                "no tensor may be named \"__metadata__\": safetensors keeps the metadata there"
                    .into(),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(invalid(format!(
                "two tensors are named {name:?}; names must be unique"
            )));
        }
    }
    if let Some(key) = metadata.keys().find(|k| checksum::is_reserved(k)) {
        return Err(invalid(format!(
            "metadata key {key:?} is reserved for tapegrad's checksums"
        )));
    }
    Ok(())
}

/// Writes `tensors` (at `T`'s own precision) and `metadata` to `path` as safetensors, atomically,
/// with a checksum of every tensor and of the header in the metadata.
///
/// # Errors
/// [`FileError::Invalid`] for duplicate or empty tensor names, a tensor named `__metadata__`, or a
/// metadata key reserved for the checksums (`tapegrad.xxh64`, `tapegrad.xxh64/…`);
/// [`FileError::Io`] if writing fails.
pub fn save_tensors<T: Float>(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor<T>)],
    metadata: HashMap<String, String>,
) -> Result<(), FileError> {
    let path = path.as_ref();
    check_names(path, tensors, &metadata)?;
    let dtype = if T::DTYPE == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let bytes: Vec<(&String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, t)| (n, to_le_bytes(t), t.shape().to_vec()))
        .collect();
    let entries: Vec<Entry> = bytes
        .iter()
        .map(|(name, data, shape)| Entry {
            name,
            dtype: format!("{dtype:?}"),
            shape,
            data,
        })
        .collect();
    let mut metadata = metadata;
    metadata.extend(checksum::checksums(&metadata, &entries));
    let mut views = Vec::with_capacity(bytes.len());
    for (name, data, shape) in &bytes {
        let view = TensorView::new(dtype, shape.clone(), data).map_err(|e| FileError::Invalid {
            path: path.to_path_buf(),
            what: format!("tensor {name}: {e:?}"),
        })?;
        views.push(((*name).clone(), view));
    }
    let buffer =
        safetensors::serialize(views, &Some(metadata)).map_err(|e| FileError::Invalid {
            path: path.to_path_buf(),
            what: format!("cannot serialise: {e:?}"),
        })?;
    write_atomically(path, &buffer, |file, bytes| file.write_all(bytes))
}

/// Rejects headers whose numbers would overflow arithmetic in safetensors or in a tensor's layout.
///
/// safetensors 0.4 adds the last data offset to the header length unchecked, and a zero-size
/// tensor may declare dimensions whose strides overflow: in a debug build both would panic rather
/// than fail. Headers that do not parse are left to safetensors to describe.
fn check_header_numbers(path: &Path, buffer: &[u8]) -> Result<(), FileError> {
    let Some(prefix) = buffer.get(..8) else {
        return Ok(());
    };
    let mut len = [0u8; 8];
    len.copy_from_slice(prefix);
    let Some(end) = usize::try_from(u64::from_le_bytes(len))
        .ok()
        .and_then(|n| n.checked_add(8))
    else {
        return Ok(());
    };
    let Some(Ok(text)) = buffer.get(8..end).map(std::str::from_utf8) else {
        return Ok(());
    };
    let Ok(header) = serde_json::from_str::<Metadata>(text) else {
        return Ok(());
    };
    let data_len = buffer.len() - end;
    let mut infos: Vec<_> = header.tensors().into_iter().collect();
    infos.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, info) in infos {
        let (start, stop) = info.data_offsets;
        if start > data_len || stop > data_len {
            return Err(FileError::corrupt(
                path,
                format!(
                    "tensor {name}: its data offsets [{start}, {stop}] lie past the {data_len} \
                     data bytes the file holds (truncated?)"
                ),
            ));
        }
        let addressable = info.shape.iter().try_fold(1isize, |acc, &d| {
            isize::try_from(d.max(1))
                .ok()
                .and_then(|d| acc.checked_mul(d))
        });
        if addressable.is_none() {
            return Err(FileError::corrupt(
                path,
                format!(
                    "tensor {name}: shape {:?} is too large to address",
                    info.shape
                ),
            ));
        }
    }
    Ok(())
}

/// Reads every tensor of a safetensors file, converting `f32`/`f64` data to `T`.
///
/// Checksums written by [`save_tensors`] are verified; a file without them (written before they
/// existed, or by another program) loads unverified.
///
/// # Errors
/// [`FileError::Io`] if the file cannot be read; [`FileError::Corrupt`] naming the tensor where
/// it applies if the file is truncated, not safetensors, fails a checksum, declares impossible
/// offsets or shapes, or holds a dtype other than F32 and F64.
pub fn load_tensors<T: Float>(path: impl AsRef<Path>) -> Result<TensorFile<T>, FileError> {
    let path = path.as_ref();
    let buffer = std::fs::read(path).map_err(|e| FileError::io(path, "read", e))?;
    check_header_numbers(path, &buffer)?;
    let (_, header) =
        SafeTensors::read_metadata(&buffer).map_err(|e| FileError::corrupt(path, describe(&e)))?;
    let file =
        SafeTensors::deserialize(&buffer).map_err(|e| FileError::corrupt(path, describe(&e)))?;
    let views = file.tensors();
    let entries: Vec<Entry> = views
        .iter()
        .map(|(name, view)| Entry {
            name,
            dtype: format!("{:?}", view.dtype()),
            shape: view.shape(),
            data: view.data(),
        })
        .collect();
    let metadata = checksum::verify(
        path,
        header.metadata().clone().unwrap_or_default(),
        &entries,
    )?;
    let mut tensors = BTreeMap::new();
    let mut dtypes = BTreeMap::new();
    for (name, view) in &views {
        let data = view.data();
        let (values, dtype): (Vec<T>, _) = match view.dtype() {
            Dtype::F32 => (
                data.chunks_exact(4)
                    .map(|b| T::from_f64(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64))
                    .collect(),
                "f32",
            ),
            Dtype::F64 => (
                data.chunks_exact(8)
                    .map(|b| {
                        let mut w = [0u8; 8];
                        w.copy_from_slice(b);
                        T::from_f64(f64::from_le_bytes(w))
                    })
                    .collect(),
                "f64",
            ),
            other => {
                return Err(FileError::corrupt(
                    path,
                    format!("tensor {name} has dtype {other:?}; only F32 and F64 are supported"),
                ));
            }
        };
        let tensor = Tensor::try_from_vec(values, view.shape())
            .map_err(|e| FileError::corrupt(path, format!("tensor {name}: {e}")))?;
        dtypes.insert(name.clone(), dtype);
        tensors.insert(name.clone(), tensor);
    }
    Ok(TensorFile {
        tensors,
        dtypes,
        metadata,
    })
}

fn describe(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall | E::InvalidHeaderLength => {
            "the header is truncated or its length is wrong".into()
        }
        E::HeaderTooLarge => "the header length is over 100 MB: not a safetensors file?".into(),
        E::InvalidHeader | E::InvalidHeaderStart => "the header is not UTF-8 JSON".into(),
        E::InvalidHeaderDeserialization => {
            "the header is not a safetensors JSON header (damaged?)".into()
        }
        E::MetadataIncompleteBuffer => {
            "the file's length differs from what its header says (truncated?)".into()
        }
        E::InvalidOffset(name) => {
            format!("tensor {name}: its data offsets do not follow the previous tensor's")
        }
        E::TensorInvalidInfo => "a tensor's data size does not match its dtype and shape".into(),
        E::ValidationOverflow => "a tensor's shape is too large to address".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tapegrad-io-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_failed_write_keeps_the_previous_file() {
        let dir = temp_dir("atomic");
        let path = dir.join("w.safetensors");
        let good = vec![(
            "w".to_string(),
            Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]),
        )];
        save_tensors(&path, &good, HashMap::new()).unwrap();
        let bytes = vec![7u8; 1000];
        // The write dies halfway through, as a full disk or a crash would leave it.
        let err = write_atomically(&path, &bytes, |file, b| {
            file.write_all(&b[..500])?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        let back = load_tensors::<f32>(&path).unwrap();
        assert_eq!(back.tensors["w"].to_vec(), vec![1.0, 2.0]);
        assert_eq!(back.dtypes["w"], "f32");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "temporary file left behind: {leftovers:?}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn truncated_and_garbage_files_are_errors() {
        let dir = temp_dir("corrupt");
        let path = dir.join("w.safetensors");
        let t = vec![("w".to_string(), Tensor::<f64>::ones(&[4, 4]))];
        save_tensors(&path, &t, HashMap::new()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for cut in [0, 4, 12, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let err = load_tensors::<f64>(&path).unwrap_err();
            assert!(matches!(err, FileError::Corrupt { .. }), "cut {cut}: {err}");
        }
        std::fs::write(&path, b"definitely not safetensors at all").unwrap();
        assert!(load_tensors::<f64>(&path).is_err());
        let missing = load_tensors::<f64>(dir.join("nope.safetensors")).unwrap_err();
        assert!(
            missing.to_string().contains("nope.safetensors"),
            "{missing}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A safetensors file with this header JSON and data, as a hostile or damaged writer made it.
    fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn headers_declaring_impossible_offsets_or_shapes_are_errors_not_panics() {
        let dir = temp_dir("hostile");
        let path = dir.join("h.safetensors");
        let max = u64::MAX;
        let cases = [
            // safetensors adds this end offset to the header length unchecked
            (
                format!(r#"{{"x":{{"dtype":"U8","shape":[{max}],"data_offsets":[0,{max}]}}}}"#),
                0,
                "lie past the 0 data bytes",
            ),
            // zero elements, but strides of 2^40 * 2^40 elements overflow
            (
                r#"{"x":{"dtype":"F32","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}}"#
                    .to_string(),
                0,
                "too large to address",
            ),
            (
                r#"{"x":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}}"#
                    .to_string(),
                0,
                "too large to address",
            ),
            (
                r#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"a":1}}"#
                    .to_string(),
                8,
                "not a safetensors JSON header",
            ),
            (
                r#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#.to_string(),
                8,
                "do not follow",
            ),
            (
                r#"{"x":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#.to_string(),
                8,
                "only F32 and F64",
            ),
        ];
        for (header, data_len, want) in &cases {
            std::fs::write(&path, raw_file(header, &vec![0; *data_len])).unwrap();
            let err = load_tensors::<f32>(&path).unwrap_err().to_string();
            assert!(
                err.contains("h.safetensors") && err.contains(want),
                "{header}: {err}"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn names_safetensors_cannot_hold_are_save_errors() {
        let dir = temp_dir("names");
        let path = dir.join("n.safetensors");
        let t = || Tensor::<f32>::ones(&[2]);
        let meta = |key: &str| HashMap::from([(key.to_string(), "1".to_string())]);
        let cases = [
            (
                vec![("w".to_string(), t()), ("w".to_string(), t())],
                HashMap::new(),
                "two tensors are named \"w\"",
            ),
            (vec![(String::new(), t())], HashMap::new(), "empty name"),
            (
                vec![("__metadata__".to_string(), t())],
                HashMap::new(),
                "__metadata__",
            ),
            (
                vec![("w".to_string(), t())],
                meta("tapegrad.xxh64"),
                "reserved",
            ),
            (
                vec![("w".to_string(), t())],
                meta("tapegrad.xxh64/w"),
                "reserved",
            ),
        ];
        for (tensors, metadata, want) in cases {
            let err = save_tensors(&path, &tensors, metadata).unwrap_err();
            assert!(matches!(err, FileError::Invalid { .. }), "{err}");
            let msg = err.to_string();
            assert!(msg.contains("n.safetensors") && msg.contains(want), "{msg}");
            assert!(!path.exists(), "{want}: a refused save wrote the file");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn zero_size_scalar_and_strided_tensors_round_trip() {
        let dir = temp_dir("shapes");
        let path = dir.join("s.safetensors");
        let grid = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[3, 4]);
        let tensors = vec![
            ("empty".to_string(), Tensor::<f64>::zeros(&[0, 3])),
            ("hollow".to_string(), Tensor::<f64>::zeros(&[2, 0, 4])),
            ("scalar".to_string(), Tensor::<f64>::scalar(2.5)),
            ("transposed".to_string(), grid.transpose(0, 1)),
        ];
        save_tensors(&path, &tensors, HashMap::new()).unwrap();
        let back = load_tensors::<f64>(&path).unwrap();
        for (name, t) in &tensors {
            assert_eq!(back.tensors[name].shape(), t.shape(), "{name}");
            assert_eq!(back.tensors[name].to_vec(), t.to_vec(), "{name}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn checksums_are_plain_metadata_and_files_without_them_still_load() {
        let dir = temp_dir("checksums");
        let path = dir.join("c.safetensors");
        let w = Tensor::<f32>::from_vec(vec![1.0, -2.0, 3.5], &[3]);
        let meta = HashMap::from([("epoch".to_string(), "3".to_string())]);
        save_tensors(&path, &[("w".to_string(), w.clone())], meta.clone()).unwrap();
        // Any safetensors reader sees string metadata; the tensor's entry is the XXH64 of its bytes.
        let bytes = std::fs::read(&path).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let stored = header.metadata().clone().unwrap();
        let data = to_le_bytes(&w);
        assert_eq!(
            stored["tapegrad.xxh64/w"],
            format!("{:016x}", checksum::xxh64(&data))
        );
        assert_eq!(stored["epoch"], "3");
        assert!(stored.contains_key("tapegrad.xxh64"));
        assert_eq!(load_tensors::<f32>(&path).unwrap().metadata, meta);
        // A file from before checksums (or from another writer) loads unverified.
        let view = TensorView::new(Dtype::F32, vec![3], &data).unwrap();
        let legacy = safetensors::serialize([("w", view)], &Some(meta.clone())).unwrap();
        std::fs::write(&path, legacy).unwrap();
        let back = load_tensors::<f32>(&path).unwrap();
        assert_eq!(back.tensors["w"].to_vec(), w.to_vec());
        assert_eq!(back.metadata, meta);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_leftover_temp_file_of_a_killed_save_is_removed_by_the_next_save() {
        let dir = temp_dir("leftover");
        let path = dir.join("w.safetensors");
        let leftover = |name: String, idle_minutes: u64| {
            let file = dir.join(name);
            std::fs::write(&file, b"half a checkpoint").unwrap();
            let mtime =
                std::time::SystemTime::now() - std::time::Duration::from_secs(60 * idle_minutes);
            std::fs::File::options()
                .write(true)
                .open(&file)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
            file
        };
        // No process has this id: Linux caps pids at 2^22.
        let dead = u32::MAX - 1;
        let me = std::process::id();
        // Stale: idle for hours whoever wrote it, or (where /proc tells) the writer is gone and the
        // file idle for minutes.
        let mut stale = vec![leftover("w.safetensors.tmp-1-0-1".to_string(), 120)];
        if Path::new("/proc/self").exists() {
            stale.push(leftover(
                format!("w.safetensors.tmp-{dead}-3-1700000000000000000"),
                5,
            ));
            stale.push(leftover(format!("w.safetensors.tmp-{dead}"), 5));
        }
        // Kept: a save in progress in this process, a dead writer's file within the minute of
        // grace, another target's temporary file, and a name outside the pattern.
        let kept = [
            leftover(format!("w.safetensors.tmp-{me}-7-1"), 5),
            leftover(format!("w.safetensors.tmp-{dead}-0-1"), 0),
            leftover(format!("v.safetensors.tmp-{dead}-0-1"), 120),
            leftover("w.safetensors.tmp-notes".to_string(), 120),
        ];
        let t = vec![("w".to_string(), Tensor::<f32>::ones(&[2]))];
        save_tensors(&path, &t, HashMap::new()).unwrap();
        for file in &stale {
            assert!(!file.exists(), "stale {} was not removed", file.display());
        }
        for file in &kept {
            assert!(file.exists(), "{} was removed", file.display());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
