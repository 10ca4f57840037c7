//! `Embedding`: a table of learned vectors, looked up by id.

use crate::error::{NnError, Result, or_panic};
use crate::module::{Forward, Mode, Module, Named};
use crate::summary::observed;
use rand::Rng;
use tapegrad_autograd::{Param, Tape, Var};
use tapegrad_tensor::{Float, Tensor};

/// A lookup table of `num_embeddings` vectors of `embedding_dim` values: id `i` maps to row `i`
/// of the weight `[num_embeddings, embedding_dim]` (PyTorch: `nn.Embedding`).
///
/// Ids of shape `S` give an output of shape `S + [embedding_dim]`. The lookup is an
/// `index_select` on the weight, whose gradient adds `g` into each id's row, so an id used
/// twice receives both gradients. An id outside the table is an error naming it and the table's
/// size. With [`Embedding::with_padding_idx`] one row is looked up like any other but receives
/// no gradient.
///
/// [`Embedding::lookup`] takes the ids as `usize`s; the [`Forward`] impl, for use in a
/// `Sequential`, takes them as a float tensor of exact non-negative integers.
///
/// ```
/// # use tapegrad_nn::{Embedding, Forward, Mode};
/// # use tapegrad_autograd::Tape;
/// # use tapegrad_tensor::Tensor;
/// # use rand::{rngs::StdRng, SeedableRng};
/// let table = Embedding::<f32>::new(10, 3, &mut StdRng::seed_from_u64(0));
/// let tape = Tape::new();
/// let y = table.lookup(&tape, &[4, 1, 4, 9, 0, 2], &[2, 3]); // a batch of 2 sequences of 3
/// assert_eq!(y.shape(), &[2, 3, 3]);
/// let first = y.value().narrow(0, 0, 1).narrow(1, 0, 1); // the vector of sequence 0's id 4
/// assert_eq!(first.to_vec(), table.weight().value().narrow(0, 4, 1).to_vec());
/// let same = table.forward(&tape.input(Tensor::from_vec(vec![4.0, 1.0], &[2])), Mode::Eval);
/// assert_eq!(same.shape(), &[2, 3]);
/// assert!(table.try_lookup(&tape, &[10], &[1]).is_err()); // only ids 0..10
/// ```
///
/// Cloning copies the table: the clone trains independently.
pub struct Embedding<T: Float> {
    weight: Param<T>,
    padding_idx: Option<usize>,
}

impl<T: Float> Clone for Embedding<T> {
    fn clone(&self) -> Self {
        Embedding {
            weight: self.weight.duplicate(),
            padding_idx: self.padding_idx,
        }
    }
}

impl<T: Float> std::fmt::Debug for Embedding<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedding")
            .field("num_embeddings", &self.num_embeddings())
            .field("embedding_dim", &self.embedding_dim())
            .field("padding_idx", &self.padding_idx)
            .finish()
    }
}

impl<T: Float> Embedding<T> {
    /// A table of `num_embeddings` vectors of `embedding_dim` values, each drawn from `N(0, 1)`
    /// (PyTorch's initialisation).
    pub fn new(num_embeddings: usize, embedding_dim: usize, rng: &mut impl Rng) -> Self {
        let w = Tensor::rand_normal(&[num_embeddings, embedding_dim], rng);
        Embedding {
            weight: Param::new("weight", w),
            padding_idx: None,
        }
    }

    /// A table with the given weight `[num_embeddings, embedding_dim]` (PyTorch:
    /// `Embedding.from_pretrained`, here trainable).
    ///
    /// # Panics
    /// If the weight is not a matrix; [`Embedding::try_from_tensor`] returns the error.
    #[track_caller]
    pub fn from_tensor(weight: Tensor<T>) -> Self {
        or_panic(Self::try_from_tensor(weight))
    }

    /// Fallible [`Embedding::from_tensor`].
    ///
    /// # Errors
    /// [`NnError::Config`] unless the weight is `[num_embeddings, embedding_dim]`.
    pub fn try_from_tensor(weight: Tensor<T>) -> Result<Self> {
        if weight.shape().len() != 2 {
            return Err(NnError::Config {
                what: "Embedding",
                why: format!(
                    "needs a weight [num_embeddings, embedding_dim], got {:?}",
                    weight.shape()
                ),
            });
        }
        Ok(Embedding {
            weight: Param::new("weight", weight),
            padding_idx: None,
        })
    }

    /// The same table with row `padding_idx` set to zeros and excluded from the gradient
    /// (PyTorch's `padding_idx`): it pads sequences to one length without learning anything.
    ///
    /// # Panics
    /// If `padding_idx` is not a row of the table; [`Embedding::try_with_padding_idx`] returns
    /// the error.
    #[track_caller]
    pub fn with_padding_idx(self, padding_idx: usize) -> Self {
        or_panic(self.try_with_padding_idx(padding_idx))
    }

    /// Fallible [`Embedding::with_padding_idx`].
    ///
    /// # Errors
    /// [`NnError::Config`] if `padding_idx` is not below `num_embeddings`.
    pub fn try_with_padding_idx(mut self, padding_idx: usize) -> Result<Self> {
        let num = self.num_embeddings();
        if padding_idx >= num {
            return Err(NnError::Config {
                what: "Embedding",
                why: format!(
                    "padding_idx {padding_idx} is out of range for a table of {num} embeddings"
                ),
            });
        }
        let dim = self.embedding_dim();
        let mut values = self.weight.value().to_vec();
        values[padding_idx * dim..(padding_idx + 1) * dim].fill(T::ZERO);
        let zeroed = Tensor::from_vec(values, &[num, dim]);
        self.weight.set_value(zeroed);
        self.padding_idx = Some(padding_idx);
        Ok(self)
    }

    /// The weight `[num_embeddings, embedding_dim]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The number of rows (valid ids are `0..num_embeddings`).
    pub fn num_embeddings(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The length of each vector.
    pub fn embedding_dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The row that receives no gradient, if any.
    pub fn padding_idx(&self) -> Option<usize> {
        self.padding_idx
    }

    /// The vectors of `ids`, laid out as `ids_shape + [embedding_dim]`, recorded on `tape`.
    ///
    /// # Panics
    /// If an id is out of range or `ids_shape` does not hold `ids.len()` elements;
    /// [`Embedding::try_lookup`] returns the error.
    #[track_caller]
    pub fn lookup(&self, tape: &Tape<T>, ids: &[usize], ids_shape: &[usize]) -> Var<T> {
        or_panic(self.try_lookup(tape, ids, ids_shape))
    }

    /// Fallible [`Embedding::lookup`].
    ///
    /// # Errors
    /// [`NnError::Input`] naming the first id outside `0..num_embeddings`, its position and the
    /// table's size, or the mismatch of `ids.len()` and `ids_shape`.
    pub fn try_lookup(&self, tape: &Tape<T>, ids: &[usize], ids_shape: &[usize]) -> Result<Var<T>> {
        let count = ids_shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if count != Some(ids.len()) {
            return Err(NnError::Input {
                layer: "Embedding",
                what: format!("ids_shape must hold the {} ids given", ids.len()),
                got: ids_shape.to_vec(),
            });
        }
        let num = self.num_embeddings();
        if let Some(at) = ids.iter().position(|&id| id >= num) {
            return Err(NnError::Input {
                layer: "Embedding",
                what: format!(
                    "id {} at position {:?} is out of range for a table of {num} embeddings",
                    ids[at],
                    position(at, ids_shape)
                ),
                got: ids_shape.to_vec(),
            });
        }
        let weight = tape.param(&self.weight);
        let mut rows = weight.try_index_select(0, ids)?;
        if let Some(pad) = self.padding_idx {
            // The padding row's value, as a constant: where an id is the padding id, the
            // output comes from it, so the index-add of the gradient skips that row.
            let keep: Vec<T> = ids
                .iter()
                .map(|&id| T::from_usize(usize::from(id != pad)))
                .collect();
            let keep = Tensor::from_vec(keep, &[ids.len(), 1]);
            let constant = weight.detach().try_index_select(0, ids)?;
            rows = rows.try_where_(&keep, &constant)?;
        }
        let mut shape = ids_shape.to_vec();
        shape.push(self.embedding_dim());
        observed(self, rows.try_reshape(&shape).map_err(Into::into))
    }
}

/// The multi-index of flat (row-major) position `at` in `shape`.
fn position(mut at: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            index[i] = at % d;
            at /= d;
        }
    }
    index
}

impl<T: Float> Forward<T> for Embedding<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    /// `x` holds the ids as floats, each an exact integer in `0..num_embeddings`; it receives no
    /// gradient (ids are not differentiable).
    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        let num = self.num_embeddings();
        let values = x.value().to_vec();
        let mut ids = Vec::with_capacity(values.len());
        for (at, v) in values.iter().enumerate() {
            let f = v.to_f64();
            if !(f >= 0.0 && f.fract() == 0.0 && f < num as f64) {
                return Err(NnError::Input {
                    layer: "Embedding",
                    what: format!(
                        "id {f} at position {:?} is not an integer id in 0..{num} (a table of \
                         {num} embeddings)",
                        position(at, x.shape())
                    ),
                    got: x.shape().to_vec(),
                });
            }
            ids.push(f as usize);
        }
        self.try_lookup(x.tape(), &ids, x.shape())
    }
}

impl<T: Float> Module<T> for Embedding<T> {
    fn parameters(&self) -> Vec<Named<T>> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}
