//! [`Pretty`]: the symbolic derivatives of a function, as `f_pp()` returns
//! them (Theano's `pp`).

use std::fmt;

/// One derivative: of `output` with respect to `wrt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrettyEntry {
    /// The output: the function's name, or `name.k` for tuple element `k`.
    pub output: &'static str,
    /// The parameter.
    pub wrt: &'static str,
    /// The derivative as the transforms build it, before simplification.
    pub raw: &'static str,
    /// The derivative after simplification: the code that runs.
    pub simplified: &'static str,
}

/// The symbolic derivatives of a function, raw and simplified; print it
/// with `{}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pretty {
    function: &'static str,
    entries: &'static [PrettyEntry],
}

impl Pretty {
    /// Not public API: `f_pp` builds its `Pretty` with it.
    #[doc(hidden)]
    pub const fn new(function: &'static str, entries: &'static [PrettyEntry]) -> Self {
        Pretty { function, entries }
    }

    /// The function's name.
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// Every derivative, outputs in order, then parameters in order.
    pub fn entries(&self) -> &'static [PrettyEntry] {
        self.entries
    }

    /// The entry for `output` (the function name, or `name.k`) and `wrt`.
    pub fn get(&self, output: &str, wrt: &str) -> Option<&'static PrettyEntry> {
        self.entries
            .iter()
            .find(|e| e.output == output && e.wrt == wrt)
    }

    /// The simplified derivative of the first output with respect to `wrt`.
    pub fn simplified(&self, wrt: &str) -> Option<&'static str> {
        self.entries
            .iter()
            .find(|e| e.wrt == wrt)
            .map(|e| e.simplified)
    }

    /// The raw derivative of the first output with respect to `wrt`.
    pub fn raw(&self, wrt: &str) -> Option<&'static str> {
        self.entries.iter().find(|e| e.wrt == wrt).map(|e| e.raw)
    }
}

impl fmt::Display for Pretty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "d {} / d {}", e.output, e.wrt)?;
            writeln!(f, "  raw:        {}", e.raw)?;
            write!(f, "  simplified: {}", e.simplified)?;
        }
        Ok(())
    }
}
