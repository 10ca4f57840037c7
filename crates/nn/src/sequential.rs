//! `Sequential`: layers applied in order.

use crate::error::{or_panic, Result};
use crate::module::{prefixed, prefixed_buffers, Mode, Module, Named};
use tapegrad_autograd::Var;
use tapegrad_tensor::Float;

/// Layers applied one after another; parameters are named by position (`0.weight`, `2.bias`).
///
/// An empty `Sequential` is the identity (as PyTorch's `nn.Sequential()`). A layer that refuses
/// its input stops the pass with that layer's error.
///
/// ```
/// # use tapegrad_nn::{Init, Linear, Mode, Module, Relu, Sequential};
/// # use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = Sequential::<f32>::new()
///     .push(Linear::new(4, 8, Init::He, &mut rng))
///     .push(Relu)
///     .push(Linear::new(8, 2, Init::Xavier, &mut rng));
/// let names: Vec<_> = model.parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// ```
pub struct Sequential<T: Float> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty stack (the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer.
    #[allow(clippy::should_implement_trait)]
    pub fn push(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    fn try_forward(&self, x: &Var<T>, mode: Mode) -> Result<Var<T>> {
        self.layers
            .iter()
            .try_fold(x.clone(), |h, layer| layer.try_forward(&h, mode))
    }

    fn parameters(&self) -> Vec<Named<T>> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| prefixed(&i.to_string(), l.as_ref()))
            .collect()
    }

    fn buffers(&self) -> Vec<Named<T>> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| prefixed_buffers(&i.to_string(), l.as_ref()))
            .collect()
    }
}
