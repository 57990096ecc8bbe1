//! Placeholder; the parse benchmark lands with the bench branch.
fn main() {}
