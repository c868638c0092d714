//! prescale: scales Kubernetes Deployments ahead of load.
//!
//! One data path: metric sources produce an [`core::Observation`], the pure
//! [`core::decide`] turns it into a [`core::Decision`] with its reasons, and a sink
//! (the Kubernetes actuator, the shadow report, or the bench's queue model) consumes it.

#![warn(missing_docs)]

pub mod actuator;
pub mod backtest;
pub mod cli;
pub mod config;
pub mod controller;
pub mod core;
pub mod forecast;
pub mod heap;
pub mod leader;
pub mod live_report;
pub mod metrics;
pub mod permissions;
pub mod reload;
pub mod server;
pub mod simulate;
pub mod telemetry;
pub mod tune;
