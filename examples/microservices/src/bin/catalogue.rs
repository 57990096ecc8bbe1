//! The catalogue (see the crate docs of `wireloom_microservices`).
//!
//! ```text
//! catalogue --runtime blocking|tokio [--listen ADDR] [--threads N] ...
//! ```

fn main() -> std::process::ExitCode {
    wireloom_microservices::main(wireloom_microservices::app::Role::Catalogue)
}
