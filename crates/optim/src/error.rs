//! Errors of the optim layer: state files, mismatched state, bad configuration, steps that
//! cannot run.

use std::fmt;
use std::path::PathBuf;
use tapegrad_tensor::io::FileError;

/// Result of a fallible optim call.
pub type Result<T> = std::result::Result<T, OptimError>;

/// What went wrong in the optim layer.
#[derive(Debug)]
#[non_exhaustive]
pub enum OptimError {
    /// A state file could not be written or read: the OS refused, the file is damaged (a checksum,
    /// truncation or header defect), or it holds the other precision.
    File(FileError),
    /// Saved state does not fit this optimizer: other parameters, shapes or hyperparameters.
    Mismatch {
        /// The file, or `None` for an in-memory [`StateDict`](crate::StateDict).
        path: Option<PathBuf>,
        /// Names (parameters or state tensors) the optimizer expects and the state lacks.
        missing: Vec<String>,
        /// Names the state has and the optimizer does not know.
        unexpected: Vec<String>,
        /// `name: optimizer … vs state …` for each disagreement in shape or value.
        mismatched: Vec<String>,
    },
    /// A configuration value is out of its domain.
    Config {
        /// The type being configured (`"Adam"`, `"Ewma"`, …).
        what: &'static str,
        /// Why the value is wrong.
        why: String,
    },
    /// A gradient's shape differs from its parameter's.
    GradientShape {
        /// The optimizer's kind (`"adam"`, …).
        optimizer: &'static str,
        /// The parameter's name.
        param: String,
        /// The parameter's shape.
        param_shape: Vec<usize>,
        /// The gradient's shape.
        grad_shape: Vec<usize>,
    },
    /// A parameter's shape changed after the optimizer made its state buffers for it.
    ParamShapeChanged {
        /// The optimizer's kind.
        optimizer: &'static str,
        /// The parameter's name.
        param: String,
        /// The shape the state buffers were made for.
        state_shape: Vec<usize>,
        /// The parameter's shape now.
        param_shape: Vec<usize>,
    },
    /// A step counter is at `u64::MAX` and cannot count another step.
    StepOverflow {
        /// The optimizer's kind.
        optimizer: &'static str,
    },
}

impl OptimError {
    pub(crate) fn config(what: &'static str, why: impl Into<String>) -> Self {
        OptimError::Config {
            what,
            why: why.into(),
        }
    }

    /// The same error, naming `path` as the file it came from.
    pub(crate) fn at(self, file: &std::path::Path) -> Self {
        match self {
            OptimError::Mismatch {
                path: None,
                missing,
                unexpected,
                mismatched,
            } => OptimError::Mismatch {
                path: Some(file.to_path_buf()),
                missing,
                unexpected,
                mismatched,
            },
            other => other,
        }
    }
}

impl fmt::Display for OptimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptimError::File(e) => write!(f, "optimizer state: {e}"),
            OptimError::Mismatch {
                path,
                missing,
                unexpected,
                mismatched,
            } => {
                match path {
                    Some(p) => write!(f, "{} does not match the optimizer:", p.display())?,
                    None => write!(f, "the state dict does not match the optimizer:")?,
                }
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
            OptimError::Config { what, why } => write!(f, "{what}: {why}"),
            OptimError::GradientShape {
                optimizer,
                param,
                param_shape,
                grad_shape,
            } => write!(
                f,
                "{optimizer}: step: the gradient of {param:?} has shape {grad_shape:?}, but the parameter has shape {param_shape:?}"
            ),
            OptimError::ParamShapeChanged {
                optimizer,
                param,
                state_shape,
                param_shape,
            } => write!(
                f,
                "{optimizer}: step: parameter {param:?} has shape {param_shape:?}, but its state was made for shape {state_shape:?}; a parameter cannot change shape under an optimizer (make a new one)"
            ),
            OptimError::StepOverflow { optimizer } => write!(
                f,
                "{optimizer}: step: the step count is at its maximum, {}, and cannot count another step",
                u64::MAX
            ),
        }
    }
}

impl std::error::Error for OptimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OptimError::File(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FileError> for OptimError {
    fn from(e: FileError) -> Self {
        OptimError::File(e)
    }
}

/// Unwraps an optim result; a failure panics with the error's message at the caller's line.
#[track_caller]
pub(crate) fn or_panic<T>(result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{err}"),
    }
}
