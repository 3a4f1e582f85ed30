//! A tiny text tool: the library behind the `demo-cli` binary.

/// A greeting for `name`.
pub fn greet(name: &str) -> String {
    format!("hello, {name}!")
}

/// Words and lines of `text`.
pub fn count(text: &str) -> (usize, usize) {
    (text.split_whitespace().count(), text.lines().count())
}

/// `text` with each word's first letter upper-cased. Called only from the sandboxed tests, so a
/// coverage report shows whether sandboxed bodies are measured at all.
pub fn title_case(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
