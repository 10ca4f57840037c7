//! The `Module` trait: a forward pass plus named parameters.

use crate::error::Result;
use tapegrad_autograd::{Param, Var};
use tapegrad_tensor::Float;

/// Whether a forward pass trains (dropout active, batch statistics used and tracked) or evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Training: dropout draws masks from the tape's generator, BatchNorm uses batch statistics.
    Train,
    /// Evaluation: dropout is the identity, BatchNorm uses its running statistics.
    Eval,
}

/// A parameter with its dotted path in the model (`0.weight`, `encoder.1.bias`).
pub type Named<T> = (String, Param<T>);

/// A layer or a model: anything with a forward pass and parameters.
///
/// A user model is a plain struct holding layers:
///
/// ```
/// use tapegrad_nn::{Init, Linear, Mode, Module, Named};
/// use tapegrad_autograd::{Tape, Var};
/// use tapegrad_tensor::Tensor;
/// use rand::{rngs::StdRng, SeedableRng};
///
/// struct TwoLayer { hidden: Linear<f32>, out: Linear<f32> }
///
/// impl Module<f32> for TwoLayer {
///     fn forward(&self, x: &Var<f32>, mode: Mode) -> Var<f32> {
///         self.out.forward(&self.hidden.forward(x, mode).relu(), mode)
///     }
///     fn parameters(&self) -> Vec<Named<f32>> {
///         tapegrad_nn::prefixed("hidden", &self.hidden).into_iter()
///             .chain(tapegrad_nn::prefixed("out", &self.out)).collect()
///     }
/// }
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = TwoLayer { hidden: Linear::new(4, 8, Init::He, &mut rng), out: Linear::new(8, 2, Init::Xavier, &mut rng) };
/// let tape = Tape::new();
/// let y = model.forward(&tape.input(Tensor::ones(&[3, 4])), Mode::Eval);
/// assert_eq!(y.shape(), &[3, 2]);
/// assert_eq!(model.num_parameters(), 4 * 8 + 8 + 8 * 2 + 2);
/// assert_eq!(model.parameters()[0].0, "hidden.weight");
/// ```
pub trait Module<T: Float> {
    /// The forward pass, recorded on `x`'s tape.
    ///
    /// The built-in layers panic where [`Module::try_forward`] returns an error, with its message,
    /// reported at the caller's line: `#[track_caller]` here passes the location through every
    /// implementation, containers and `dyn Module` included, so a shape error inside a layer
    /// points at the user's `model.forward(..)`, not at the layer's source.
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T>;

    /// Fallible [`Module::forward`]: an input the layer cannot take is an error naming the layer,
    /// what it expected and the shape it got, and changes nothing (no running statistic).
    ///
    /// The default calls `forward`, so a module that implements only `forward` keeps its own
    /// behaviour; the built-in layers implement this and make `forward` its panicking form.
    ///
    /// # Errors
    /// [`NnError::Input`](crate::NnError::Input) for an input of the wrong rank, feature count
    /// or batch size; the error of the op that failed otherwise.
    fn try_forward(&self, x: &Var<T>, mode: Mode) -> Result<Var<T>> {
        Ok(self.forward(x, mode))
    }

    /// Trainable parameters with stable dotted names, in a fixed order.
    fn parameters(&self) -> Vec<Named<T>>;

    /// Non-trainable state saved with the weights (BatchNorm running statistics).
    fn buffers(&self) -> Vec<Named<T>> {
        Vec::new()
    }

    /// Number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|(_, p)| p.numel()).sum()
    }
}

/// `module`'s parameters with `prefix.` in front of each name: how containers build dotted paths.
pub fn prefixed<T: Float>(prefix: &str, module: &dyn Module<T>) -> Vec<Named<T>> {
    module
        .parameters()
        .into_iter()
        .map(|(name, p)| (format!("{prefix}.{name}"), p))
        .collect()
}

/// `module`'s buffers with `prefix.` in front of each name.
pub fn prefixed_buffers<T: Float>(prefix: &str, module: &dyn Module<T>) -> Vec<Named<T>> {
    module
        .buffers()
        .into_iter()
        .map(|(name, p)| (format!("{prefix}.{name}"), p))
        .collect()
}
