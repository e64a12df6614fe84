fn main() -> std::process::ExitCode {
    rebound::cli::main()
}
