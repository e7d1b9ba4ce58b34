//! The standard library's sources, embedded into the compiler.
//!
//! Takes a module path such as `std::filters`; gives the `.twin` text of
//! that module from `stdlib/`, compiled into the binary so `twinc` is one
//! file with nothing to install beside it.

/// Every stdlib module: (path, source).
pub const MODULES: &[(&str, &str)] = &[
    (
        "std::filters",
        include_str!("../../stdlib/std/filters.twin"),
    ),
    (
        "std::control",
        include_str!("../../stdlib/std/control.twin"),
    ),
    (
        "std::anomaly",
        include_str!("../../stdlib/std/anomaly.twin"),
    ),
    (
        "std::maintenance",
        include_str!("../../stdlib/std/maintenance.twin"),
    ),
    (
        "std::physics",
        include_str!("../../stdlib/std/physics.twin"),
    ),
];

/// The source of the stdlib module with this path.
pub fn module(path: &str) -> Option<&'static str> {
    MODULES.iter().find(|(p, _)| *p == path).map(|(_, s)| *s)
}
