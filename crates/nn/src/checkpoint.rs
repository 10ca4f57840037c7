//! Saving and loading weights as safetensors, atomically.
//!
//! A save writes a temporary file beside the target, syncs it, and renames it over the target, so
//! a crash or a full disk mid-save leaves the previous checkpoint intact. A load validates every
//! name, shape and dtype before it changes any parameter: a file that does not fit changes nothing.

use crate::error::{NnError, Result};
use crate::module::Module;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use tapegrad_tensor::{Float, Tensor};

/// Named tensors and string metadata read from a checkpoint.
#[derive(Debug, Clone)]
pub struct Checkpoint<T: Float> {
    /// Tensors by name.
    pub tensors: BTreeMap<String, Tensor<T>>,
    /// Free-form string metadata (epoch, optimizer name, …).
    pub metadata: HashMap<String, String>,
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> NnError + 'a {
    move |source| NnError::Io {
        path: path.to_path_buf(),
        action,
        source,
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

/// Writes `tensors` and `metadata` to `path` as safetensors, atomically (see the module docs).
pub fn save_tensors<T: Float>(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor<T>)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let dtype = if T::DTYPE == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), to_le_bytes(t), t.shape().to_vec()))
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, data, shape) in &bytes {
        let view = TensorView::new(dtype, shape.clone(), data).map_err(|e| NnError::Corrupt {
            path: path.to_path_buf(),
            what: format!("{name}: {e:?}"),
        })?;
        views.push((name.clone(), view));
    }
    let meta = if metadata.is_empty() {
        None
    } else {
        Some(metadata)
    };
    let buffer = safetensors::serialize(views, &meta).map_err(|e| NnError::Corrupt {
        path: path.to_path_buf(),
        what: format!("cannot serialise: {e:?}"),
    })?;
    write_atomically(path, &buffer, |file, bytes| file.write_all(bytes))
}

/// Writes `bytes` to a temporary file beside `path` with `write`, syncs, and renames it over `path`.
/// On any failure the temporary file is removed and `path` is left as it was.
pub(crate) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> std::io::Result<()>,
) -> Result<()> {
    let file_name = path.file_name().ok_or_else(|| NnError::Io {
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
pub fn load_tensors<T: Float>(path: impl AsRef<Path>) -> Result<Checkpoint<T>> {
    let path = path.as_ref();
    let buffer = std::fs::read(path).map_err(io(path, "reading"))?;
    let corrupt = |what: String| NnError::Corrupt {
        path: path.to_path_buf(),
        what,
    };
    let (_, header) = SafeTensors::read_metadata(&buffer).map_err(|e| corrupt(describe(&e)))?;
    let file = SafeTensors::deserialize(&buffer).map_err(|e| corrupt(describe(&e)))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        let data = view.data();
        let values: Vec<T> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| T::from_f64(f32::from_le_bytes(b.try_into().unwrap()) as f64))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| T::from_f64(f64::from_le_bytes(b.try_into().unwrap())))
                .collect(),
            other => {
                return Err(corrupt(format!(
                    "tensor {name} has dtype {other:?}; only F32 and F64 are supported"
                )))
            }
        };
        let tensor = Tensor::try_from_vec(values, view.shape())
            .map_err(|e| corrupt(format!("tensor {name}: {e}")))?;
        tensors.insert(name, tensor);
    }
    Ok(Checkpoint {
        tensors,
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

/// ```
/// # use tapegrad_nn::{load_module, save_module, Init, Linear, Module};
/// # use rand::{rngs::StdRng, SeedableRng};
/// let path = std::env::temp_dir().join(format!("doc-{}.safetensors", std::process::id()));
/// let model = Linear::<f32>::new(3, 2, Init::He, &mut StdRng::seed_from_u64(0));
/// save_module(&model, &path, Default::default()).unwrap();
/// let copy = Linear::<f32>::new(3, 2, Init::He, &mut StdRng::seed_from_u64(1));
/// load_module(&copy, &path).unwrap();
/// assert_eq!(copy.weight().value().to_vec(), model.weight().value().to_vec());
/// # std::fs::remove_file(path).unwrap();
/// ```
/// Saves a module's parameters and buffers, keyed by their dotted names, plus `metadata`.
pub fn save_module<T: Float>(
    model: &(impl Module<T> + ?Sized),
    path: impl AsRef<Path>,
    metadata: HashMap<String, String>,
) -> Result<()> {
    let named: Vec<(String, Tensor<T>)> = model
        .parameters()
        .into_iter()
        .chain(model.buffers())
        .map(|(n, p)| (n, p.value()))
        .collect();
    save_tensors(path, &named, metadata)
}

/// Loads a module's parameters and buffers from `path`, checking every name and shape first.
///
/// Returns the file's metadata. On a mismatch nothing is changed and the error lists the missing,
/// unexpected and mis-shaped names.
pub fn load_module<T: Float>(
    model: &(impl Module<T> + ?Sized),
    path: impl AsRef<Path>,
) -> Result<HashMap<String, String>> {
    let path = path.as_ref();
    let mut file = load_tensors::<T>(path)?;
    let slots: Vec<_> = model
        .parameters()
        .into_iter()
        .chain(model.buffers())
        .collect();
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    for (name, p) in &slots {
        match file.tensors.get(name) {
            None => missing.push(name.clone()),
            Some(t) if t.shape() != p.shape().as_slice() => mismatched.push(format!(
                "{name}: model {:?}, file {:?}",
                p.shape(),
                t.shape()
            )),
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&String> = slots.iter().map(|(n, _)| n).collect();
    let unexpected: Vec<String> = file
        .tensors
        .keys()
        .filter(|n| !known.contains(n))
        .cloned()
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() || !mismatched.is_empty() {
        return Err(NnError::Mismatch {
            path: path.to_path_buf(),
            missing,
            unexpected,
            mismatched,
        });
    }
    for (name, p) in &slots {
        p.set_value(file.tensors.remove(name).expect("checked above"));
    }
    Ok(file.metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tapegrad-nn-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_failed_write_keeps_the_previous_checkpoint() {
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
            assert!(
                err.to_string().contains("not a usable checkpoint"),
                "cut {cut}: {err}"
            );
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
