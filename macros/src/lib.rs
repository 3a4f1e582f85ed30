//! Procedural macros for [`sandboxed`](https://docs.rs/sandboxed). Use them through that crate.
//!
//! This crate only parses and generates code: `#[sandboxed(...)]` validates its arguments at
//! compile time (with errors pointing at the offending token) and rewrites the test function to
//! call `sandboxed::__private`, where all runtime logic lives.

use proc_macro::TokenStream;
use proc_macro2::{Delimiter, Group, Span, TokenStream as TokenStream2, TokenTree};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprLit, Lit, LitStr, MetaNameValue, ReturnType, Signature, Token, Visibility,
};

/// System call names (of x86_64 and aarch64: a proc macro runs on the host's architecture, not
/// the target's) and seccomp preset names, shared with the runtime.
use sandboxed_tables::syscalls as names;

/// Run a test's body in a fresh sandboxed child process. See the `sandboxed` crate.
#[proc_macro_attribute]
pub fn sandboxed(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: TokenStream2 = item.into();
    match expand(args.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            let error = e.to_compile_error();
            let item = fallback(item);
            quote!(#error #item).into()
        }
    }
}

/// What the arguments say, validated.
#[derive(Default)]
struct Args {
    net: Option<LitStr>,
    fixture: Option<(String, LitStr)>,
    timeout_ms: Option<u64>,
    memory: Option<u64>,
    pids: Option<u64>,
    cpu_ms: Option<u64>,
    seccomp: Option<LitStr>,
    deny: Vec<LitStr>,
    allow: Vec<LitStr>,
    expect_exit: Option<i32>,
    expect_signal: Option<LitStr>,
    config: Option<syn::Path>,
    /// `__moved_below = true`: our own mark, on the attribute we write below the `#[rstest]` or
    /// `#[test_case]` it was written above (see `expand`). Not a key of the documented list.
    moved_below: bool,
}

const KEYS: &[&str] = &[
    "net",
    "fixture",
    "timeout",
    "memory",
    "pids",
    "cpu",
    "seccomp",
    "deny",
    "allow",
    "expect_exit",
    "expect_signal",
    "config",
];

fn err<T>(span: impl Spanned, msg: impl std::fmt::Display) -> syn::Result<T> {
    Err(syn::Error::new(span.span(), msg))
}

fn lit_str(expr: &Expr, key: &str) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        other => err(other, format!("`{key}` takes a string literal")),
    }
}

fn lit_int(expr: &Expr, key: &str) -> syn::Result<i64> {
    let (neg, inner) = match expr {
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => (true, &**expr),
        e => (false, e),
    };
    match inner {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            let v: i64 = i.base10_parse()?;
            Ok(if neg { -v } else { v })
        }
        other => err(other, format!("`{key}` takes an integer literal")),
    }
}

fn str_list(expr: &Expr, key: &str) -> syn::Result<Vec<LitStr>> {
    match expr {
        Expr::Array(arr) => arr.elems.iter().map(|e| lit_str(e, key)).collect(),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(vec![s.clone()]),
        other => err(
            other,
            format!("`{key}` takes a list of system call names, like [\"ptrace\", \"connect\"]"),
        ),
    }
}

/// Split `"64M"` into 64 and `"M"`; `example` says what a good value looks like.
fn number_and_unit(lit: &LitStr, key: &str, example: &str) -> syn::Result<(u64, String)> {
    let text = lit.value();
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    match num.parse() {
        Ok(n) => Ok((n, unit.trim().to_owned())),
        Err(_) => err(lit, format!("`{key}` takes {example}, not {text:?}")),
    }
}

/// `500ms`, `5s`, `2m` → milliseconds.
fn duration_ms(lit: &LitStr, key: &str) -> syn::Result<u64> {
    let (n, unit) = number_and_unit(lit, key, "a duration like \"500ms\", \"5s\" or \"2m\"")?;
    let ms = match unit.as_str() {
        "ms" => n,
        "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        _ => {
            return err(
                lit,
                format!(
                    "unknown unit in {:?}: `{key}` takes a duration in ms, s or m, like \"500ms\", \"5s\" or \"2m\"",
                    lit.value()
                ),
            );
        }
    };
    if ms == 0 {
        return err(lit, format!("`{key}` must be longer than zero"));
    }
    Ok(ms)
}

/// `64M`, `512K`, `1G`, or plain bytes → bytes.
fn size_bytes(lit: &LitStr, key: &str) -> syn::Result<u64> {
    let (n, unit) = number_and_unit(lit, key, "a size like \"64M\", \"512K\" or \"1G\"")?;
    let shift = match unit.as_str() {
        "" | "B" => 0,
        "K" | "k" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        _ => {
            return err(
                lit,
                format!(
                    "unknown unit in {:?}: `{key}` takes a size in K, M or G, like \"64M\"",
                    lit.value()
                ),
            );
        }
    };
    let bytes = n.checked_shl(shift).filter(|b| b >> shift == n);
    match bytes {
        Some(b) if b > 0 => Ok(b),
        _ => err(
            lit,
            format!("`{key}` must be a size above zero that fits in 64 bits"),
        ),
    }
}

/// Whether the runtime's `sandboxed::signal_number` knows the signal `name`: the same parser,
/// with glibc's real-time signals (`SIGRTMIN()` 34 to `SIGRTMAX()` 64 on Linux), since a proc
/// macro cannot call the target's C library. So `SIGRTMIN+30` and `SIGRTMAX-30` are the last
/// real-time names it accepts. (With musl, whose `SIGRTMIN()` is 35, those two pass here but
/// name no signal at run time: such a test fails, it cannot pass wrongly.)
fn known_signal(name: &str) -> bool {
    sandboxed_tables::signals::signal_number_in(name, sandboxed_tables::signals::GLIBC_RT).is_some()
}

fn parse_args(tokens: TokenStream2) -> syn::Result<Args> {
    let mut args = Args::default();
    let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(tokens)?;
    let mut seen: Vec<String> = Vec::new();
    for pair in pairs {
        let key = match pair.path.get_ident() {
            Some(ident) => ident.to_string(),
            None => return err(&pair.path, "expected a key such as `timeout` or `net`"),
        };
        if seen.contains(&key) {
            return err(&pair.path, format!("`{key}` is given twice"));
        }
        seen.push(key.clone());
        let value = &pair.value;
        match key.as_str() {
            "net" => {
                let s = lit_str(value, &key)?;
                if !matches!(s.value().as_str(), "none" | "loopback" | "host") {
                    return err(
                        &s,
                        format!(
                            "unknown network {:?}: use \"none\", \"loopback\" or \"host\"",
                            s.value()
                        ),
                    );
                }
                args.net = Some(s);
            }
            "fixture" => {
                let s = lit_str(value, &key)?;
                let text = s.value();
                if text.is_empty() {
                    return err(
                        &s,
                        "`fixture` takes a fixture name (a directory under fixtures/) or a path",
                    );
                }
                let rel = if text.contains('/') {
                    text.clone()
                } else {
                    format!("fixtures/{text}")
                };
                // Resolved now, against the crate being compiled, so a typo is a compile error.
                let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
                let full = if rel.starts_with('/') {
                    std::path::PathBuf::from(&rel)
                } else {
                    std::path::Path::new(&manifest).join(&rel)
                };
                if !full.is_dir() {
                    return err(
                        &s,
                        format!(
                            "fixture {text:?} not found: {} is not a directory",
                            full.display()
                        ),
                    );
                }
                args.fixture = Some((rel, s));
            }
            "timeout" => args.timeout_ms = Some(duration_ms(&lit_str(value, &key)?, &key)?),
            "cpu" => args.cpu_ms = Some(duration_ms(&lit_str(value, &key)?, &key)?),
            "memory" => args.memory = Some(size_bytes(&lit_str(value, &key)?, &key)?),
            "pids" => {
                let n = lit_int(value, &key)?;
                if n < 1 {
                    return err(value, "`pids` must be at least 1");
                }
                args.pids = Some(n as u64);
            }
            "seccomp" => {
                let s = lit_str(value, &key)?;
                if !names::PRESETS.contains(&s.value().as_str()) {
                    let hint = names::nearest_preset(&s.value())
                        .map(|p| format!("did you mean \"{p}\"? "))
                        .unwrap_or_default();
                    return err(
                        &s,
                        format!(
                            "unknown seccomp preset {:?}: {hint}use \"recommended\", \"no-network\", \"strict\" or \"unrestricted\"",
                            s.value()
                        ),
                    );
                }
                args.seccomp = Some(s);
            }
            "deny" | "allow" => {
                let names = str_list(value, &key)?;
                for name in &names {
                    if !names::is_known(&name.value()) {
                        let near = names::nearest(&name.value());
                        let hint = if near.is_empty() {
                            String::new()
                        } else {
                            format!("; did you mean {}?", near.join(" or "))
                        };
                        return err(
                            name,
                            format!("unknown system call `{}`{hint}", name.value()),
                        );
                    }
                }
                if key == "deny" {
                    args.deny = names;
                } else {
                    args.allow = names;
                }
            }
            "expect_exit" => {
                let n = lit_int(value, &key)?;
                if !(0..=255).contains(&n) {
                    return err(value, "`expect_exit` is an exit status from 0 to 255");
                }
                args.expect_exit = Some(n as i32);
            }
            "expect_signal" => {
                let s = lit_str(value, &key)?;
                if !known_signal(&s.value()) {
                    let hint = if s.value().to_ascii_uppercase().contains("RTM") {
                        let rt = sandboxed_tables::signals::GLIBC_RT;
                        let last = rt.end() - rt.start();
                        format!(
                            "the real-time signals are \"SIGRTMIN\" to \"SIGRTMIN+{last}\", \
                             or \"SIGRTMAX-{last}\" to \"SIGRTMAX\""
                        )
                    } else {
                        "use a name like \"SIGABRT\" or \"SIGSEGV\"".to_owned()
                    };
                    return err(&s, format!("unknown signal {:?}: {hint}", s.value()));
                }
                args.expect_signal = Some(s);
            }
            "__moved_below" => match value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) if b.value => args.moved_below = true,
                other => return err(other, "`__moved_below` is the macro's own mark: `true`"),
            },
            "config" => match value {
                Expr::Path(p) => args.config = Some(p.path.clone()),
                other => {
                    return err(
                        other,
                        "`config` takes the path of a `fn() -> sandboxed::Sandbox`",
                    );
                }
            },
            other => {
                return err(
                    &pair.path,
                    format!(
                        "unknown key `{other}` in #[sandboxed]: the keys are {}",
                        KEYS.join(", ")
                    ),
                );
            }
        }
    }
    if let (Some(_), Some(sig)) = (&args.expect_exit, &args.expect_signal) {
        return err(sig, "`expect_exit` and `expect_signal` exclude each other");
    }
    Ok(args)
}

/// The test function, parsed only as far as we must: its attributes, visibility and signature.
/// The body stays the very group it came as. A copy of its tokens (what syn prints for a parsed
/// `Block`, or any stream rebuilt here) can change its meaning: rustc honours the invisible group
/// around a `macro_rules!` metavariable such as `$f:expr` only in the token stream rustc made,
/// and looks through an invisible group a proc macro builds (rust-lang/rust#67062, #124974). So
/// in `fn t() { $f(1) }` with `$f` a closure, a copied body calls the closure's *body* with
/// `(1)` (E0618), and `$e * 2` with `$e` = `1 + 1` is 3.
struct TestFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    /// The body's braces, with the tokens inside them as they came.
    body: Group,
}

impl Parse for TestFn {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body: Group = input.parse()?;
        if body.delimiter() != Delimiter::Brace || !input.is_empty() {
            return Err(input.error("expected a function body"));
        }
        Ok(TestFn {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

impl TestFn {
    /// The body, as the body of a closure or an async block. Such a body may not carry inner
    /// attributes (`#![allow(...)]`); a block that is the tail expression of another may, so a
    /// body with them goes in braces of its own. Either way it is the group that came in, not a
    /// copy of its tokens (see [`TestFn`]).
    fn closure_body(&self) -> TokenStream2 {
        let body = &self.body;
        let mut tokens = body.stream().into_iter();
        let has_inner_attrs = matches!(
            (tokens.next(), tokens.next()),
            (Some(TokenTree::Punct(hash)), Some(TokenTree::Punct(bang)))
                if hash.as_char() == '#' && bang.as_char() == '!'
        );
        if has_inner_attrs {
            quote_spanned!(body.span()=> { #body })
        } else {
            quote!(#body)
        }
    }
}

/// The last segment of the path of each attribute that defines a test, or generates tests from
/// the function it is on:
///
/// - `test`: libtest's `#[test]` (also as `::core::prelude::v1::test`), and every runtime's or
///   wrapper's `#[<crate>::test]`: `tokio::test`, `async_std::test`, `test_log::test`, ...;
/// - `rstest` (`rstest::rstest`) and its `case`;
/// - `test_case`, `test_matrix` and `case` of the test-case crate (`test_case::test_case`, ...);
/// - `proptest` (`test_strategy::proptest`) and `property_test` (`proptest::property_test`);
/// - `quickcheck` (`quickcheck_macros::quickcheck`).
///
/// (`proptest! { ... }` blocks are macros, not attributes: `#[sandboxed]` cannot go on a test
/// inside one.)
const TEST_ATTRS: &[&str] = &[
    "test",
    "rstest",
    "case",
    "test_case",
    "test_matrix",
    "proptest",
    "property_test",
    "quickcheck",
];

/// Whether a path (`tokio::test`, `::core::prelude::v1::test`) names a test-defining attribute.
fn is_test_path(segments: &[String]) -> bool {
    segments
        .last()
        .is_some_and(|last| TEST_ATTRS.contains(&last.as_str()))
}

fn path_segments(attr: &Attribute) -> Vec<String> {
    attr.path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect()
}

/// An attribute that makes the function a test by itself (`#[test]`, `#[tokio::test]`, ...).
fn is_test_attr(attr: &Attribute) -> bool {
    is_test_path(&path_segments(attr))
}

/// An attribute that writes one test per case, each calling (or inlining) the function it is
/// on: rstest's `#[rstest]`, test-case's `#[test_case]` and `#[test_matrix]`.
fn is_case_generator(attr: &Attribute) -> bool {
    path_segments(attr)
        .last()
        .is_some_and(|l| matches!(l.as_str(), "rstest" | "test_case" | "test_matrix"))
}

/// A runtime attribute that drives an async test (`#[tokio::test]`, `#[async_std::test]`, ...).
fn is_async_runtime_attr(attr: &Attribute) -> bool {
    let segments = path_segments(attr);
    segments.len() >= 2 && segments.last().is_some_and(|s| s == "test")
}

/// Whether a test-defining attribute is written above ours in the source.
///
/// Attributes expand outermost first. An attribute above ours has run before us, and what it
/// left for us may no longer show that the function is a test:
///
/// - libtest's `#[test]` hands the function on without itself (beside a `const` that registers
///   the test): `#[test] #[sandboxed] fn f()` reaches us as `#[sandboxed] fn f()`;
/// - `#[test_case(...)]` writes one function per case, each `#[test]` *followed by* the original
///   function's attributes (ours among them), and that `#[test]` again expands before us;
/// - the same holds for any macro above us that puts the `#[test]` it generates before the
///   attributes it copies.
///
/// (`#[tokio::test]`, `#[test_log::test]` and `#[rstest]` put theirs after the copied attributes,
/// so we see it: `#[sandboxed] #[::core::prelude::v1::test] fn f()`.) Adding `#[test]` then would
/// register each such test twice, so we read the attributes written above ours, from the file and
/// position our invocation comes from (also inside a `macro_rules!`: its definition).
fn test_attr_written_above() -> bool {
    let site = proc_macro::Span::call_site();
    let (Some(file), line, column) = (site.local_file(), site.line(), site.column()) else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    // The text before our `#[`: the lines above, and this line up to our attribute.
    let lines: Vec<&str> = text.lines().collect();
    let Some(this_line) = lines.get(line.saturating_sub(1)) else {
        return false;
    };
    let mut before: String = lines[..line.saturating_sub(1)]
        .iter()
        .rev()
        .take(200)
        .rev()
        .flat_map(|l| [l, "\n"])
        .collect();
    before.extend(this_line.chars().take(column.saturating_sub(1)));
    attrs_written_before(&before)
        .iter()
        .any(|path| is_test_path(path))
}

/// The paths of the attributes that end `text` (an item's attributes written before one of
/// them): the longest tail of `text` that holds only attributes, comments and white space,
/// starting at the start of a line or right after what ends another item (`}`, `;`, `{`).
fn attrs_written_before(text: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut best = Vec::new();
    for start in 0..=chars.len() {
        let at_boundary = start == 0
            || chars[start - 1] == '\n'
            || (matches!(chars[start - 1], '}' | ';' | '{')
                && start_of_line_is_code(&chars, start));
        if !at_boundary {
            continue;
        }
        if let Some(paths) = only_attributes(&chars[start..]) {
            best = paths;
            break;
        }
    }
    best
}

/// Whether the line holding `at` has no comment or string open before `at`.
fn start_of_line_is_code(chars: &[char], at: usize) -> bool {
    let line_start = chars[..at]
        .iter()
        .rposition(|&c| c == '\n')
        .map_or(0, |p| p + 1);
    let head: String = chars[line_start..at].iter().collect();
    !head.contains("//") && !head.contains("/*") && head.matches('"').count().is_multiple_of(2)
}

/// The attributes' paths, if `chars` is nothing but outer attributes, comments and white space.
fn only_attributes(chars: &[char]) -> Option<Vec<Vec<String>>> {
    let mut paths = Vec::new();
    let mut i = skip_trivia(chars, 0)?;
    while i < chars.len() {
        if chars[i] != '#' {
            return None;
        }
        i = skip_trivia(chars, i + 1)?;
        if chars.get(i) != Some(&'[') {
            return None;
        }
        let end = matching_close(chars, i)?;
        let inner: String = chars[i + 1..end].iter().collect();
        let path: String = inner
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | ':') || c.is_whitespace())
            .filter(|c| !c.is_whitespace())
            .collect();
        paths.push(
            path.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
        i = skip_trivia(chars, end + 1)?;
    }
    Some(paths)
}

/// Past white space and comments from `i`; `None` in an unterminated block comment.
fn skip_trivia(chars: &[char], mut i: usize) -> Option<usize> {
    loop {
        match (chars.get(i), chars.get(i + 1)) {
            (Some(c), _) if c.is_whitespace() => i += 1,
            (Some('/'), Some('/')) => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            (Some('/'), Some('*')) => {
                let mut depth = 0usize;
                loop {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => return None,
                        (Some('/'), Some('*')) => {
                            depth += 1;
                            i += 2;
                        }
                        (Some('*'), Some('/')) => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => i += 1,
                    }
                }
            }
            _ => return Some(i),
        }
    }
}

/// The index of the bracket closing the one at `open`, past strings, characters and comments.
fn matching_close(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            '"' => {
                // A raw string (`r"..."`, `r#"..."#`, also `br`, `cr`) ends at `"` and as many
                // `#` as it opened with; any other at the first unescaped `"`.
                let mut hashes = 0;
                while i > hashes && chars[i - hashes - 1] == '#' {
                    hashes += 1;
                }
                let raw = i > hashes && chars[i - hashes - 1] == 'r';
                if !raw {
                    hashes = 0;
                }
                i += 1;
                loop {
                    match chars.get(i)? {
                        '\\' if !raw => i += 2,
                        '"' if chars[i + 1..].iter().take(hashes).all(|&c| c == '#')
                            && chars.len() > i + hashes =>
                        {
                            i += hashes;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            '\'' => match (chars.get(i + 1), chars.get(i + 2)) {
                (Some('\\'), _) => {
                    i += 3;
                    while *chars.get(i)? != '\'' {
                        i += 1;
                    }
                }
                (Some(_), Some('\'')) => i += 2,
                // A lifetime.
                _ => {}
            },
            '/' if matches!(chars.get(i + 1), Some('/' | '*')) => {
                i = skip_trivia(chars, i)?;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// What `expand` makes of an item it cannot sandboxed: the item as it came, so that the rest of
/// the program (and an IDE) still sees the function, beside the error. Not made a test (an
/// `async fn` would add an error of its own), so not used either: no dead-code warning on top.
fn fallback(item: TokenStream2) -> TokenStream2 {
    match syn::parse2::<TestFn>(item.clone()) {
        Ok(TestFn {
            attrs,
            vis,
            sig,
            body,
        }) => quote! {
            #(#attrs)*
            #[allow(dead_code)]
            #vis #sig #body
        },
        Err(_) => item,
    }
}

fn expand(raw_args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let args = parse_args(raw_args.clone())?;
    let func: TestFn = syn::parse2(item)
        .map_err(|e| syn::Error::new(e.span(), "#[sandboxed] goes on a test function"))?;

    // A function with parameters is no test by itself: some attribute (`#[rstest]`,
    // `#[test_case]`, above or below) calls it from its tests.
    let has_params = !func.sig.inputs.is_empty();
    // Written above `#[rstest]` or `#[test_case]` on the function their tests call: we go
    // below them (the same arguments, marked), so that each test they write reaches us as a
    // function of its own, with its own case's attributes: a `#[should_panic]` between
    // `#[case]`s, or `=> panics`, is one case's, and only there can we see whose it is.
    if has_params && !args.moved_below && func.attrs.iter().any(is_case_generator) {
        let TestFn {
            attrs,
            vis,
            sig,
            body,
        } = func;
        return Ok(quote! {
            #(#attrs)*
            #[::sandboxed::sandboxed(__moved_below = true, #raw_args)]
            #vis #sig #body
        });
    }
    // (After the move: a generator may write the runtime's attribute itself, as rstest's
    // `#[test_attr(tokio::test)]` does.)
    let is_async = func.sig.asyncness.is_some();
    if is_async && !func.attrs.iter().any(is_async_runtime_attr) {
        return err(
            func.sig.asyncness,
            "#[sandboxed] on an async fn needs a runtime's test attribute, such as #[tokio::test] (above or below it)",
        );
    }
    // A test that expects a panic of its body and one that expects its process to end some way
    // cannot both pass: one of them would be a test that cannot succeed.
    if let Some(attr) = should_panic_attr(&func.attrs)
        && (args.expect_exit.is_some() || args.expect_signal.is_some())
    {
        return err(
            attr.path(),
            "#[should_panic] and #[sandboxed(expect_exit/expect_signal = ...)] exclude each other: \
             a body that panics exits with status 101; to expect that, drop #[should_panic] and \
             write expect_exit = 101",
        );
    }
    // Moved below a case generator, which writes the `#[test]` of each case itself.
    let needs_test_attr = !has_params
        && !args.moved_below
        && !func.attrs.iter().any(is_test_attr)
        && !test_attr_written_above();

    let ret_ty: TokenStream2 = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let fn_name = func.sig.ident.to_string();
    let expected_panic = expected_panic(&func.attrs, has_params);
    let spec = spec_tokens(&args, &fn_name, expected_panic.as_ref());
    let body = func.closure_body();
    let span = Span::call_site();

    // Beside the function, not in it: a test function disappears from non-test builds, and the
    // type error should not.
    let config_check = args.config.as_ref().map(|path| {
        quote_spanned! {path.span()=>
            const _: fn() -> ::sandboxed::Sandbox = #path;
        }
    });

    let new_body = if is_async {
        quote_spanned! {span=>
            {
                #spec
                match ::sandboxed::__private::enter::<#ret_ty>(&__SANDBOXED_SPEC) {
                    ::sandboxed::__private::Role::Outside(result) => result,
                    ::sandboxed::__private::Role::Inside(guard) => guard.run_async(async move #body).await,
                }
            }
        }
    } else {
        quote_spanned! {span=>
            {
                #spec
                match ::sandboxed::__private::enter::<#ret_ty>(&__SANDBOXED_SPEC) {
                    ::sandboxed::__private::Role::Outside(result) => result,
                    ::sandboxed::__private::Role::Inside(guard) => guard.run(move || -> #ret_ty #body),
                }
            }
        }
    };
    let test_attr = if needs_test_attr {
        quote!(#[::core::prelude::v1::test])
    } else {
        quote!()
    };
    let TestFn {
        attrs, vis, sig, ..
    } = func;
    Ok(quote! {
        #config_check
        #test_attr
        #(#attrs)*
        #vis #sig #new_body
    })
}

fn opt<T: quote::ToTokens>(v: &Option<T>) -> TokenStream2 {
    match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// What the test's `#[should_panic]` expects (written above ours or below, we see it: an
/// attribute macro gets every attribute of the item but its own): `Some(None)` for any panic,
/// `Some(Some(text))` for `expected = "text"` (or `#[should_panic = "text"]`).
///
/// `None` without one, for a form we do not read (libtest takes it for a bare
/// `#[should_panic]`, with a warning; the runtime then treats the test as one that expects no
/// panic: it prints every backtrace, and a crash is a panic of the parent's, which that bare
/// expectation meets), and wherever we cannot tell which test it belongs to: a function with
/// parameters left to us by an `#[rstest]` or `#[test_case]` above (one below, we move under:
/// see `expand`), whose `#[should_panic]` between `#[case]`s is one case's. The runtime trusts
/// `Some`: it fails the test, rather than panicking, for any failure other than the body's own
/// panic.
fn should_panic_attr(attrs: &[Attribute]) -> Option<&Attribute> {
    attrs.iter().find(|a| a.path().is_ident("should_panic"))
}

fn expected_panic(attrs: &[Attribute], has_params: bool) -> Option<Option<String>> {
    if has_params {
        return None;
    }
    let attr = should_panic_attr(attrs)?;
    let text = |e: &Expr| match e {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    };
    match &attr.meta {
        syn::Meta::Path(_) => Some(None),
        syn::Meta::NameValue(nv) => text(&nv.value).map(Some),
        syn::Meta::List(list) => {
            let nv: MetaNameValue = list.parse_args().ok()?;
            (nv.path.is_ident("expected"))
                .then(|| text(&nv.value))
                .flatten()
                .map(Some)
        }
    }
}

fn spec_tokens(
    args: &Args,
    fn_name: &str,
    expected_panic: Option<&Option<String>>,
) -> TokenStream2 {
    let net = opt(&args.net);
    let fixture = match &args.fixture {
        Some((rel, lit)) => {
            let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
            quote_spanned!(lit.span()=> ::core::option::Option::Some((#rel, #manifest)))
        }
        None => quote!(::core::option::Option::None),
    };
    let timeout = opt(&args.timeout_ms);
    let memory = opt(&args.memory);
    let pids = opt(&args.pids);
    let cpu = opt(&args.cpu_ms);
    let seccomp = opt(&args.seccomp);
    let deny = &args.deny;
    let allow = &args.allow;
    let expect_exit = opt(&args.expect_exit);
    let expect_signal = opt(&args.expect_signal);
    let config = match &args.config {
        Some(path) => quote!(::core::option::Option::Some(#path as fn() -> ::sandboxed::Sandbox)),
        None => quote!(::core::option::Option::None),
    };
    let expected_panic = match expected_panic {
        Some(Some(text)) => {
            quote!(::core::option::Option::Some(::core::option::Option::Some(#text)))
        }
        Some(None) => quote!(::core::option::Option::Some(::core::option::Option::None)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        static __SANDBOXED_SPEC: ::sandboxed::__private::Spec = ::sandboxed::__private::Spec {
            fn_name: #fn_name,
            module_path: ::core::module_path!(),
            manifest_dir: ::core::env!("CARGO_MANIFEST_DIR"),
            net: #net,
            fixture: #fixture,
            timeout_ms: #timeout,
            memory: #memory,
            pids: #pids,
            cpu_ms: #cpu,
            seccomp: #seccomp,
            deny: &[#(#deny),*],
            allow: &[#(#allow),*],
            expect_exit: #expect_exit,
            expect_signal: #expect_signal,
            config: #config,
            expected_panic: #expected_panic,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::attrs_written_before;

    fn paths(text: &str) -> Vec<String> {
        attrs_written_before(text)
            .into_iter()
            .map(|p| p.join("::"))
            .collect()
    }

    #[test]
    fn reads_the_attributes_of_this_item_only() {
        let text = "#[test]\nfn other() {}\n\n/// Docs, with #[test] in them.\n#[test_case(1 ; \"a]\")]\n#[case('[')]\n";
        assert_eq!(paths(text), ["test_case", "case"]);
    }

    #[test]
    fn comments_and_strings_are_no_attributes() {
        assert!(paths("fn a() {}\n// #[test]\n/* #[test] */\n").is_empty());
        assert!(paths("const S: &str = \"\n#[test]\n\";\n").is_empty());
        assert!(paths("let a = 1; // b; #[test]\n").is_empty());
    }

    #[test]
    fn on_one_line_and_across_lines() {
        assert_eq!(paths("mod m { #[test] "), ["test"]);
        assert_eq!(paths("fn a() {} #[tokio :: test] "), ["tokio::test"]);
        assert_eq!(
            paths(
                "}\n#[test_case::test_case(\n    1;\n    \"one\"\n)]\n#[::core::prelude::v1::test]\n"
            ),
            ["test_case::test_case", "core::prelude::v1::test"]
        );
        assert_eq!(paths("#![allow(x)]\n#[rstest]\n"), ["rstest"]);
        assert_eq!(paths("#[test_case(r#\"a\"]\"#)]\n"), ["test_case"]);
    }

    #[test]
    fn what_should_panic_expects() {
        let of_fn = |text: &str| {
            let f: syn::ItemFn = syn::parse_str(text).unwrap();
            super::expected_panic(&f.attrs, !f.sig.inputs.is_empty())
        };
        let of = |attrs: &str| of_fn(&format!("{attrs} fn f() {{}}"));
        let some = |t: &str| Some(Some(t.to_owned()));
        assert_eq!(of("#[test]"), None);
        assert_eq!(of("#[should_panic]"), Some(None));
        assert_eq!(
            of("#[inline] #[should_panic(expected = \"boom\")]"),
            some("boom")
        );
        assert_eq!(of("#[should_panic = \"boom\"]"), some("boom"));
        assert_eq!(
            of("#[should_panic(expected = r\"a \\ b\")]"),
            some("a \\ b")
        );
        // Forms libtest warns of (and takes for a bare one): not read.
        assert_eq!(of("#[should_panic(expect = \"boom\")]"), None);
        assert_eq!(of("#[should_panic(expected = 42)]"), None);
        // Whose is it? One case's, or each case's: not for us to say.
        assert_eq!(
            of_fn("#[rstest] #[case(1)] #[should_panic] #[case(2)] fn f(#[case] x: u8) {}"),
            None
        );
        assert_eq!(of_fn("#[should_panic] fn f(x: u8) {}"), None);
    }
}
