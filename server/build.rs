//! Rebuilds the server when trunk writes a new page into ../dist (rust-embed embeds it).
fn main() {
    println!("cargo:rerun-if-changed=../dist");
}
