//! Shared queries (`queries:` in the config): one PromQL query serves every target that
//! refers to it. Its instant result is fetched at most once per interval and split among the
//! targets by labels ([`SharedInstant`]); its history is fetched once for all the targets
//! that start together, and handed to each as it arrives ([`SharedBackfill`]).

mod backfill;
mod instant;
mod select;

pub use backfill::{BACKFILL_STEP, HistoryWant, POINTS_PER_QUERY, SharedBackfill};
pub use instant::{SharedInstant, Want};
pub use select::{Labelled, Selector};
