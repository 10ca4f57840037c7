//! What convolution and pooling share: sizes given once or per spatial axis, and the length of a
//! sliding window's output along one axis.

use crate::error::{Result, TensorError};

/// A size for both spatial axes at once (`3`) or per axis (`(3, 1)`, `[3, 1]`: height, width),
/// as PyTorch's int-or-tuple arguments.
///
/// ```
/// # use tapegrad_tensor::window::Size2;
/// assert_eq!(Size2::from(3), Size2([3, 3]));
/// assert_eq!(Size2::from((3, 1)), Size2([3, 1]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Size2(pub [usize; 2]);

impl From<usize> for Size2 {
    fn from(n: usize) -> Self {
        Size2([n, n])
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2([h, w])
    }
}

impl From<[usize; 2]> for Size2 {
    fn from(hw: [usize; 2]) -> Self {
        Size2(hw)
    }
}

/// One spatial axis of a sliding window: the kernel's extent and how it moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Kernel size along the axis (taps).
    pub kernel: usize,
    /// Step between window positions.
    pub stride: usize,
    /// Implicit padding before and after the input.
    pub padding: usize,
    /// Step between a window's taps.
    pub dilation: usize,
}

impl Window {
    /// The span a window covers in the padded input: `dilation·(kernel − 1) + 1`.
    pub fn span(&self) -> Option<usize> {
        self.dilation
            .checked_mul(self.kernel.checked_sub(1)?)?
            .checked_add(1)
    }

    /// Output positions along an axis of `input` elements:
    /// `⌊(input + 2·padding − span) / stride⌋ + 1`, as PyTorch (no ceil mode).
    ///
    /// ```
    /// # use tapegrad_tensor::window::Window;
    /// let w = Window { kernel: 3, stride: 2, padding: 1, dilation: 1 };
    /// assert_eq!(w.output_len("conv2d", 28).unwrap(), 14);
    /// assert!(w.output_len("conv2d", 0).is_err()); // 2 padded elements, a window spans 3
    /// ```
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `op` if the kernel, stride or dilation is 0, or the
    /// window does not fit in the padded input even once (or the sizes overflow).
    pub fn output_len(&self, op: &'static str, input: usize) -> Result<usize> {
        let Window {
            kernel,
            stride,
            padding,
            dilation,
        } = *self;
        if kernel == 0 || stride == 0 || dilation == 0 {
            return Err(TensorError::InvalidArgument {
                op,
                what: format!(
                    "kernel size {kernel}, stride {stride} and dilation {dilation} must all be at least 1"
                ),
            });
        }
        let padded = padding.checked_mul(2).and_then(|p| p.checked_add(input));
        let span = self.span();
        match (padded, span) {
            (Some(padded), Some(span)) if span <= padded => Ok((padded - span) / stride + 1),
            _ => Err(TensorError::InvalidArgument {
                op,
                what: format!(
                    "a window of {kernel} taps with dilation {dilation} does not fit in an input of {input} with padding {padding} on each side"
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_len_follows_pytorch() {
        let w = |kernel, stride, padding, dilation| Window {
            kernel,
            stride,
            padding,
            dilation,
        };
        // (input, window, PyTorch's output length)
        let cases = [
            (28, w(3, 1, 1, 1), 28),
            (28, w(2, 2, 0, 1), 14),
            (7, w(3, 2, 0, 1), 3),
            (7, w(3, 1, 0, 2), 3),
            (5, w(5, 1, 0, 1), 1),
            (1, w(3, 1, 1, 1), 1),
            (10, w(3, 3, 2, 2), 4),
        ];
        for (input, window, want) in cases {
            assert_eq!(window.output_len("t", input).unwrap(), want, "{window:?}");
        }
        assert!(w(0, 1, 0, 1).output_len("t", 4).is_err());
        assert!(w(2, 0, 0, 1).output_len("t", 4).is_err());
        assert!(w(5, 1, 0, 1).output_len("t", 4).is_err());
        assert!(w(2, 1, usize::MAX, 1).output_len("t", 4).is_err());
        assert!(w(usize::MAX, 1, 0, 3).output_len("t", 4).is_err());
    }
}
