//! The one error type of tensor ops, and the panic policy of the short forms.

use std::fmt;

/// Result of a fallible tensor op.
pub type Result<T> = std::result::Result<T, TensorError>;

/// What went wrong in a tensor op. Every variant names the op.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TensorError {
    /// Shapes that must agree, or broadcast, do not.
    ShapeMismatch {
        /// The op that failed.
        op: &'static str,
        /// Left (or only) operand's shape.
        lhs: Vec<usize>,
        /// Right operand's (or requested) shape.
        rhs: Vec<usize>,
        /// Why they do not fit.
        why: String,
    },
    /// An axis outside `-rank..rank`.
    InvalidAxis {
        /// The op that failed.
        op: &'static str,
        /// The axis asked for.
        axis: isize,
        /// The tensor's rank.
        rank: usize,
    },
    /// An index or range outside the tensor.
    OutOfRange {
        /// The op that failed.
        op: &'static str,
        /// What was out of range.
        what: String,
    },
    /// A data buffer whose length does not match the shape.
    DataLength {
        /// The op that failed.
        op: &'static str,
        /// Elements the shape needs.
        expected: usize,
        /// Elements given.
        got: usize,
    },
    /// An op that needs at least one element got none.
    Empty {
        /// The op that failed.
        op: &'static str,
        /// The input's shape.
        shape: Vec<usize>,
    },
    /// An argument outside its domain (a probability above 1, a zero step, ...).
    InvalidArgument {
        /// The op that failed.
        op: &'static str,
        /// What was wrong.
        what: String,
    },
    /// A shape too large to address: its sizes multiplied (empty axes counted as 1), times the
    /// element's bytes, exceed `isize::MAX`, the most one allocation can hold.
    TooLarge {
        /// The op that failed.
        op: &'static str,
        /// The shape asked for.
        shape: Vec<usize>,
        /// Bytes per element (4 for `f32`, 8 for `f64`).
        elem_bytes: usize,
    },
}

impl TensorError {
    /// The name of the op that failed.
    pub fn op(&self) -> &'static str {
        match self {
            TensorError::ShapeMismatch { op, .. }
            | TensorError::InvalidAxis { op, .. }
            | TensorError::OutOfRange { op, .. }
            | TensorError::DataLength { op, .. }
            | TensorError::Empty { op, .. }
            | TensorError::InvalidArgument { op, .. }
            | TensorError::TooLarge { op, .. } => op,
        }
    }

    /// The same error under the name of the op the user called (a composite op reports its
    /// failure as its own, not as the op it delegates to).
    pub fn renamed(mut self, name: &'static str) -> Self {
        match &mut self {
            TensorError::ShapeMismatch { op, .. }
            | TensorError::InvalidAxis { op, .. }
            | TensorError::OutOfRange { op, .. }
            | TensorError::DataLength { op, .. }
            | TensorError::Empty { op, .. }
            | TensorError::InvalidArgument { op, .. }
            | TensorError::TooLarge { op, .. } => *op = name,
        }
        self
    }

    pub(crate) fn shape(
        op: &'static str,
        lhs: &[usize],
        rhs: &[usize],
        why: impl Into<String>,
    ) -> Self {
        TensorError::ShapeMismatch {
            op,
            lhs: lhs.to_vec(),
            rhs: rhs.to_vec(),
            why: why.into(),
        }
    }

    pub(crate) fn arg(op: &'static str, what: impl Into<String>) -> Self {
        TensorError::InvalidArgument {
            op,
            what: what.into(),
        }
    }

    pub(crate) fn range(op: &'static str, what: impl Into<String>) -> Self {
        TensorError::OutOfRange {
            op,
            what: what.into(),
        }
    }
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorError::ShapeMismatch { op, lhs, rhs, why } => {
                write!(f, "{op}: cannot combine {lhs:?} with {rhs:?}: {why}")
            }
            TensorError::InvalidAxis { op, axis, rank } => write!(
                f,
                "{op}: axis {axis} is out of range for a tensor of rank {rank} (valid: {}..{rank})",
                -(*rank as isize)
            ),
            TensorError::OutOfRange { op, what } => write!(f, "{op}: out of range: {what}"),
            TensorError::DataLength { op, expected, got } => write!(
                f,
                "{op}: data length {got} does not match the shape, which needs {expected} elements"
            ),
            TensorError::Empty { op, shape } => {
                write!(
                    f,
                    "{op}: needs at least one element, but the input has shape {shape:?}"
                )
            }
            TensorError::InvalidArgument { op, what } => {
                write!(f, "{op}: invalid argument: {what}")
            }
            TensorError::TooLarge {
                op,
                shape,
                elem_bytes,
            } => write!(
                f,
                "{op}: shape {shape:?} is too large: at {elem_bytes} bytes per element it exceeds \
                 isize::MAX bytes (empty axes count as size 1)"
            ),
        }
    }
}

impl std::error::Error for TensorError {}

/// Unwraps a tensor result; a failure panics with the error's message at the caller's line.
#[track_caller]
pub fn or_panic<T>(result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{err}"),
    }
}
