//! Saving and loading weights as safetensors, atomically.
//!
//! A save writes a temporary file beside the target, syncs it, and renames it over the target, so
//! a crash or a full disk mid-save leaves the previous checkpoint intact. A load validates every
//! name, shape and dtype before it changes any parameter: a file that does not fit changes nothing.

use crate::error::{NnError, Result};
use crate::module::Module;
use std::collections::HashMap;
use std::path::Path;
use tapegrad_tensor::io::FileError;
use tapegrad_tensor::{Float, Tensor};

/// Named tensors and string metadata read from a checkpoint.
pub type Checkpoint<T> = tapegrad_tensor::io::TensorFile<T>;

impl From<FileError> for NnError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Io {
                path,
                action,
                source,
            } => NnError::Io {
                path,
                action,
                source,
            },
            FileError::Corrupt { path, what } => NnError::Corrupt { path, what },
            other => NnError::Corrupt {
                path: Default::default(),
                what: other.to_string(),
            },
        }
    }
}

/// Writes `tensors` and `metadata` to `path` as safetensors, atomically (see the module docs).
pub fn save_tensors<T: Float>(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor<T>)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    Ok(tapegrad_tensor::io::save_tensors(path, tensors, metadata)?)
}

/// Reads every tensor of a safetensors file, converting `f32`/`f64` data to `T`.
pub fn load_tensors<T: Float>(path: impl AsRef<Path>) -> Result<Checkpoint<T>> {
    Ok(tapegrad_tensor::io::load_tensors(path)?)
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
