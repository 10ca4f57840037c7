//! The two model traits: [`Module`] (parameters, buffers, children: what saving, loading,
//! optimizers and gradient checks need) and [`Forward`] (one input to one output: what
//! `Sequential` stacks).

use crate::error::Result;
use std::marker::PhantomData;
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

/// Anything that holds state: named parameters, named buffers and named child modules.
///
/// This is what [`save_module`](crate::save_module), [`load_module`](crate::load_module),
/// optimizers and `gradcheck_params` take, whatever the model's forward pass looks like: a model
/// with two inputs, or one returning two outputs, is a `Module` all the same. Layers with one
/// input and one output also implement [`Forward`].
///
/// Derive it: `#[derive(Module)]` names each field's parameters and buffers after the field
/// (`encoder.0.weight`), so nothing is ever listed by hand and nothing can be forgotten.
///
/// ```
/// use tapegrad_nn::{BatchNorm1d, Forward, Init, Linear, Mode, Module};
/// # use tapegrad_autograd::{Tape, Var};
/// # use tapegrad_tensor::Tensor;
/// # use rand::{rngs::StdRng, SeedableRng};
///
/// #[derive(Module, Debug, Clone)]
/// struct TwoTower {
///     left: Linear<f32>,
///     right: Linear<f32>,
///     norm: BatchNorm1d<f32>,
///     #[module(skip)]
///     label: &'static str,
/// }
///
/// impl TwoTower {
///     // Any signature: two inputs here.
///     fn forward(&self, a: &Var<f32>, b: &Var<f32>, mode: Mode) -> Var<f32> {
///         let h = self.left.forward(a, mode).add(&self.right.forward(b, mode));
///         self.norm.forward(&h, mode).relu()
///     }
/// }
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = TwoTower {
///     left: Linear::new(3, 4, Init::He, &mut rng),
///     right: Linear::new(2, 4, Init::He, &mut rng),
///     norm: BatchNorm1d::new(4),
///     label: "demo",
/// };
/// let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["left.weight", "left.bias", "right.weight", "right.bias", "norm.weight", "norm.bias"]);
/// let buffers: Vec<String> = model.buffers().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(buffers, ["norm.running_mean", "norm.running_var"]);
///
/// let tape = Tape::new();
/// let y = model.forward(&tape.input(Tensor::ones(&[5, 3])), &tape.input(Tensor::ones(&[5, 2])), Mode::Train);
/// assert_eq!(y.shape(), &[5, 4]);
/// ```
///
/// Field rules: every field is a module (a layer, a `Sequential`, another derived model, a
/// [`Param`], a `Vec`, `Option`, `Box` or array of modules, or a number, `bool`, `String` or
/// `PhantomData`, which hold no state); `#[module(skip)]` leaves any other field out, and
/// `#[module(buffer)]` saves a field's parameters as buffers, which no optimizer updates. A
/// field that is none of these is a compile error naming the field's type. The generated code
/// names `::tapegrad::nn` (`::tapegrad_nn` in tapegrad's own sub-crates); a crate that renames
/// the dependency writes `#[module(crate = "path::to::nn")]` on the struct.
///
/// `#[derive(Clone)]` beside it copies the model: every built-in layer's `Clone` copies its
/// weights (PyTorch's `copy.deepcopy`), so the clone trains independently. A bare [`Param`] is a
/// handle and clones as one (as `Arc` does); a struct owning one implements `Clone` by hand with
/// [`Param::duplicate`].
///
/// Implementing it by hand: list [`Module::children`] and the parameters and buffers follow, or
/// override [`Module::parameters`] and [`Module::buffers`] for a leaf that owns them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tapegrad `Module<{T}>`",
    label = "not a module",
    note = "a field of a `#[derive(Module)]` struct must be a layer, a model, a `Param`, or a plain value; mark any other field `#[module(skip)]`"
)]
pub trait Module<T: Float> {
    /// Trainable parameters with stable dotted names, in a fixed order (the children's, in
    /// order, unless overridden).
    fn parameters(&self) -> Vec<Named<T>> {
        self.children()
            .into_iter()
            .flat_map(|(name, child)| prefix(&name, child.parameters()))
            .collect()
    }

    /// Non-trainable state saved with the weights (BatchNorm running statistics).
    fn buffers(&self) -> Vec<Named<T>> {
        self.children()
            .into_iter()
            .flat_map(|(name, child)| prefix(&name, child.buffers()))
            .collect()
    }

    /// The modules this one is made of, with their names; a leaf layer has none.
    fn children(&self) -> Vec<(String, &dyn Module<T>)> {
        Vec::new()
    }

    /// Number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|(_, p)| p.numel()).sum()
    }

    /// The type's short name (`Linear`, `Sequential`, a struct's own name), as summaries show it.
    fn type_name(&self) -> String {
        short_type_name(std::any::type_name::<Self>())
    }

    /// Where the module lives, for matching a summary's traced outputs to its rows; a wrapper
    /// (`Box`, `Option`) answers with its content's.
    #[doc(hidden)]
    fn address(&self) -> usize {
        self as *const Self as *const u8 as usize
    }

    /// Whether this is a plain value (a size, a rate) rather than a layer; summaries leave
    /// such fields out.
    #[doc(hidden)]
    fn is_plain_value(&self) -> bool {
        false
    }
}

/// A module with one input and one output, the form [`Sequential`](crate::Sequential) stacks.
///
/// ```
/// use tapegrad_nn::{Forward, Init, Linear, Mode, Module};
/// # use tapegrad_autograd::{Tape, Var};
/// # use tapegrad_tensor::Tensor;
/// # use rand::{rngs::StdRng, SeedableRng};
///
/// #[derive(Module, Debug, Clone)]
/// struct Mlp { hidden: Linear<f32>, out: Linear<f32> }
///
/// impl Forward<f32> for Mlp {
///     fn forward(&self, x: &Var<f32>, mode: Mode) -> Var<f32> {
///         self.out.forward(&self.hidden.forward(x, mode).relu(), mode)
///     }
/// }
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = Mlp { hidden: Linear::new(4, 8, Init::He, &mut rng), out: Linear::new(8, 2, Init::Xavier, &mut rng) };
/// let y = model.forward(&Tape::new().input(Tensor::ones(&[3, 4])), Mode::Eval);
/// assert_eq!(y.shape(), &[3, 2]);
/// assert_eq!(model.num_parameters(), 4 * 8 + 8 + 8 * 2 + 2);
/// assert_eq!(model.parameters()[0].0, "hidden.weight");
/// ```
pub trait Forward<T: Float>: Module<T> {
    /// The forward pass, recorded on `x`'s tape.
    ///
    /// The built-in layers panic where [`Forward::try_forward`] returns an error, with its
    /// message, reported at the caller's line: `#[track_caller]` here passes the location through
    /// every implementation, containers and `dyn Forward` included, so a shape error inside a
    /// layer points at the user's `model.forward(..)`, not at the layer's source.
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T>;

    /// Fallible [`Forward::forward`]: an input the layer cannot take is an error naming the
    /// layer, what it expected and the shape it got, and changes nothing (no running statistic).
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
}

/// `names` with `prefix.` in front of each; an empty name (a bare [`Param`] field) becomes
/// `prefix` itself.
pub fn prefix<T>(prefix: &str, named: Vec<(String, T)>) -> Vec<(String, T)> {
    named
        .into_iter()
        .map(|(name, p)| {
            let full = if name.is_empty() {
                prefix.to_string()
            } else if prefix.is_empty() {
                name
            } else {
                format!("{prefix}.{name}")
            };
            (full, p)
        })
        .collect()
}

/// `std::any::type_name`'s `a::b::Linear<f32>` as `Linear`.
fn short_type_name(full: &str) -> String {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

/// `module`'s parameters with `prefix.` in front of each name: how containers build dotted paths.
pub fn prefixed<T: Float>(prefix_: &str, module: &(impl Module<T> + ?Sized)) -> Vec<Named<T>> {
    prefix(prefix_, module.parameters())
}

/// `module`'s buffers with `prefix.` in front of each name.
pub fn prefixed_buffers<T: Float>(
    prefix_: &str,
    module: &(impl Module<T> + ?Sized),
) -> Vec<Named<T>> {
    prefix(prefix_, module.buffers())
}

/// What `#[derive(Module)]` expands to; not part of the API.
#[doc(hidden)]
pub mod __derive {
    pub use super::prefix;
    pub use tapegrad_tensor::Float;
}

/// A bare parameter is a module holding itself under its field's name.
impl<T: Float> Module<T> for Param<T> {
    fn parameters(&self) -> Vec<Named<T>> {
        vec![(String::new(), self.clone())]
    }
}

impl<T: Float, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn parameters(&self) -> Vec<Named<T>> {
        (**self).parameters()
    }
    fn buffers(&self) -> Vec<Named<T>> {
        (**self).buffers()
    }
    fn children(&self) -> Vec<(String, &dyn Module<T>)> {
        (**self).children()
    }
    fn type_name(&self) -> String {
        (**self).type_name()
    }
    fn address(&self) -> usize {
        (**self).address()
    }
}

impl<T: Float, M: Forward<T> + ?Sized> Forward<T> for Box<M> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        (**self).forward(x, mode)
    }
    fn try_forward(&self, x: &Var<T>, mode: Mode) -> Result<Var<T>> {
        (**self).try_forward(x, mode)
    }
}

/// Absent, it holds nothing; present, it is its content under the same name.
impl<T: Float, M: Module<T>> Module<T> for Option<M> {
    fn parameters(&self) -> Vec<Named<T>> {
        self.as_ref().map(M::parameters).unwrap_or_default()
    }
    fn buffers(&self) -> Vec<Named<T>> {
        self.as_ref().map(M::buffers).unwrap_or_default()
    }
    fn children(&self) -> Vec<(String, &dyn Module<T>)> {
        self.as_ref().map(M::children).unwrap_or_default()
    }
    fn type_name(&self) -> String {
        self.as_ref()
            .map_or_else(|| "None".to_string(), M::type_name)
    }
    fn address(&self) -> usize {
        self.as_ref()
            .map_or(self as *const Self as *const u8 as usize, M::address)
    }
}

/// Elements named by position (`blocks.0.weight`), as PyTorch's `ModuleList`.
impl<T: Float, M: Module<T>> Module<T> for Vec<M> {
    fn children(&self) -> Vec<(String, &dyn Module<T>)> {
        self.iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m as &dyn Module<T>))
            .collect()
    }
}

impl<T: Float, M: Module<T>, const N: usize> Module<T> for [M; N] {
    fn children(&self) -> Vec<(String, &dyn Module<T>)> {
        self.iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m as &dyn Module<T>))
            .collect()
    }
}

/// Plain values (sizes, rates, flags, names) hold no state, so a model's configuration fields
/// need no attribute.
macro_rules! stateless {
    ($($ty:ty),*) => {$(
        impl<T: Float> Module<T> for $ty {
            fn is_plain_value(&self) -> bool {
                true
            }
        }
    )*};
}
stateless!(
    bool, u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64, String, Mode
);

impl<T: Float, U: ?Sized> Module<T> for PhantomData<U> {
    fn is_plain_value(&self) -> bool {
        true
    }
}
