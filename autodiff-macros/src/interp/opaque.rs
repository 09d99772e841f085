//! Opaque user expressions the interpreter can evaluate: integer and
//! boolean arithmetic, as lowering keeps index arithmetic.

use super::{Error, Scalar, Val};

/// The value of an opaque expression: integer and boolean arithmetic on
/// literals and its bindings (`refs[k]` is `args[k]`), `.len()` of an
/// array, `a.min(b)` / `a.max(b)` on integers and `as` casts between
/// integers. Integers are `i64` (a `usize` underflow gives a negative
/// value; indexing with it fails).
pub(super) fn opaque_value<T: Scalar>(
    e: &syn::Expr,
    refs: &[syn::Ident],
    args: &[Val<T>],
) -> Result<Val<T>, Error> {
    use quote::ToTokens;
    use syn::{BinOp, Expr, Lit, UnOp};
    let fail = || {
        Error(format!(
            "opaque expression `{}` cannot be interpreted",
            e.to_token_stream()
        ))
    };
    let sub = |e: &Expr| opaque_value(e, refs, args);
    let int = |v: Val<T>| v.int().map_err(|_| fail());
    let checked = |v: Option<i64>| v.map(Val::Int).ok_or_else(fail);
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => i.base10_parse::<i64>().map(Val::Int).map_err(|_| fail()),
            Lit::Bool(b) => Ok(Val::Bool(b.value)),
            _ => Err(fail()),
        },
        Expr::Path(p) => {
            let id = p.path.get_ident().ok_or_else(fail)?;
            let k = refs.iter().position(|r| id == r).ok_or_else(fail)?;
            args.get(k).cloned().ok_or_else(fail)
        }
        Expr::Paren(p) => sub(&p.expr),
        Expr::Group(g) => sub(&g.expr),
        Expr::Cast(c) => Ok(Val::Int(int(sub(&c.expr)?)?)),
        Expr::Unary(u) => match u.op {
            UnOp::Neg(_) => checked(int(sub(&u.expr)?)?.checked_neg()),
            UnOp::Not(_) => Ok(Val::Bool(!sub(&u.expr)?.boolean().map_err(|_| fail())?)),
            _ => Err(fail()),
        },
        Expr::MethodCall(m) if m.method == "len" && m.args.is_empty() => Ok(Val::Int(
            sub(&m.receiver)?.array().map_err(|_| fail())?.len() as i64,
        )),
        Expr::MethodCall(m) if (m.method == "min" || m.method == "max") && m.args.len() == 1 => {
            let (a, b) = (int(sub(&m.receiver)?)?, int(sub(&m.args[0])?)?);
            Ok(Val::Int(if m.method == "min" {
                a.min(b)
            } else {
                a.max(b)
            }))
        }
        Expr::Binary(b) => {
            let boolean = |v: Val<T>| v.boolean().map_err(|_| fail());
            match b.op {
                BinOp::And(_) => {
                    return Ok(Val::Bool(
                        boolean(sub(&b.left)?)? && boolean(sub(&b.right)?)?,
                    ))
                }
                BinOp::Or(_) => {
                    return Ok(Val::Bool(
                        boolean(sub(&b.left)?)? || boolean(sub(&b.right)?)?,
                    ))
                }
                _ => {}
            }
            let (x, y) = (int(sub(&b.left)?)?, int(sub(&b.right)?)?);
            match b.op {
                BinOp::Add(_) => checked(x.checked_add(y)),
                BinOp::Sub(_) => checked(x.checked_sub(y)),
                BinOp::Mul(_) => checked(x.checked_mul(y)),
                BinOp::Div(_) => checked(x.checked_div(y)),
                BinOp::Rem(_) => checked(x.checked_rem(y)),
                BinOp::Lt(_) => Ok(Val::Bool(x < y)),
                BinOp::Le(_) => Ok(Val::Bool(x <= y)),
                BinOp::Gt(_) => Ok(Val::Bool(x > y)),
                BinOp::Ge(_) => Ok(Val::Bool(x >= y)),
                BinOp::Eq(_) => Ok(Val::Bool(x == y)),
                BinOp::Ne(_) => Ok(Val::Bool(x != y)),
                _ => Err(fail()),
            }
        }
        _ => Err(fail()),
    }
}
