//! Optimizer state files: safetensors, written atomically, read with every failure naming the path.
//!
//! A save writes a uniquely named temporary file beside the target, syncs it, and renames it over
//! the target, so a crash or a full disk mid-save leaves the previous state file intact. Every
//! tensor and the header carry an XXH64 checksum in the metadata, verified on load; state files
//! written before checksums existed still load, unverified (see [`tapegrad_tensor::io`]).

use crate::error::Result;
use crate::optimizer::StateDict;
use std::path::Path;
use tapegrad_tensor::Float;
use tapegrad_tensor::io::{FileError, load_tensors, save_tensors};

/// Writes `state` to `path` as safetensors, atomically, at the state's own precision.
pub(crate) fn save<T: Float>(path: &Path, state: &StateDict<T>) -> Result<()> {
    let tensors: Vec<(String, _)> = state
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    let metadata = state
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(save_tensors(path, &tensors, metadata)?)
}

/// Reads a state file written by [`save`] for the same element type: state is always saved at its
/// own precision, so a file of the other precision is refused rather than silently rounded.
pub(crate) fn load<T: Float>(path: &Path) -> Result<StateDict<T>> {
    let file = load_tensors::<T>(path)?;
    if let Some((name, dtype)) = file.dtypes.iter().find(|&(_, &d)| d != T::DTYPE) {
        return Err(FileError::corrupt(
            path,
            format!(
                "tensor {name} has dtype {dtype}, but this optimizer holds {}",
                T::DTYPE
            ),
        )
        .into());
    }
    Ok(StateDict {
        tensors: file.tensors,
        metadata: file.metadata.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use tapegrad_tensor::Tensor;

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
    fn truncated_and_garbage_files_are_errors_naming_the_path() {
        let dir = temp_dir("corrupt");
        let path = dir.join("opt.safetensors");
        save(&path, &sample()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for cut in [0, 4, 12, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let err = load::<f32>(&path).unwrap_err().to_string();
            assert!(err.starts_with("optimizer state: "), "cut {cut}: {err}");
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
