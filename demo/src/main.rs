//! `demo-cli greet NAME` | `demo-cli count FILE`

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["greet", name] => println!("{}", sandboxed_demo_cli::greet(name)),
        ["count", file] => match std::fs::read_to_string(file) {
            Ok(text) => {
                let (words, lines) = sandboxed_demo_cli::count(&text);
                println!("{words} words, {lines} lines");
            }
            Err(e) => {
                eprintln!("demo-cli: {file}: {e}");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("usage: demo-cli greet NAME | demo-cli count FILE");
            std::process::exit(64);
        }
    }
}
