//! Optimizer state files: safetensors, written atomically, read with every failure naming the path.
//!
//! A save writes a temporary file beside the target, syncs it, and renames it over the target, so
//! a crash or a full disk mid-save leaves the previous state file intact.

use crate::error::{OptimError, Result};
use crate::optimizer::StateDict;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use tapegrad_tensor::{Float, Tensor};

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> OptimError + 'a {
    move |source| OptimError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

fn corrupt(path: &Path, what: impl Into<String>) -> OptimError {
    OptimError::Corrupt {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// The dtype `T` is stored as; state is always saved at its own precision, so reloads are exact.
fn dtype_of<T: Float>() -> Dtype {
    if T::DTYPE == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
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

/// Writes `state` to `path` as safetensors, atomically.
pub(crate) fn save<T: Float>(path: &Path, state: &StateDict<T>) -> Result<()> {
    let bytes: Vec<(&String, Vec<u8>, Vec<usize>)> = state
        .tensors
        .iter()
        .map(|(name, t)| (name, to_le_bytes(t), t.shape().to_vec()))
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, data, shape) in &bytes {
        let view = TensorView::new(dtype_of::<T>(), shape.clone(), data)
            .map_err(|e| corrupt(path, format!("{name}: {e:?}")))?;
        views.push(((*name).clone(), view));
    }
    let metadata: HashMap<String, String> = state
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let buffer = safetensors::serialize(views, &Some(metadata))
        .map_err(|e| corrupt(path, format!("cannot serialise: {e:?}")))?;
    write_atomically(path, &buffer, |file, bytes| file.write_all(bytes))
}

/// Writes `bytes` to a temporary file beside `path` with `write`, syncs, and renames it over `path`.
/// On any failure the temporary file is removed and `path` is left as it was.
pub(crate) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> std::io::Result<()>,
) -> Result<()> {
    let file_name = path.file_name().ok_or_else(|| OptimError::Io {
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

/// Reads a state file written by [`save`] for the same element type.
pub(crate) fn load<T: Float>(path: &Path) -> Result<StateDict<T>> {
    let buffer = std::fs::read(path).map_err(io(path, "reading"))?;
    let (_, header) =
        SafeTensors::read_metadata(&buffer).map_err(|e| corrupt(path, describe(&e)))?;
    let file = SafeTensors::deserialize(&buffer).map_err(|e| corrupt(path, describe(&e)))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        if view.dtype() != dtype_of::<T>() {
            return Err(corrupt(
                path,
                format!(
                    "tensor {name} has dtype {:?}, but this optimizer holds {}",
                    view.dtype(),
                    T::DTYPE
                ),
            ));
        }
        let data = view.data();
        let values: Vec<T> = if T::DTYPE == "f32" {
            data.chunks_exact(4)
                .map(|b| T::from_f64(f32::from_le_bytes(b.try_into().unwrap()) as f64))
                .collect()
        } else {
            data.chunks_exact(8)
                .map(|b| T::from_f64(f64::from_le_bytes(b.try_into().unwrap())))
                .collect()
        };
        let tensor = Tensor::try_from_vec(values, view.shape())
            .map_err(|e| corrupt(path, format!("tensor {name}: {e}")))?;
        tensors.insert(name, tensor);
    }
    let metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(StateDict { tensors, metadata })
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
        let dir = std::env::temp_dir().join(format!("tapegrad-optim-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sample() -> StateDict<f32> {
        let mut tensors = BTreeMap::new();
        tensors.insert(
            "w/exp_avg".to_string(),
            Tensor::from_vec(vec![1.0f32, 2.0], &[2]),
        );
        let mut metadata = BTreeMap::new();
        metadata.insert("step".to_string(), "3".to_string());
        StateDict { tensors, metadata }
    }

    #[test]
    fn round_trip_is_exact() {
        let dir = temp_dir("round-trip");
        let path = dir.join("opt.safetensors");
        save(&path, &sample()).unwrap();
        let back = load::<f32>(&path).unwrap();
        assert_eq!(back.tensors["w/exp_avg"].to_vec(), vec![1.0, 2.0]);
        assert_eq!(back.metadata["step"], "3");
        let err = load::<f64>(&path).unwrap_err();
        assert!(err.to_string().contains("dtype"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_previous_file() {
        let dir = temp_dir("atomic");
        let path = dir.join("opt.safetensors");
        save(&path, &sample()).unwrap();
        let err = write_atomically(&path, &[7u8; 1000], |file, b| {
            file.write_all(&b[..500])?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(load::<f32>(&path).unwrap().metadata["step"], "3");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "temporary file left behind");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn truncated_and_garbage_files_are_errors_naming_the_path() {
        let dir = temp_dir("corrupt");
        let path = dir.join("opt.safetensors");
        save(&path, &sample()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for cut in [0, 4, 12, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let err = load::<f32>(&path).unwrap_err().to_string();
            assert!(
                err.contains("not a usable optimizer state"),
                "cut {cut}: {err}"
            );
            assert!(err.contains("opt.safetensors"), "cut {cut}: {err}");
        }
        std::fs::write(&path, b"definitely not safetensors at all").unwrap();
        assert!(load::<f32>(&path).is_err());
        let missing = load::<f32>(&dir.join("nope.safetensors")).unwrap_err();
        assert!(
            missing.to_string().contains("nope.safetensors"),
            "{missing}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
