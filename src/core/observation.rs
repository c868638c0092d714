//! What a metric source saw at one tick.

/// One tick's view of a target. A metric that is missing or stale is `None`, never NaN.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observation {
    /// Seconds since an arbitrary, fixed epoch (the controller uses Unix time, the bench 0).
    pub t: f64,
    /// Documents waiting in the queue now.
    pub queue_depth: Option<f64>,
    /// Documents that arrived per second over the last interval.
    pub arrival_rate: Option<f64>,
    /// Documents completed per second over the last interval.
    pub completion_rate: Option<f64>,
    /// Queue wait (p95, or the wait of the document dequeued now), seconds.
    pub wait_s: Option<f64>,
    /// Ready replicas over the last interval.
    pub ready: u32,
    /// Replicas that exist now (ready plus starting): the Deployment's `spec.replicas`.
    pub current: u32,
}
