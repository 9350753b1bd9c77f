//! The migrations are embedded in the binary (`embed_migrations!`): rebuild when one changes.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
