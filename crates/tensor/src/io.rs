//! Files of named tensors: safetensors, written atomically, read with every failure naming the path.
//!
//! Model checkpoints (`tapegrad-nn`) and optimizer state (`tapegrad-optim`) both store named
//! tensors plus string metadata; this is the one implementation they share.
//!
//! A save writes a temporary file beside the target, syncs it, and renames it over the target, so
//! a crash or a full disk mid-save leaves the previous file intact.

use crate::element::Float;
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a tensor file could not be written or read.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The operating system refused (missing file, no permission, disk full, …).
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done (`"reading"`, `"replacing"`, …).
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid safetensors, or holds data that cannot be `f32`/`f64` tensors.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io {
                path,
                action,
                source,
            } => write!(f, "{action} {}: {source}", path.display()),
            FileError::Corrupt { path, what } => write!(f, "{}: {what}", path.display()),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io { source, .. } => Some(source),
            FileError::Corrupt { .. } => None,
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
    /// Free-form string metadata.
    pub metadata: HashMap<String, String>,
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> FileError + 'a {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

fn corrupt(path: &Path, what: impl Into<String>) -> FileError {
    FileError::Corrupt {
        path: path.to_path_buf(),
        what: what.into(),
    }
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

/// Writes `tensors` (at `T`'s own precision) and `metadata` to `path` as safetensors, atomically.
pub fn save_tensors<T: Float>(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor<T>)],
    metadata: HashMap<String, String>,
) -> Result<(), FileError> {
    let path = path.as_ref();
    let dtype = if T::DTYPE == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let bytes: Vec<(&String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, t)| (n, to_le_bytes(t), t.shape().to_vec()))
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, data, shape) in &bytes {
        let view = TensorView::new(dtype, shape.clone(), data)
            .map_err(|e| corrupt(path, format!("{name}: {e:?}")))?;
        views.push(((*name).clone(), view));
    }
    let meta = if metadata.is_empty() {
        None
    } else {
        Some(metadata)
    };
    let buffer = safetensors::serialize(views, &meta)
        .map_err(|e| corrupt(path, format!("cannot serialise: {e:?}")))?;
    write_atomically(path, &buffer, |file, bytes| file.write_all(bytes))
}

/// Writes `bytes` to a temporary file beside `path` with `write`, syncs, and renames it over `path`.
/// On any failure the temporary file is removed and `path` is left as it was.
pub fn write_atomically(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> std::io::Result<()>,
) -> Result<(), FileError> {
    let file_name = path.file_name().ok_or_else(|| FileError::Io {
        path: path.to_path_buf(),
        action: "saving to",
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file"),
    })?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let result = (|| {
        let mut file = File::create(&tmp).map_err(io(&tmp, "creating"))?;
        write(&mut file, bytes).map_err(io(&tmp, "writing"))?;
        file.sync_all().map_err(io(&tmp, "syncing"))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io(path, "replacing"))?;
        // Make the rename itself durable; not every platform can open a directory, so best effort.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads every tensor of a safetensors file, converting `f32`/`f64` data to `T`.
pub fn load_tensors<T: Float>(path: impl AsRef<Path>) -> Result<TensorFile<T>, FileError> {
    let path = path.as_ref();
    let buffer = std::fs::read(path).map_err(io(path, "reading"))?;
    let (_, header) =
        SafeTensors::read_metadata(&buffer).map_err(|e| corrupt(path, describe(&e)))?;
    let file = SafeTensors::deserialize(&buffer).map_err(|e| corrupt(path, describe(&e)))?;
    let mut tensors = BTreeMap::new();
    let mut dtypes = BTreeMap::new();
    for (name, view) in file.tensors() {
        let data = view.data();
        let (values, dtype): (Vec<T>, _) = match view.dtype() {
            Dtype::F32 => (
                data.chunks_exact(4)
                    .map(|b| T::from_f64(f32::from_le_bytes(b.try_into().unwrap()) as f64))
                    .collect(),
                "f32",
            ),
            Dtype::F64 => (
                data.chunks_exact(8)
                    .map(|b| T::from_f64(f64::from_le_bytes(b.try_into().unwrap())))
                    .collect(),
                "f64",
            ),
            other => {
                return Err(corrupt(
                    path,
                    format!("tensor {name} has dtype {other:?}; only F32 and F64 are supported"),
                ))
            }
        };
        let tensor = Tensor::try_from_vec(values, view.shape())
            .map_err(|e| corrupt(path, format!("tensor {name}: {e}")))?;
        dtypes.insert(name.clone(), dtype);
        tensors.insert(name, tensor);
    }
    Ok(TensorFile {
        tensors,
        dtypes,
        metadata: header.metadata().clone().unwrap_or_default(),
    })
}

fn describe(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall | E::InvalidHeaderLength => {
            "the header is truncated or its length is wrong".into()
        }
        E::MetadataIncompleteBuffer => {
            "the file is shorter than its header says (truncated?)".into()
        }
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
}
