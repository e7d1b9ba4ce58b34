//! The twin runtime: running checked models against data.
//!
//! Takes checked programs from the compiler and telemetry from files or
//! the network; gives simulations, histories and actuator commands. For
//! now it holds [`input`], the reader of telemetry CSV files (`twinc sim
//! --inputs`, scenario `csv(...)` replays), which applies the data-quality
//! rules every source shares (a bad cell is rejected and counted, never
//! applied, never fatal), and [`sim`], which runs a model tick by tick
//! against such data; [`runs`] prepares `scenario` and `test` blocks and
//! runs tests, and [`scenario`] runs what-if scenarios into a report.

pub mod input;
pub mod live;
pub mod runs;
pub mod scenario;
pub mod sim;
