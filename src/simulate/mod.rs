//! The bench of `shared/BENCH.md`: queue model, reference policies, scoring.
