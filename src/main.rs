fn main() -> std::process::ExitCode {
    rebound::memory::tune();
    rebound::cli::main()
}
