//! Forecasters.
