//! The `credprobe` binary: everything lives in the library; this only hands
//! the process's arguments to it and turns the outcome into an exit code.

fn main() -> std::process::ExitCode {
    credprobe::cli::main()
}
