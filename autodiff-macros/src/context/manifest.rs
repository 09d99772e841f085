//! Where the facade is, read from the user's `Cargo.toml`: the dependency
//! whose package is the facade, under whatever key the user gave it.
//!
//! Cargo names a dependency in code by its key (`ad = { package = "...",
//! .. }` is `ad`), or, when the key is the package's own name, by the
//! package's library name (`autodiff`). A proc macro cannot ask rustc, so
//! it reads the manifest of the crate being compiled
//! (`CARGO_MANIFEST_DIR/Cargo.toml`) and, for a `workspace = true`
//! dependency, the `[workspace.dependencies]` of the workspace above it.
//!
//! The reader understands the part of TOML that manifests use for
//! dependencies (tables and dotted headers, dotted keys, inline tables,
//! arrays, every string form, comments); anything else is skipped as an
//! opaque value. It never panics: on anything it cannot read it answers
//! "not found", and the caller falls back to `::autodiff`.

use std::path::{Path, PathBuf};

/// The facade's package name, as published.
pub const FACADE_PACKAGE: &str = "static-autodiff";
/// The facade's library name: what code calls it when the dependency is
/// not renamed (`static-autodiff = "0.1"` is `autodiff::` in code).
pub const FACADE_LIB: &str = "autodiff";

/// The name the crate whose manifest sits in `manifest_dir` gives the
/// facade in code (`autodiff`, or the key of a renamed dependency), if its
/// manifest says. `package` is the name of the package being compiled
/// (`CARGO_PKG_NAME`): the facade's own tests, examples and doctests call
/// it by its library name.
pub fn facade_name(manifest_dir: &Path, package: Option<&str>) -> Option<String> {
    if package.is_some_and(|p| same_package(p, FACADE_PACKAGE)) {
        return Some(FACADE_LIB.to_string());
    }
    let manifest = read(&manifest_dir.join("Cargo.toml"))?;
    let key = facade_key(&manifest, || workspace_dependencies(manifest_dir))?;
    Some(if same_package(&key, FACADE_PACKAGE) {
        FACADE_LIB.to_string()
    } else {
        key.replace('-', "_")
    })
}

/// The key of the dependency on the facade in `manifest`, looking in
/// `[dependencies]`, then `[dev-dependencies]`, then
/// `[build-dependencies]`, then their `[target.'cfg'.*]` forms.
/// `workspace` gives the workspace's `[workspace.dependencies]`, for
/// entries that inherit from it; it is read only if one does.
fn facade_key(manifest: &Table, workspace: impl Fn() -> Option<Table>) -> Option<String> {
    const KINDS: [&str; 4] = [
        "dependencies",
        "dev-dependencies",
        "dev_dependencies",
        "build-dependencies",
    ];
    let mut tables: Vec<&Table> = KINDS.iter().filter_map(|k| manifest.table(k)).collect();
    if let Some(targets) = manifest.table("target") {
        for (_, target) in &targets.0 {
            if let Value::Table(target) = target {
                tables.extend(KINDS.iter().filter_map(|k| target.table(k)));
            }
        }
    }
    let mut inherited = None;
    for table in tables {
        for (key, dep) in &table.0 {
            let package = match dep {
                Value::Table(dep) if dep.get("workspace") == Some(&Value::Bool(true)) => {
                    let Some(ws) = inherited.get_or_insert_with(&workspace) else {
                        continue;
                    };
                    match ws.get(key) {
                        Some(Value::Table(d)) => d.string("package").unwrap_or(key),
                        Some(_) => key,
                        None => continue,
                    }
                }
                Value::Table(dep) => dep.string("package").unwrap_or(key),
                _ => key,
            };
            if same_package(package, FACADE_PACKAGE) {
                return Some(key.clone());
            }
        }
    }
    None
}

/// `[workspace.dependencies]` of the nearest manifest with a `[workspace]`
/// table, from `dir` up.
fn workspace_dependencies(dir: &Path) -> Option<Table> {
    let mut dir: Option<PathBuf> = Some(dir.to_path_buf());
    while let Some(d) = dir {
        if let Some(mut manifest) = read(&d.join("Cargo.toml")) {
            if let Some(Value::Table(mut ws)) = manifest.take("workspace") {
                return match ws.take("dependencies") {
                    Some(Value::Table(deps)) => Some(deps),
                    _ => Some(Table::default()),
                };
            }
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    None
}

/// Package names compare with `-` and `_` alike, as crates.io does.
fn same_package(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| x == y || (x == b'-' || x == b'_') && (y == b'-' || y == b'_'))
}

fn read(path: &Path) -> Option<Table> {
    parse(&std::fs::read_to_string(path).ok()?)
}

/// A TOML value, as far as a dependency entry needs one.
#[derive(Debug, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Table(Table),
    Array(Vec<Value>),
    /// A number, a date, or anything else not looked into.
    Other,
}

/// A table: its entries in the order written.
#[derive(Debug, Default, PartialEq)]
pub struct Table(pub Vec<(String, Value)>);

impl Table {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn table(&self, key: &str) -> Option<&Table> {
        match self.get(key)? {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn string(&self, key: &str) -> Option<&String> {
        match self.get(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// The table at `path` below this one, made if missing; `None` if a
    /// value that is not a table is in the way. In an array of tables, the
    /// last one.
    fn table_at(&mut self, path: &[String]) -> Option<&mut Table> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self);
        };
        let i = match self.0.iter().position(|(k, _)| k == first) {
            Some(i) => i,
            None => {
                self.0.push((first.clone(), Value::Table(Table::default())));
                self.0.len() - 1
            }
        };
        match &mut self.0[i].1 {
            Value::Table(t) => t.table_at(rest),
            Value::Array(items) => match items.last_mut() {
                Some(Value::Table(t)) => t.table_at(rest),
                _ => None,
            },
            _ => None,
        }
    }

    /// Sets the dotted key `path` to `value`. A repeated key keeps its
    /// first value.
    fn insert(&mut self, path: &[String], value: Value) -> Option<()> {
        let (last, parents) = path.split_last()?;
        let table = self.table_at(parents)?;
        if table.get(last).is_none() {
            table.0.push((last.clone(), value));
        }
        Some(())
    }
}

/// Tokens of TOML.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    OpenBrace,
    CloseBrace,
    Eq,
    Comma,
    Dot,
    Newline,
    Str(String),
    /// A bare key, or a piece of a number, date or boolean.
    Bare(String),
}

fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push(Tok::Newline),
            ' ' | '\t' | '\r' => {}
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '[' => out.push(Tok::Open),
            ']' => out.push(Tok::Close),
            '{' => out.push(Tok::OpenBrace),
            '}' => out.push(Tok::CloseBrace),
            '=' => out.push(Tok::Eq),
            ',' => out.push(Tok::Comma),
            '.' => out.push(Tok::Dot),
            '"' | '\'' => out.push(Tok::Str(string(c, &mut chars)?)),
            _ => {
                let mut bare = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "#[]{}=,.\"'".contains(c) {
                        break;
                    }
                    bare.push(c);
                    chars.next();
                }
                out.push(Tok::Bare(bare));
            }
        }
    }
    Some(out)
}

/// The rest of a string opened by `quote`: basic (`"`, with escapes) or
/// literal (`'`), single-line or multi-line (`"""`, `'''`).
fn string(quote: char, chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<String> {
    let mut s = String::new();
    // `""` is empty, `"""` opens a multi-line string.
    if chars.peek() == Some(&quote) {
        chars.next();
        if chars.peek() != Some(&quote) {
            return Some(s);
        }
        chars.next();
        if chars.peek() == Some(&'\n') {
            chars.next();
        }
        let mut quotes = 0;
        loop {
            let c = chars.next()?;
            if c == quote {
                quotes += 1;
                // Up to two quotes may end the content before the closing three.
                if quotes >= 3 && chars.peek() != Some(&quote) {
                    s.extend(std::iter::repeat_n(quote, quotes - 3));
                    return Some(s);
                }
                continue;
            }
            s.extend(std::iter::repeat_n(quote, quotes));
            quotes = 0;
            if c == '\\' && quote == '"' {
                escape(chars, &mut s, true)?;
            } else {
                s.push(c);
            }
        }
    }
    loop {
        match chars.next()? {
            '\n' => return None,
            c if c == quote => return Some(s),
            '\\' if quote == '"' => escape(chars, &mut s, false)?,
            c => s.push(c),
        }
    }
}

/// An escape after `\` in a basic string. In a multi-line one, `\` at the
/// end of a line trims the line break and the whitespace after it.
fn escape(
    chars: &mut std::iter::Peekable<std::str::Chars>,
    s: &mut String,
    multiline: bool,
) -> Option<()> {
    let c = chars.next()?;
    match c {
        'n' => s.push('\n'),
        't' => s.push('\t'),
        'r' => s.push('\r'),
        'b' => s.push('\u{8}'),
        'f' => s.push('\u{c}'),
        'e' => s.push('\u{1b}'),
        '"' | '\\' => s.push(c),
        'u' | 'U' | 'x' => {
            let n = match c {
                'u' => 4,
                'U' => 8,
                _ => 2,
            };
            let hex: String = (0..n).map_while(|_| chars.next()).collect();
            s.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
        }
        c if multiline && c.is_whitespace() => {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        }
        _ => return None,
    }
    Some(())
}

/// Parses a manifest; `None` if it is not TOML this reader understands.
pub fn parse(text: &str) -> Option<Table> {
    let toks = tokenize(text)?;
    let mut p = Parser { toks: &toks, at: 0 };
    let mut root = Table::default();
    let mut current: Vec<String> = Vec::new();
    loop {
        match p.peek() {
            None => return Some(root),
            Some(Tok::Newline) => p.at += 1,
            Some(Tok::Open) => {
                p.at += 1;
                let array = p.eat(&Tok::Open);
                let path = p.key()?;
                p.expect(&Tok::Close)?;
                if array {
                    p.expect(&Tok::Close)?;
                    let (last, parents) = path.split_last()?;
                    let parent = root.table_at(parents)?;
                    match parent.0.iter_mut().find(|(k, _)| k == last) {
                        Some((_, Value::Array(items))) => {
                            items.push(Value::Table(Table::default()))
                        }
                        Some(_) => return None,
                        None => parent.0.push((
                            last.clone(),
                            Value::Array(vec![Value::Table(Table::default())]),
                        )),
                    }
                } else {
                    root.table_at(&path)?;
                }
                current = path;
                p.end_of_line()?;
            }
            Some(_) => {
                let key = p.key()?;
                p.expect(&Tok::Eq)?;
                let value = p.value()?;
                let path: Vec<String> = current.iter().chain(&key).cloned().collect();
                root.insert(&path, value)?;
                p.end_of_line()?;
            }
        }
    }
}

struct Parser<'a> {
    toks: &'a [Tok],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn eat(&mut self, t: &Tok) -> bool {
        let yes = self.peek() == Some(t);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn expect(&mut self, t: &Tok) -> Option<()> {
        self.eat(t).then_some(())
    }

    fn end_of_line(&mut self) -> Option<()> {
        match self.peek() {
            None => Some(()),
            Some(Tok::Newline) => {
                self.at += 1;
                Some(())
            }
            _ => None,
        }
    }

    fn skip_newlines(&mut self) {
        while self.eat(&Tok::Newline) {}
    }

    /// A dotted key: `a`, `"a b".c`, `target.'cfg(unix)'.dependencies`.
    fn key(&mut self) -> Option<Vec<String>> {
        let mut path = Vec::new();
        loop {
            match self.peek()? {
                Tok::Str(s) | Tok::Bare(s) => path.push(s.clone()),
                _ => return None,
            }
            self.at += 1;
            if !self.eat(&Tok::Dot) {
                return Some(path);
            }
        }
    }

    fn value(&mut self) -> Option<Value> {
        match self.peek()? {
            Tok::Str(s) => {
                let s = s.clone();
                self.at += 1;
                Some(Value::Str(s))
            }
            Tok::OpenBrace => {
                self.at += 1;
                let mut table = Table::default();
                loop {
                    // TOML 1.1 allows line breaks and a trailing comma here.
                    self.skip_newlines();
                    if self.eat(&Tok::CloseBrace) {
                        return Some(Value::Table(table));
                    }
                    let key = self.key()?;
                    self.expect(&Tok::Eq)?;
                    let value = self.value()?;
                    table.insert(&key, value)?;
                    self.skip_newlines();
                    if !self.eat(&Tok::Comma) {
                        self.skip_newlines();
                        self.expect(&Tok::CloseBrace)?;
                        return Some(Value::Table(table));
                    }
                }
            }
            Tok::Open => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_newlines();
                    if self.eat(&Tok::Close) {
                        return Some(Value::Array(items));
                    }
                    items.push(self.value()?);
                    self.skip_newlines();
                    if !self.eat(&Tok::Comma) {
                        self.skip_newlines();
                        self.expect(&Tok::Close)?;
                        return Some(Value::Array(items));
                    }
                }
            }
            Tok::Bare(_) => {
                // A boolean, or a number or date (which may hold dots and a
                // space): everything up to the end of the value.
                let first = self.at;
                while matches!(self.peek(), Some(Tok::Bare(_) | Tok::Dot)) {
                    self.at += 1;
                }
                Some(match &self.toks[first..self.at] {
                    [Tok::Bare(b)] if b == "true" => Value::Bool(true),
                    [Tok::Bare(b)] if b == "false" => Value::Bool(false),
                    _ => Value::Other,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(manifest: &str, workspace: &str) -> Option<String> {
        let manifest = parse(manifest).expect("the manifest parses");
        facade_key(&manifest, || {
            let mut ws = parse(workspace)?;
            match ws.take("workspace")? {
                Value::Table(mut w) => match w.take("dependencies") {
                    Some(Value::Table(d)) => Some(d),
                    _ => Some(Table::default()),
                },
                _ => None,
            }
        })
    }

    #[test]
    fn finds_the_dependency_in_every_form() {
        let cases = [
            ("[dependencies]\nstatic-autodiff = \"0.1\"", "static-autodiff"),
            ("[dependencies]\nad = { package = \"static-autodiff\", version = \"0.1\" }", "ad"),
            ("[dependencies.ad]\npackage = 'static-autodiff'\npath = \"..\"", "ad"),
            ("[dependencies]\nad.package = \"static-autodiff\"\nad.path = '..'", "ad"),
            ("dependencies.ad = { package = \"static_autodiff\" }", "ad"),
            ("[dev-dependencies]\nmy-ad = { path = \"..\", package = \"static-autodiff\" }", "my-ad"),
            ("[target.'cfg(unix)'.dependencies]\nx = { package = \"static-autodiff\" }", "x"),
            ("[target.\"cfg(all(unix, not(windows)))\".dev-dependencies.x]\npackage = \"static-autodiff\"", "x"),
            (
                "[dependencies]\n# ad = { package = \"other\" }\nad = {\n  package = \"static-autodiff\", # TOML 1.1\n  features = [\n    \"argmin\",\n  ],\n}\n",
                "ad",
            ),
        ];
        for (manifest, key) in cases {
            assert_eq!(key_of(manifest, "").as_deref(), Some(key), "{manifest}");
        }
    }

    #[test]
    fn skips_what_is_not_the_facade() {
        let manifest = r#"
            [package]
            name = "user"
            version = "0.1.0"
            authors = ["A \"quoted\" name", 'literal \n']
            description = """
            Multi-line, with "quotes" and [brackets] = and # no comment."""
            license-file = '''a ''b'' c'''

            [dependencies]
            autodiff = "0.7"   # the unrelated crate of that name
            nalgebra = { version = "0.33", default-features = false, features = ["std"] }
            serde = { version = "1.0.200", optional = true }
            date-like = { x = 1979-05-27T07:32:00Z, y = 1.5e3, z = +inf }

            [[bin]]
            name = "tool"

            [[bin]]
            name = "other"

            [features]
            default = []
        "#;
        assert_eq!(key_of(manifest, ""), None);
        let parsed = parse(manifest).unwrap();
        let package = parsed.table("package").unwrap();
        assert_eq!(package.string("authors"), None);
        assert_eq!(
            package.get("authors"),
            Some(&Value::Array(vec![
                Value::Str("A \"quoted\" name".into()),
                Value::Str("literal \\n".into())
            ]))
        );
        assert_eq!(
            package.string("description").map(String::as_str),
            Some("            Multi-line, with \"quotes\" and [brackets] = and # no comment.")
        );
        assert_eq!(
            package.string("license-file").map(String::as_str),
            Some("a ''b'' c")
        );
        match parsed.get("bin") {
            Some(Value::Array(bins)) => assert_eq!(bins.len(), 2),
            other => panic!("bins: {other:?}"),
        }
    }

    #[test]
    fn follows_workspace_inheritance() {
        let ws = "[workspace]\nmembers = [\"a\"]\n\n[workspace.dependencies]\nad = { package = \"static-autodiff\", path = \"..\" }\nstatic-autodiff = { path = \"..\" }\nsyn = \"2\"\n";
        assert_eq!(
            key_of("[dependencies]\nad = { workspace = true }", ws).as_deref(),
            Some("ad")
        );
        assert_eq!(
            key_of("[dependencies]\nad.workspace = true", ws).as_deref(),
            Some("ad")
        );
        assert_eq!(
            key_of("[dev-dependencies]\nstatic-autodiff.workspace = true", ws).as_deref(),
            Some("static-autodiff")
        );
        assert_eq!(
            key_of("[dependencies]\nsyn = { workspace = true }", ws),
            None
        );
        // Inherited from a workspace without that key: not the facade.
        assert_eq!(
            key_of("[dependencies]\nother = { workspace = true }", ws),
            None
        );
    }

    #[test]
    fn the_first_table_wins() {
        let m = "[dev-dependencies]\nb = { package = \"static-autodiff\" }\n[dependencies]\na = { package = \"static-autodiff\" }";
        assert_eq!(key_of(m, "").as_deref(), Some("a"));
    }

    #[test]
    fn rejects_what_it_cannot_read_without_panicking() {
        for bad in [
            "[dependencies",
            "a = ",
            "a = \"unterminated",
            "a = 'line\nbreak'",
            "a = { b = 1",
            "a = [1, 2",
            "a = \"\\q\"",
            "a = \"\\u12\"",
            "a = 1 b = 2",
            "a.b = 1\na.b.c = 2",
            "[[a]]\n[a]\nb = 1\n[a.b]\n",
            "a = \"\"\"never closed",
            "= 1",
        ] {
            // No panic; `None` or a table, whatever the input.
            let _ = parse(bad);
        }
        assert_eq!(parse("a = { b = 1"), None);
        assert_eq!(parse("a = \"unterminated"), None);
        assert!(parse("a = \"\"\n[b]\nc = ''").is_some());
    }

    #[test]
    fn names_in_code() {
        let dir = std::env::temp_dir().join(format!("autodiff-manifest-{}", std::process::id()));
        let member = dir.join("member");
        std::fs::create_dir_all(&member).unwrap();
        let write = |p: &Path, s: &str| std::fs::write(p.join("Cargo.toml"), s).unwrap();
        write(&dir, "[workspace]\n[workspace.dependencies]\nmy-ad = { package = \"static-autodiff\", path = \"x\" }\n");
        write(
            &member,
            "[package]\nname = \"m\"\n[dependencies]\nmy-ad.workspace = true\n",
        );
        assert_eq!(facade_name(&member, Some("m")).as_deref(), Some("my_ad"));
        write(&member, "[dependencies]\nstatic-autodiff = \"0.1\"\n");
        assert_eq!(facade_name(&member, Some("m")).as_deref(), Some("autodiff"));
        write(&member, "[dependencies]\nautodiff = \"0.7\"\n");
        assert_eq!(facade_name(&member, Some("m")), None);
        // The facade's own tests, examples and doctests.
        assert_eq!(
            facade_name(&member, Some("static-autodiff")).as_deref(),
            Some("autodiff")
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(facade_name(&member, Some("m")), None);
    }

    /// The constant is the name in the facade's manifest.
    #[test]
    fn facade_package_is_the_root_package() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let manifest = read(&root.join("Cargo.toml")).expect("the root manifest parses");
        let package = manifest.table("package").expect("[package]");
        assert_eq!(
            package.string("name").map(String::as_str),
            Some(FACADE_PACKAGE)
        );
        let lib = manifest.table("lib").expect("[lib]");
        assert_eq!(lib.string("name").map(String::as_str), Some(FACADE_LIB));
        // And the workspace's own key for it is found as a user's would be.
        let key = facade_key(&manifest, || workspace_dependencies(&root));
        assert_eq!(key, None, "the facade does not depend on itself");
        let ws = workspace_dependencies(&root).expect("[workspace.dependencies]");
        assert_eq!(
            ws.table("autodiff")
                .and_then(|d| d.string("package"))
                .map(String::as_str),
            Some(FACADE_PACKAGE)
        );
    }
}
