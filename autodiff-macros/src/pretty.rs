//! Theano-style `pp`: a derivative as readable text. The text is the
//! emitted code itself, formatted compactly (`2 * x` for `2.0_f64 * x`), so
//! what `f_pp()` shows is what runs.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// Formats emitted tokens compactly.
pub fn format(tokens: TokenStream) -> String {
    let mut out = String::new();
    write(tokens, &mut out);
    out.trim().to_string()
}

fn write(tokens: TokenStream, out: &mut String) {
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tts.len() {
        // Paths into the runtime and core read as their last segment.
        if let Some(skip) = private_path(&tts[i..]) {
            i += skip;
            continue;
        }
        match &tts[i] {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                let call = out
                    .ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ')' || c == ']')
                    && !["let", " if", " in", " for", " while", " match", "return"]
                        .iter()
                        .any(|k| out.ends_with(k));
                let after_unary = out.ends_with(['-', '!', '&', '*']);
                if g.delimiter() == Delimiter::Brace
                    || !(call || after_unary || g.delimiter() == Delimiter::None)
                {
                    space(out);
                }
                out.push_str(open);
                write(g.stream(), out);
                out.push_str(if close == " }" && out.ends_with(' ') {
                    "}"
                } else {
                    close
                });
            }
            TokenTree::Ident(id) => {
                // A prefix operator was written without a trailing space.
                if !out.ends_with(['.', '!', '-', '&', '*']) && !out.ends_with("::")
                    || ends_with_binary_minus(out)
                {
                    space(out);
                }
                out.push_str(&id.to_string());
            }
            TokenTree::Literal(l) => {
                if !out.ends_with('-') || ends_with_binary_minus(out) {
                    space(out);
                }
                out.push_str(&literal(&l.to_string()));
            }
            TokenTree::Punct(p) => {
                let c = p.as_char();
                let prev_joint = out.ends_with(':')
                    || (out.ends_with(|ch: char| "=<>&|!+-*/".contains(ch))
                        && joint_before(&tts, i));
                match c {
                    '.' | ',' | ';' => {
                        out.push(c);
                        if c != '.' {
                            out.push(' ');
                        }
                    }
                    ':' if prev_joint || p.spacing() == Spacing::Joint => out.push(c),
                    _ if prev_joint => {
                        out.push(c);
                        if p.spacing() == Spacing::Alone {
                            out.push(' ');
                        }
                    }
                    '-' | '!' | '&' | '*' if unary_position(out) => {
                        space(out);
                        out.push(c);
                    }
                    _ => {
                        space(out);
                        out.push(c);
                        if p.spacing() == Spacing::Alone {
                            out.push(' ');
                        }
                    }
                }
            }
        }
        i += 1;
    }
}

fn joint_before(tts: &[TokenTree], i: usize) -> bool {
    i > 0 && matches!(&tts[i - 1], TokenTree::Punct(p) if p.spacing() == Spacing::Joint)
}

fn space(out: &mut String) {
    if !out.is_empty() && !out.ends_with([' ', '(', '[']) {
        out.push(' ');
    }
}

/// Does `out` end with a `-` that is a binary operator (followed by a space)?
fn ends_with_binary_minus(out: &str) -> bool {
    out.ends_with("- ")
}

/// Is an operator here a prefix (unary) one?
fn unary_position(out: &str) -> bool {
    let t = out.trim_end();
    t.is_empty()
        || t.ends_with(|c: char| "(=,+-*/<>!&|{;".contains(c))
        || t.ends_with("if")
        || t.ends_with("else")
}

/// `2.0_f64` -> `2`, `0.5_f32` -> `0.5`.
fn literal(text: &str) -> String {
    let t = text.trim_end_matches("_f64").trim_end_matches("_f32");
    t.strip_suffix(".0").unwrap_or(t).to_string()
}

/// Length of a `::autodiff::__private::` (the facade under any path:
/// `::ad::__private::`, `crate::x::__private::`) / `::core::primitive::`
/// prefix at the start of `tts`.
fn private_path(tts: &[TokenTree]) -> Option<usize> {
    // Called at every token: nothing is stringified before the first
    // token could start a path.
    let colons = |at: usize| {
        matches!((tts.get(at), tts.get(at + 1)),
            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':')
    };
    let ident_is = |at: usize, s: &str| matches!(tts.get(at), Some(TokenTree::Ident(i)) if i == s);
    if colons(0) && ident_is(2, "core") && colons(3) && ident_is(5, "primitive") && colons(6) {
        return Some(8);
    }
    let mut at = if colons(0) { 2 } else { 0 };
    for segment in 0..16 {
        let TokenTree::Ident(name) = tts.get(at)? else {
            return None;
        };
        if !colons(at + 1) {
            return None;
        }
        if segment > 0 && name == "__private" {
            return Some(at + 3);
        }
        at += 3;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn formats_arithmetic_and_methods() {
        assert_eq!(format(quote!(2.0_f64 * x)), "2 * x");
        assert_eq!(
            format(quote!(
                1.0_f64 * (2 as ::core::primitive::f64 * x.powi(2 - 1))
            )),
            "1 * (2 as f64 * x.powi(2 - 1))"
        );
        assert_eq!(
            format(quote!(-x.sin() + ::autodiff::__private::sign0(y))),
            "-x.sin() + sign0(y)"
        );
        // The facade under a renamed dependency or a `crate = path`.
        assert_eq!(
            format(quote!(
                ::ad::__private::sign0(y) * crate::re::ad::__private::cast(x)
            )),
            "sign0(y) * cast(x)"
        );
        assert_eq!(
            format(quote!(a::b(x) + __private::c(y))),
            "a::b(x) + __private::c(y)"
        );
        assert_eq!(
            format(quote!(let t0 = x.cos(); t0 * t0)),
            "let t0 = x.cos(); t0 * t0"
        );
        assert_eq!(format(quote!(a - -b)), "a - -b");
        assert_eq!(
            format(quote!(if x < y { a } else { b })),
            "if x < y { a } else { b }"
        );
        assert_eq!(format(quote!(a <= b && c)), "a <= b && c");
        assert_eq!(
            format(quote!(for i in (0..n).rev() {
                s[i] += -(a * b);
                f(&x);
            })),
            "for i in (0..n).rev() { s[i] += -(a * b); f(&x); }"
        );
        assert_eq!(
            format(quote!(let (a, _) = if c { (x, 0.0_f64) } else { (y, x) }; a)),
            "let (a, _) = if c { (x, 0) } else { (y, x) }; a"
        );
    }
}
