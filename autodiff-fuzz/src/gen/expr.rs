//! Expressions as a small tree, printed with the fewest parentheses Rust
//! needs (so rustc's `unused_parens` never fires on generated code).

/// Binding strength, loosest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prec {
    /// `a < b`.
    Cmp,
    /// `a + b`, `a - b`.
    Add,
    /// `a * b`, `a / b`.
    Mul,
    /// `n as f64`.
    Cast,
    /// `-a`, `*a`.
    Unary,
    /// Names, literals, calls, method calls, indexing.
    Atom,
}

/// An expression.
#[derive(Clone, Debug)]
pub enum E {
    /// Text that binds as tightly as `prec`.
    Raw(String, Prec),
    /// `a op b`.
    Bin(Box<E>, &'static str, Box<E>),
    /// `-a`.
    Neg(Box<E>),
    /// `recv.name(args)`.
    Method(Box<E>, String, Vec<E>),
    /// `path(args)`.
    Call(String, Vec<E>),
}

impl E {
    /// A name or literal.
    pub fn atom(s: impl Into<String>) -> E {
        E::Raw(s.into(), Prec::Atom)
    }

    /// `a op b`.
    pub fn bin(a: E, op: &'static str, b: E) -> E {
        E::Bin(Box::new(a), op, Box::new(b))
    }

    /// `recv.name(args)`.
    pub fn method(recv: E, name: &str, args: Vec<E>) -> E {
        E::Method(Box::new(recv), name.to_string(), args)
    }

    /// `-a`.
    pub fn neg(a: E) -> E {
        E::Neg(Box::new(a))
    }

    fn prec(&self) -> Prec {
        match self {
            E::Raw(_, p) => *p,
            E::Bin(_, op, _) => match *op {
                "+" | "-" => Prec::Add,
                "*" | "/" => Prec::Mul,
                _ => Prec::Cmp,
            },
            E::Neg(_) => Prec::Unary,
            E::Method(..) | E::Call(..) => Prec::Atom,
        }
    }

    /// The expression as Rust, in a position that needs no parentheses.
    pub fn show(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    fn wrapped(&self, need: bool, out: &mut String) {
        if need {
            out.push('(');
            self.write(out);
            out.push(')');
        } else {
            self.write(out);
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            E::Raw(s, _) => out.push_str(s),
            E::Bin(a, op, b) => {
                let p = self.prec();
                // Comparisons: a cast on the left would read as generics.
                // A cast operand always gets parentheses: `a - n as f64 < b`
                // would read `f64 <` as generics.
                let left = a.prec() < p || a.prec() == Prec::Cast;
                let right = b.prec() <= p || b.prec() == Prec::Cast;
                a.wrapped(left, out);
                out.push(' ');
                out.push_str(op);
                out.push(' ');
                b.wrapped(right, out);
            }
            E::Neg(a) => {
                out.push('-');
                a.wrapped(a.prec() < Prec::Unary, out);
            }
            E::Method(r, name, args) => {
                r.wrapped(r.prec() < Prec::Atom, out);
                out.push('.');
                out.push_str(name);
                out.push('(');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    a.write(out);
                }
                out.push(')');
            }
            E::Call(path, args) => {
                out.push_str(path);
                out.push('(');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    a.write(out);
                }
                out.push(')');
            }
        }
    }

    /// Whether the expression is a bare literal (never a method receiver).
    pub fn is_literal(&self) -> bool {
        matches!(self, E::Raw(s, Prec::Atom) if s.starts_with(|c: char| c.is_ascii_digit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parentheses_only_where_needed() {
        let a = E::atom("a");
        let b = E::atom("b");
        let sum = E::bin(a.clone(), "+", b.clone());
        assert_eq!(E::bin(sum.clone(), "*", a.clone()).show(), "(a + b) * a");
        assert_eq!(E::bin(a.clone(), "-", sum.clone()).show(), "a - (a + b)");
        assert_eq!(E::bin(sum.clone(), "-", a.clone()).show(), "a + b - a");
        assert_eq!(
            E::method(sum.clone(), "sin", vec![]).show(),
            "(a + b).sin()"
        );
        assert_eq!(
            E::method(a.clone(), "max", vec![sum.clone()]).show(),
            "a.max(a + b)"
        );
        assert_eq!(E::neg(sum).show(), "-(a + b)");
        let cast = E::Raw("n as f64".into(), Prec::Cast);
        assert_eq!(E::bin(cast.clone(), "<", b).show(), "(n as f64) < b");
        assert_eq!(E::bin(cast, "*", a).show(), "(n as f64) * a");
    }
}
