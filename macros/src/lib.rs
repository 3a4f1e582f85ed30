//! Procedural macros for [`sandboxed`](https://docs.rs/sandboxed). Use them through that crate.
//!
//! This crate only parses and generates code: `#[sandboxed(...)]` validates its arguments at
//! compile time (with errors pointing at the offending token) and rewrites the test function to
//! call `sandboxed::__private`, where all runtime logic lives.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, ItemFn, Lit, LitStr, MetaNameValue, ReturnType, Token};

/// System call names (of x86_64 and aarch64: a proc macro runs on the host's architecture, not
/// the target's) and seccomp preset names, shared with the runtime.
use sandboxed_tables::syscalls as names;

/// Run a test's body in a fresh sandboxed child process. See the `sandboxed` crate.
#[proc_macro_attribute]
pub fn sandboxed(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
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

fn attr_is(attr: &Attribute, names: &[&str]) -> bool {
    let segments: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    names.iter().any(|n| {
        let want: Vec<&str> = n.split("::").collect();
        segments.len() >= want.len()
            && segments[segments.len() - want.len()..]
                .iter()
                .zip(&want)
                .all(|(a, b)| a == b)
    })
}

/// An attribute that makes the function a test by itself (`#[test]`, `#[tokio::test]`, ...).
fn is_test_attr(attr: &Attribute) -> bool {
    let last = attr
        .path()
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    last == "test" || attr_is(attr, &["rstest", "test_case", "case"])
}

/// A runtime attribute that drives an async test (`#[tokio::test]`, `#[async_std::test]`, ...).
fn is_async_runtime_attr(attr: &Attribute) -> bool {
    attr.path().segments.len() >= 2
        && attr
            .path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "test")
}

/// Whether a `#[test]` is written above our attribute in the source.
///
/// Attributes expand outermost first, and libtest's `#[test]` hands the function on unchanged but
/// without itself: `#[test] #[sandboxed] fn f()` and a bare `#[sandboxed] fn f()` reach us alike.
/// Adding `#[test]` to the first would register the test twice, so we read the attributes written
/// above ours, from the file and line our invocation comes from.
fn test_attr_written_above() -> bool {
    let site = proc_macro::Span::call_site();
    let (Some(file), line, column) = (site.local_file(), site.line(), site.column()) else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let lines: Vec<&str> = text.lines().collect();
    // Attributes before ours on its own line (`#[test] #[sandboxed] fn f()`, as in macros)...
    let before: String = lines
        .get(line.saturating_sub(1))
        .map(|l| l.chars().take(column.saturating_sub(1)).collect())
        .unwrap_or_default();
    let mut region = match before.trim_end().chars().last() {
        Some('{' | '}' | ';') => String::new(),
        _ => before,
    };
    // ...and on the lines above, while they belong to this item's attributes and doc comments;
    // stop at the end of the previous item.
    for l in lines.iter().take(line.saturating_sub(1)).rev() {
        let t = l.trim();
        if t.ends_with('}') || t.ends_with(';') || t.ends_with('{') {
            break;
        }
        region.insert(0, '\n');
        region.insert_str(0, t);
    }
    let compact: String = region.chars().filter(|c| !c.is_whitespace()).collect();
    [
        "#[test]",
        "#[::core::prelude::v1::test]",
        "#[core::prelude::v1::test]",
        "#[std::prelude::v1::test]",
    ]
    .iter()
    .any(|attr| compact.contains(attr))
}

fn expand(args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let args = parse_args(args)?;
    let mut func: ItemFn = syn::parse2(item)
        .map_err(|e| syn::Error::new(e.span(), "#[sandboxed] goes on a test function"))?;

    let is_async = func.sig.asyncness.is_some();
    if is_async && !func.attrs.iter().any(is_async_runtime_attr) {
        return err(
            func.sig.asyncness,
            "#[sandboxed] on an async fn needs a runtime's test attribute, such as #[tokio::test] (above or below it)",
        );
    }
    let has_params = !func.sig.inputs.is_empty();
    let is_rstest = func.attrs.iter().any(|a| attr_is(a, &["rstest"]));
    let needs_test_attr = !has_params
        && !is_rstest
        && !func.attrs.iter().any(is_test_attr)
        && !test_attr_written_above();

    let ret_ty: TokenStream2 = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let fn_name = func.sig.ident.to_string();
    let spec = spec_tokens(&args, &fn_name);
    let body = &func.block;
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
    *func.block = syn::parse2(new_body)?;
    let test_attr = if needs_test_attr {
        quote!(#[::core::prelude::v1::test])
    } else {
        quote!()
    };
    Ok(quote! {
        #config_check
        #test_attr
        #func
    })
}

fn opt<T: quote::ToTokens>(v: &Option<T>) -> TokenStream2 {
    match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn spec_tokens(args: &Args, fn_name: &str) -> TokenStream2 {
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
    quote! {
        static __SANDBOXED_SPEC: ::sandboxed::__private::Spec = ::sandboxed::__private::Spec {
            fn_name: #fn_name,
            module_path: ::core::module_path!(),
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
        };
    }
}
