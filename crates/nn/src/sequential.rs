//! `Sequential`: layers applied in order.

use crate::error::{Result, or_panic};
use crate::module::{Forward, Mode, Module};
use crate::summary::observed;
use std::fmt;
use tapegrad_autograd::Var;
use tapegrad_tensor::Float;

/// Layers applied one after another; parameters are named by position (`0.weight`, `2.bias`).
///
/// An empty `Sequential` is the identity (as PyTorch's `nn.Sequential()`). A layer that refuses
/// its input stops the pass with that layer's error. Cloning copies every layer's weights;
/// `{:#?}` prints the layers.
///
/// ```
/// # use tapegrad_nn::{Forward, Init, Linear, Mode, Module, Relu, Sequential};
/// # use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = Sequential::<f32>::new()
///     .push(Linear::new(4, 8, Init::He, &mut rng))
///     .push(Relu)
///     .push(Linear::new(8, 2, Init::Xavier, &mut rng));
/// let names: Vec<_> = model.parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// assert_eq!(format!("{model:?}"), "Sequential(Linear { in_features: 4, out_features: 8, bias: true }, \
///     Relu, Linear { in_features: 8, out_features: 2, bias: true })");
/// ```
pub struct Sequential<T: Float> {
    layers: Vec<Box<dyn Layer<T>>>,
}

/// A layer as `Sequential` holds it: its forward pass, plus cloning and printing through a box.
trait Layer<T: Float>: Forward<T> + fmt::Debug {
    fn clone_box(&self) -> Box<dyn Layer<T>>;
    fn as_module(&self) -> &dyn Module<T>;
}

impl<T: Float, L: Forward<T> + Clone + fmt::Debug + 'static> Layer<T> for L {
    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
    fn as_module(&self) -> &dyn Module<T> {
        self
    }
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Clone for Sequential<T> {
    fn clone(&self) -> Self {
        Sequential {
            layers: self.layers.iter().map(|l| l.clone_box()).collect(),
        }
    }
}

impl<T: Float> fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut tuple = f.debug_tuple("Sequential");
        for layer in &self.layers {
            tuple.field(layer);
        }
        tuple.finish()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty stack (the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer: any one-input [`Forward`] module that can be cloned and printed
    /// (`#[derive(Module, Debug, Clone)]` on a struct of layers gives all three).
    #[allow(clippy::should_implement_trait)]
    pub fn push(mut self, layer: impl Forward<T> + Clone + fmt::Debug + 'static) -> Self {
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

    /// The layer at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&dyn Forward<T>> {
        self.layers
            .get(index)
            .map(|l| l.as_ref() as &dyn Forward<T>)
    }
}

impl<T: Float> Forward<T> for Sequential<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    fn try_forward(&self, x: &Var<T>, mode: Mode) -> Result<Var<T>> {
        self.layers.iter().try_fold(x.clone(), |h, layer| {
            observed(layer.as_module(), layer.try_forward(&h, mode))
        })
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn children(&self) -> Vec<(String, &dyn Module<T>)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.as_module()))
            .collect()
    }
}
