//! Prints the generated benchmark model (for profiling and for trying the
//! CLI on a big file): `cargo run -p twin-tests --example gen_model -- 10000`.
fn main() {
    let lines = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    print!("{}", twin_tests::generated_model(lines));
}
