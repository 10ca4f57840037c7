//! Saving and loading weights as safetensors, atomically and with checksums.
//!
//! A save writes a uniquely named temporary file beside the target, syncs it, and renames it over
//! the target, so a crash or a full disk mid-save leaves the previous checkpoint intact and
//! concurrent saves and loads of one path each see a whole file. Every tensor's bytes and the
//! header carry an XXH64 checksum in the safetensors metadata, which a load verifies: a damaged
//! file is an error naming the path and the tensor. Checkpoints written before checksums existed
//! still load, unverified. A load validates every name, shape and dtype before it changes any
//! parameter: a file that does not fit changes nothing. See [`tapegrad_tensor::io`] for the format.

use crate::error::{NnError, Result};
use crate::module::Module;
use std::collections::HashMap;
use std::path::Path;
use tapegrad_tensor::{Float, Tensor};

/// Named tensors and string metadata read from a checkpoint.
pub type Checkpoint<T> = tapegrad_tensor::io::TensorFile<T>;

/// Writes `tensors` and `metadata` to `path` as safetensors, atomically (see the module docs).
///
/// # Errors
/// [`NnError::File`]: duplicate, empty or reserved names, or the file cannot be written.
pub fn save_tensors<T: Float>(
    path: impl AsRef<Path>,
    tensors: &[(String, Tensor<T>)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    Ok(tapegrad_tensor::io::save_tensors(path, tensors, metadata)?)
}

/// Reads every tensor of a safetensors file, converting `f32`/`f64` data to `T` (no dtype check;
/// [`load_module`] refuses a dtype other than the model's).
///
/// # Errors
/// [`NnError::File`] if the file cannot be read or is damaged.
pub fn load_tensors<T: Float>(path: impl AsRef<Path>) -> Result<Checkpoint<T>> {
    Ok(tapegrad_tensor::io::load_tensors(path)?)
}

/// Saves a module's parameters and buffers, keyed by their dotted names, plus `metadata`.
///
/// # Errors
/// [`NnError::File`] if two parameters share a name (a custom module that forgot
/// [`prefixed`](crate::prefixed)), a name is empty, or the file cannot be written; nothing is
/// written then.
///
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

/// Loads a module's parameters and buffers from `path`, checking every name, shape and dtype first.
///
/// Returns the file's metadata. The file's dtype must be the model's: an f64 checkpoint is not
/// rounded into an f32 model (convert with [`load_tensors`] if that is what you want).
///
/// # Errors
/// [`NnError::File`] if the file cannot be read or is damaged (a checksum fails, it is truncated);
/// [`NnError::Mismatch`] listing the missing, unexpected and mis-shaped or mis-typed names. On any
/// error nothing is changed.
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
        match file.dtypes.get(name) {
            Some(&dtype) if dtype != T::DTYPE => {
                mismatched.push(format!("{name}: model {}, file {dtype}", T::DTYPE))
            }
            _ => {}
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
