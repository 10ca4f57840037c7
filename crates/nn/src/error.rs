//! Errors of the nn layer: checkpoint files, mismatched parameters, bad configuration, inputs a
//! layer cannot take.

use std::fmt;
use std::path::PathBuf;
use tapegrad_autograd::AutogradError;
use tapegrad_tensor::TensorError;
use tapegrad_tensor::io::FileError;

/// Result of a fallible nn call.
pub type Result<T> = std::result::Result<T, NnError>;

/// What went wrong in the nn layer.
#[derive(Debug)]
#[non_exhaustive]
pub enum NnError {
    /// A tensor op failed.
    Tensor(TensorError),
    /// Recording or differentiation failed.
    Autograd(AutogradError),
    /// A checkpoint file could not be written or read: the OS refused, the file is damaged (a
    /// checksum, truncation or header defect), or the tensors could not be saved as named.
    File(FileError),
    /// A checkpoint does not match the model's parameters.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Names the model has and the file lacks.
        missing: Vec<String>,
        /// Names the file has and the model lacks.
        unexpected: Vec<String>,
        /// `name: model [shape], file [shape]` or `name: model f32, file f64` for each disagreement.
        mismatched: Vec<String>,
    },
    /// A configuration value is out of its domain.
    Config {
        /// The type being configured.
        what: &'static str,
        /// Why the value is wrong.
        why: String,
    },
    /// A layer got an input it cannot take: another rank or feature count, or too few samples.
    Input {
        /// The layer (`"BatchNorm1d"`, `"Linear"`, …).
        layer: &'static str,
        /// What it expected (`"expected input [N, 3]"`).
        what: String,
        /// The input's shape.
        got: Vec<usize>,
    },
}

impl fmt::Display for NnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NnError::Tensor(e) => write!(f, "{e}"),
            NnError::Autograd(e) => write!(f, "{e}"),
            NnError::File(e) => write!(f, "checkpoint: {e}"),
            NnError::Mismatch {
                path,
                missing,
                unexpected,
                mismatched,
            } => {
                write!(f, "{} does not match the model:", path.display())?;
                if !missing.is_empty() {
                    write!(f, " missing {missing:?};")?;
                }
                if !unexpected.is_empty() {
                    write!(f, " unexpected {unexpected:?};")?;
                }
                if !mismatched.is_empty() {
                    write!(f, " mismatched {mismatched:?};")?;
                }
                Ok(())
            }
            NnError::Config { what, why } => write!(f, "{what}: {why}"),
            NnError::Input { layer, what, got } => {
                write!(f, "{layer}: {what}, got input shape {got:?}")
            }
        }
    }
}

impl std::error::Error for NnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NnError::Tensor(e) => Some(e),
            NnError::Autograd(e) => Some(e),
            NnError::File(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TensorError> for NnError {
    fn from(e: TensorError) -> Self {
        NnError::Tensor(e)
    }
}

impl From<FileError> for NnError {
    fn from(e: FileError) -> Self {
        NnError::File(e)
    }
}

impl From<AutogradError> for NnError {
    fn from(e: AutogradError) -> Self {
        NnError::Autograd(e)
    }
}

/// Unwraps an nn result; a failure panics with the error's message at the caller's line.
#[track_caller]
pub(crate) fn or_panic<T>(result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{err}"),
    }
}
