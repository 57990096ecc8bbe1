//! The orders (see the crate docs of `wireloom_microservices`).
//!
//! ```text
//! orders --runtime blocking|tokio [--listen ADDR] [--threads N] ...
//! ```

fn main() -> std::process::ExitCode {
    wireloom_microservices::main(wireloom_microservices::app::Role::Orders)
}
