//! Errors of the nn layer: checkpoint files, mismatched parameters, bad configuration, inputs a
//! layer cannot take.

use std::fmt;
use std::path::PathBuf;
use tapegrad_autograd::AutogradError;
use tapegrad_tensor::TensorError;

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
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A checkpoint file is not valid safetensors, or holds data this model cannot use.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// A checkpoint does not match the model's parameters.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Names the model has and the file lacks.
        missing: Vec<String>,
        /// Names the file has and the model lacks.
        unexpected: Vec<String>,
        /// `name: model shape vs file shape` (or dtype) for each disagreement.
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
            NnError::Io {
                path,
                action,
                source,
            } => write!(f, "{action} {}: {source}", path.display()),
            NnError::Corrupt { path, what } => {
                write!(f, "{} is not a usable checkpoint: {what}", path.display())
            }
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
            NnError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<TensorError> for NnError {
    fn from(e: TensorError) -> Self {
        NnError::Tensor(e)
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
