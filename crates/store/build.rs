//! `sqlx::migrate!` embeds the migration folders at compile time, but cargo does not know
//! to rebuild when a migration is added: say so.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
