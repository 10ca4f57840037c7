//! Errors of the autograd layer; tensor errors pass through inside [`AutogradError::Tensor`].

use std::fmt;
use tapegrad_tensor::TensorError;

/// Result of a fallible autograd call.
pub type Result<T> = std::result::Result<T, AutogradError>;

/// What went wrong while recording or differentiating.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AutogradError {
    /// A tensor op failed in a forward pass.
    Tensor(TensorError),
    /// A backward rule returned a gradient that cannot be reduced to its input's shape.
    Backward {
        /// The op whose backward failed.
        op: &'static str,
        /// The underlying tensor error.
        source: TensorError,
    },
    /// `backward()` was called on a non-scalar; use `backward_with` and an upstream gradient.
    NonScalarRoot {
        /// Shape of the value `backward` was called on.
        shape: Vec<usize>,
    },
    /// The upstream gradient's shape differs from the root's.
    UpstreamShape {
        /// Shape of the root.
        root: Vec<usize>,
        /// Shape of the given gradient.
        grad: Vec<usize>,
    },
    /// Vars from different tapes were combined.
    TapeMismatch {
        /// The op that combined them.
        op: &'static str,
    },
    /// A backward pass reached an op whose rule an earlier pass already consumed.
    GraphFreed {
        /// The op whose rule was freed.
        op: &'static str,
    },
    /// A backward rule returned another number of gradients than the op has inputs.
    GradientCount {
        /// The op.
        op: &'static str,
        /// How many inputs it recorded.
        inputs: usize,
        /// How many gradients its rule returned.
        returned: usize,
    },
    /// A backward rule returned `None` for an input that needs a gradient.
    MissingGradient {
        /// The op.
        op: &'static str,
        /// The input's position.
        input: usize,
    },
    /// Anomaly detection found a NaN or infinity.
    Anomaly {
        /// The op whose forward output or backward gradient was not finite.
        op: &'static str,
        /// `"forward output"` or `"gradient of input k"`.
        during: String,
        /// Shapes of the op's inputs.
        input_shapes: Vec<Vec<usize>>,
    },
}

impl fmt::Display for AutogradError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutogradError::Tensor(e) => write!(f, "{e}"),
            AutogradError::Backward { op, source } => write!(f, "backward of {op}: {source}"),
            AutogradError::NonScalarRoot { shape } => write!(
                f,
                "backward: the root has shape {shape:?}, not a single element; use backward_with(upstream gradient)"
            ),
            AutogradError::UpstreamShape { root, grad } => {
                write!(
                    f,
                    "backward_with: the upstream gradient has shape {grad:?} but the root has shape {root:?}"
                )
            }
            AutogradError::TapeMismatch { op } => {
                write!(f, "{op}: the operands were recorded on different tapes")
            }
            AutogradError::GraphFreed { op } => write!(
                f,
                "backward: the graph through {op} was already freed by an earlier backward; call tape.set_retain_graph(true) before the first one to walk it twice"
            ),
            AutogradError::GradientCount {
                op,
                inputs,
                returned,
            } => write!(
                f,
                "backward of {op}: the rule returned {returned} gradients for {inputs} inputs; it must return one entry per input"
            ),
            AutogradError::MissingGradient { op, input } => write!(
                f,
                "backward of {op}: the rule returned None for input {input}, which needs a gradient (needs[{input}] is true)"
            ),
            AutogradError::Anomaly {
                op,
                during,
                input_shapes,
            } => write!(
                f,
                "anomaly: {op} produced a NaN or infinity in its {during} (input shapes {input_shapes:?})"
            ),
        }
    }
}

impl std::error::Error for AutogradError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AutogradError::Tensor(e) | AutogradError::Backward { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

impl From<TensorError> for AutogradError {
    fn from(e: TensorError) -> Self {
        AutogradError::Tensor(e)
    }
}

/// Unwraps an autograd result; a failure panics with its message at the caller's line.
#[track_caller]
pub fn or_panic<T>(result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{err}"),
    }
}
