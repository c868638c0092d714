//! Command-line subcommands: each parses its own arguments and wires the library together.

pub mod simulate;
