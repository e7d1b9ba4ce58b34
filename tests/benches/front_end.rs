//! Front-end speed: lex + parse + check of a generated 10,000-line model,
//! with parse alone alongside so the share of each phase shows in one run.

/// The allocator `twinc` uses, so the figures are what the binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_main};
use std::hint::black_box;
use twin_compiler::check::check;
use twin_compiler::source::Sources;
use twin_compiler::span::FileId;

fn front_end(c: &mut Criterion) {
    let text = twin_tests::generated_model(10_000);
    let lines = text.lines().count() as u64;
    let mut group = c.benchmark_group("front_end_10k_lines");
    group.throughput(Throughput::Elements(lines));
    group.sample_size(20);
    group.bench_function("lex", |b| {
        b.iter(|| {
            twin_compiler::syntax::lexer::lex(black_box(&text), FileId(0))
                .tokens
                .len()
        })
    });
    group.bench_function("parse", |b| {
        b.iter(|| {
            twin_compiler::syntax::parse(black_box(&text), FileId(0))
                .module
                .items
                .len()
        })
    });
    group.bench_function("parse_and_check", |b| {
        b.iter(|| {
            let mut sources = Sources::new();
            let root = sources.add("bench.twin", black_box(text.clone()));
            check(&mut sources, root).diagnostics.len()
        })
    });
    group.finish();
}

// The macro generates an undocumented function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::front_end);
}
use group::benches;
criterion_main!(benches);
