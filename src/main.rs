//! The `replyguard` binary: see [`replyguard::cli`].

fn main() -> std::process::ExitCode {
    replyguard::cli::main()
}
