//! Validates policy files and prints every problem: `cargo run --example validate -- FILE...`
use sentinel_policy::CompiledPolicy;

fn main() -> std::process::ExitCode {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
                continue;
            }
        };
        match CompiledPolicy::parse(&text, &path) {
            Ok(p) => println!("{path}: ok ({} rules)", p.rule_count()),
            Err(e) => {
                failed = true;
                match e.problems() {
                    Some(list) => eprintln!("{list}"),
                    None => eprintln!("{e}"),
                }
            }
        }
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
