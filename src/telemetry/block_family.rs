//! The series every target has, kept together: one block of atomics per target instead of
//! a `Family` entry per series. A prometheus-client `Family` keeps, per series, a hash-map
//! slot with its labels and an `Arc`'d value (a histogram: a mutex and a vector of buckets),
//! about 3.5 KB a target over its ~23 series; a block is 336 bytes and one map entry.
//!
//! A [`BlockFamily`] is one metric's view of the blocks: its slots in every block, which it
//! encodes when `/metrics` is scraped with the same name, help, type, labels and values as a
//! `Family` of the same metric. Its API is a `Family`'s (`get_or_create`, `get`, `remove`,
//! `clear`), and the handles it gives share the block's value as a `Family`'s share theirs.

use super::metrics::{SCHEDULES, ScheduleLabels, TargetLabels};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Values in a block: every per-target block family's slots (see `Telemetry::new`).
const SLOTS: usize = 41;

/// One target's values: each as the bits of an `i64` or an `f64`, and which series exist.
#[derive(Debug)]
pub struct Block {
    /// Bit `s` set: the series whose first slot is `s` exists.
    present: AtomicU64,
    values: [AtomicU64; SLOTS],
}

impl Block {
    fn new() -> Self {
        Block {
            present: AtomicU64::new(0),
            values: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn value(&self, slot: usize) -> &AtomicU64 {
        &self.values[slot]
    }
}

/// Every target's block, and the slots handed out to families.
#[derive(Debug, Default)]
pub struct Blocks {
    targets: RwLock<HashMap<TargetLabels, Arc<Block>>>,
    allocated: AtomicUsize,
}

impl Blocks {
    fn read(&self) -> RwLockReadGuard<'_, HashMap<TargetLabels, Arc<Block>>> {
        self.targets.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<TargetLabels, Arc<Block>>> {
        self.targets.write().unwrap_or_else(|p| p.into_inner())
    }

    /// `width` slots for a new family: its first.
    fn allocate(&self, width: usize) -> usize {
        let first = self.allocated.fetch_add(width, Ordering::Relaxed);
        // The families are a fixed table (`Telemetry`): any test that builds one finds an
        // overflow, which is a change of code, never of input.
        assert!(
            first + width <= SLOTS,
            "telemetry block families need more than {SLOTS} slots: raise block_family::SLOTS"
        );
        first
    }

    /// The block of `target` with the series at `slot` (`width` values) created: zeroed, if
    /// it did not exist.
    fn create(&self, target: &TargetLabels, slot: usize, width: usize) -> Arc<Block> {
        let bit = 1u64 << slot;
        if let Some(block) = self.read().get(target)
            && block.present.load(Ordering::Acquire) & bit != 0
        {
            return block.clone();
        }
        let mut targets = self.write();
        let block = targets
            .entry(target.clone())
            .or_insert_with(|| Arc::new(Block::new()));
        if block.present.load(Ordering::Acquire) & bit == 0 {
            for v in &block.values[slot..slot + width] {
                v.store(0, Ordering::Relaxed);
            }
            block.present.fetch_or(bit, Ordering::AcqRel);
        }
        block.clone()
    }

    /// The block of `target` if its series at `slot` exists.
    fn get(&self, target: &TargetLabels, slot: usize) -> Option<Arc<Block>> {
        self.read()
            .get(target)
            .filter(|b| b.present.load(Ordering::Acquire) & (1u64 << slot) != 0)
            .cloned()
    }

    /// Remove the series at `slot` of `target`, and its block once it has none.
    fn remove(&self, target: &TargetLabels, slot: usize) -> bool {
        let bit = 1u64 << slot;
        let mut targets = self.write();
        let Some(block) = targets.get(target) else {
            return false;
        };
        let before = block.present.fetch_and(!bit, Ordering::AcqRel);
        if before & !bit == 0 {
            targets.remove(target);
        }
        before & bit != 0
    }
}

/// What a family's series are labelled by: a target's labels, and which of its series.
pub trait SeriesKey: Sized {
    /// Series of one family per target.
    const PER_TARGET: usize;
    /// The target and which of its series (`< PER_TARGET`); `None` for a key no series
    /// of this family can have.
    fn split(&self) -> (&TargetLabels, Option<usize>);
    /// Encode the series `sub` of `target` with `encode`.
    fn encode_series(
        target: &TargetLabels,
        sub: usize,
        encoder: &mut MetricEncoder,
        encode: impl FnOnce(MetricEncoder) -> Result<(), std::fmt::Error>,
    ) -> Result<(), std::fmt::Error>;
}

impl SeriesKey for TargetLabels {
    const PER_TARGET: usize = 1;

    fn split(&self) -> (&TargetLabels, Option<usize>) {
        (self, Some(0))
    }

    fn encode_series(
        target: &TargetLabels,
        _sub: usize,
        encoder: &mut MetricEncoder,
        encode: impl FnOnce(MetricEncoder) -> Result<(), std::fmt::Error>,
    ) -> Result<(), std::fmt::Error> {
        encode(encoder.encode_family(target)?)
    }
}

impl SeriesKey for ScheduleLabels {
    const PER_TARGET: usize = SCHEDULES.len();

    fn split(&self) -> (&TargetLabels, Option<usize>) {
        (
            &self.target,
            SCHEDULES.iter().position(|s| *s == self.schedule),
        )
    }

    fn encode_series(
        target: &TargetLabels,
        sub: usize,
        encoder: &mut MetricEncoder,
        encode: impl FnOnce(MetricEncoder) -> Result<(), std::fmt::Error>,
    ) -> Result<(), std::fmt::Error> {
        let labels = ScheduleLabels {
            target: target.clone(),
            schedule: SCHEDULES[sub],
        };
        encode(encoder.encode_family(&labels)?)
    }
}

/// A metric type kept in block slots.
pub trait Kind {
    /// Its OpenMetrics type.
    const TYPE: MetricType;
    /// Slots one series takes.
    const WIDTH: usize;
    /// Encode the series held in `values` (`WIDTH` of them).
    fn encode(values: &[AtomicU64], encoder: MetricEncoder) -> Result<(), std::fmt::Error>;
}

/// An `i64` gauge (as prometheus-client's `Gauge`).
#[derive(Debug)]
pub struct IntGaugeKind;
/// An `f64` gauge.
#[derive(Debug)]
pub struct FloatGaugeKind;
/// An `f64` counter (its samples named `_total`).
#[derive(Debug)]
pub struct FloatCounterKind;
/// A tick's duration: the buckets of [`tick_buckets`], their sum and count.
#[derive(Debug)]
pub struct TickHistogramKind;

/// Upper bounds of the tick-duration histogram's buckets besides `+Inf`: 5 ms .. ~40 s (a
/// tick is a few API calls and queries; anything near the interval is slow).
pub fn tick_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.005, 2.0, TICK_BOUNDS as u16)
}

const TICK_BOUNDS: usize = 14;

fn float(v: &AtomicU64) -> f64 {
    f64::from_bits(v.load(Ordering::Relaxed))
}

impl Kind for IntGaugeKind {
    const TYPE: MetricType = MetricType::Gauge;
    const WIDTH: usize = 1;
    fn encode(values: &[AtomicU64], mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&(values[0].load(Ordering::Relaxed) as i64))
    }
}

impl Kind for FloatGaugeKind {
    const TYPE: MetricType = MetricType::Gauge;
    const WIDTH: usize = 1;
    fn encode(values: &[AtomicU64], mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&float(&values[0]))
    }
}

impl Kind for FloatCounterKind {
    const TYPE: MetricType = MetricType::Counter;
    const WIDTH: usize = 1;
    fn encode(values: &[AtomicU64], mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&float(&values[0]), None)
    }
}

impl Kind for TickHistogramKind {
    const TYPE: MetricType = MetricType::Histogram;
    /// A count per bucket (`+Inf` last), the sum, the count.
    const WIDTH: usize = TICK_BOUNDS + 3;
    fn encode(values: &[AtomicU64], mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut buckets = [(f64::INFINITY, 0u64); TICK_BOUNDS + 1];
        for (bucket, bound) in buckets.iter_mut().zip(tick_buckets()) {
            bucket.0 = bound;
        }
        for (bucket, count) in buckets.iter_mut().zip(values) {
            bucket.1 = count.load(Ordering::Relaxed);
        }
        let sum = float(&values[TICK_BOUNDS + 1]);
        let count = values[TICK_BOUNDS + 2].load(Ordering::Relaxed);
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }
}

/// One metric's series, one per target (per target and schedule for [`ScheduleLabels`]),
/// kept in the targets' blocks.
pub struct BlockFamily<K, V> {
    blocks: Arc<Blocks>,
    first: usize,
    kind: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for BlockFamily<K, V> {
    fn clone(&self) -> Self {
        BlockFamily {
            blocks: self.blocks.clone(),
            first: self.first,
            kind: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for BlockFamily<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockFamily")
            .field("first", &self.first)
            .finish()
    }
}

impl<K: SeriesKey, V: Kind> BlockFamily<K, V> {
    /// A family with slots of its own in `blocks`.
    pub fn new(blocks: &Arc<Blocks>) -> Self {
        BlockFamily {
            blocks: blocks.clone(),
            first: blocks.allocate(V::WIDTH * K::PER_TARGET),
            kind: PhantomData,
        }
    }

    fn slot(&self, sub: usize) -> usize {
        self.first + sub * V::WIDTH
    }

    /// The series of `key`, created (at zero) if it does not exist.
    pub fn get_or_create(&self, key: &K) -> Cell<V> {
        self.get_or_create_owned(key)
    }

    /// As [`BlockFamily::get_or_create`] (a `Family`'s name for a handle kept).
    pub fn get_or_create_owned(&self, key: &K) -> Cell<V> {
        match key.split() {
            (target, Some(sub)) => {
                let slot = self.slot(sub);
                Cell::new(self.blocks.create(target, slot, V::WIDTH), slot)
            }
            // No such series can exist (a schedule not in SCHEDULES): a handle on nothing
            // exported.
            (_, None) => Cell::new(Arc::new(Block::new()), self.first),
        }
    }

    /// The series of `key`, if it exists.
    pub fn get(&self, key: &K) -> Option<Cell<V>> {
        let (target, sub) = key.split();
        let slot = self.slot(sub?);
        self.blocks.get(target, slot).map(|b| Cell::new(b, slot))
    }

    /// Remove the series of `key`; whether it existed.
    pub fn remove(&self, key: &K) -> bool {
        match key.split() {
            (target, Some(sub)) => self.blocks.remove(target, self.slot(sub)),
            (_, None) => false,
        }
    }

    /// Drop every target's block: the series of **every** block family at once (what a
    /// change of leadership does). Handles taken before write to dropped blocks, as a
    /// `Family`'s do after its `clear`.
    pub fn clear(&self) {
        self.blocks.write().clear();
    }
}

impl<K, V: Kind> TypedMetric for BlockFamily<K, V> {
    const TYPE: MetricType = V::TYPE;
}

impl<K: SeriesKey, V: Kind> EncodeMetric for BlockFamily<K, V> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let targets = self.blocks.read();
        for (target, block) in targets.iter() {
            let present = block.present.load(Ordering::Acquire);
            for sub in 0..K::PER_TARGET {
                let slot = self.slot(sub);
                if present & (1u64 << slot) == 0 {
                    continue;
                }
                let values = &block.values[slot..slot + V::WIDTH];
                K::encode_series(target, sub, &mut encoder, |e| V::encode(values, e))?;
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        V::TYPE
    }
}

/// A handle on one series: its target's block and its slot.
pub struct Cell<V> {
    block: Arc<Block>,
    slot: u8,
    kind: PhantomData<fn() -> V>,
}

impl<V> Clone for Cell<V> {
    fn clone(&self) -> Self {
        Cell {
            block: self.block.clone(),
            slot: self.slot,
            kind: PhantomData,
        }
    }
}

impl<V> std::fmt::Debug for Cell<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell").field("slot", &self.slot).finish()
    }
}

impl<V> Cell<V> {
    fn new(block: Arc<Block>, slot: usize) -> Self {
        Cell {
            block,
            // Below SLOTS (41): `Blocks::allocate` checks.
            slot: slot as u8,
            kind: PhantomData,
        }
    }

    fn value(&self, offset: usize) -> &AtomicU64 {
        self.block.value(usize::from(self.slot) + offset)
    }

    fn add_float(&self, offset: usize, v: f64) -> f64 {
        let cell = self.value(offset);
        let mut old = cell.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(old) + v).to_bits();
            match cell.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return f64::from_bits(old),
                Err(now) => old = now,
            }
        }
    }
}

impl Cell<IntGaugeKind> {
    /// Set the value; the previous one.
    pub fn set(&self, v: i64) -> i64 {
        self.value(0).swap(v as u64, Ordering::Relaxed) as i64
    }

    /// The value.
    pub fn get(&self) -> i64 {
        self.value(0).load(Ordering::Relaxed) as i64
    }
}

impl Cell<FloatGaugeKind> {
    /// Set the value; the previous one.
    pub fn set(&self, v: f64) -> f64 {
        f64::from_bits(self.value(0).swap(v.to_bits(), Ordering::Relaxed))
    }

    /// The value.
    pub fn get(&self) -> f64 {
        float(self.value(0))
    }
}

impl Cell<FloatCounterKind> {
    /// Add `v`; the value before.
    pub fn inc_by(&self, v: f64) -> f64 {
        self.add_float(0, v)
    }

    /// The value.
    pub fn get(&self) -> f64 {
        float(self.value(0))
    }
}

impl Cell<TickHistogramKind> {
    /// Count one tick of `seconds` (a NaN in the `+Inf` bucket, as prometheus-client does).
    pub fn observe(&self, seconds: f64) {
        let bucket = if seconds.is_nan() {
            TICK_BOUNDS
        } else {
            tick_buckets()
                .position(|upper| upper >= seconds)
                .unwrap_or(TICK_BOUNDS)
        };
        self.value(bucket).fetch_add(1, Ordering::Relaxed);
        self.add_float(TICK_BOUNDS + 1, seconds);
        self.value(TICK_BOUNDS + 2).fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode_registry;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;

    fn labels(i: usize) -> TargetLabels {
        TargetLabels {
            target: format!("t{i}").into(),
            namespace: "ns".into(),
            deployment: format!("d\"{i}").into(),
        }
    }

    /// Sorted lines: a family's series come in hash order, in both encodings.
    fn page(r: &Registry) -> Vec<String> {
        let mut out = String::new();
        encode_registry(&mut out, r).unwrap_or_default();
        let mut lines: Vec<String> = out.lines().map(String::from).collect();
        lines.sort();
        lines
    }

    #[test]
    fn block_families_encode_as_prometheus_client_families_of_the_same_metrics() {
        let blocks = Arc::new(Blocks::default());
        let int = BlockFamily::<TargetLabels, IntGaugeKind>::new(&blocks);
        let float = BlockFamily::<TargetLabels, FloatGaugeKind>::new(&blocks);
        let counter = BlockFamily::<ScheduleLabels, FloatCounterKind>::new(&blocks);
        let ticks = BlockFamily::<TargetLabels, TickHistogramKind>::new(&blocks);
        let mut ours = Registry::with_prefix("prescale");
        ours.register("g", "a gauge", int.clone());
        ours.register("f", "a float", float.clone());
        ours.register("c", "a counter", counter.clone());
        ours.register("h", "ticks", ticks.clone());

        let theirs_int = Family::<TargetLabels, Gauge>::default();
        let theirs_float = Family::<TargetLabels, Gauge<f64, AtomicU64>>::default();
        let theirs_counter = Family::<ScheduleLabels, Counter<f64, AtomicU64>>::default();
        let theirs_ticks: Family<TargetLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(tick_buckets()));
        let mut theirs = Registry::with_prefix("prescale");
        theirs.register("g", "a gauge", theirs_int.clone());
        theirs.register("f", "a float", theirs_float.clone());
        theirs.register("c", "a counter", theirs_counter.clone());
        theirs.register("h", "ticks", theirs_ticks.clone());

        for i in 0..5 {
            let l = labels(i);
            int.get_or_create(&l).set(-(i as i64) * 3);
            theirs_int.get_or_create(&l).set(-(i as i64) * 3);
            float.get_or_create(&l).set(i as f64 * 0.37);
            theirs_float.get_or_create(&l).set(i as f64 * 0.37);
            if i % 2 == 0 {
                let s = ScheduleLabels {
                    target: l.clone(),
                    schedule: SCHEDULES[i % 4 / 2],
                };
                counter.get_or_create(&s).inc_by(1.5 * i as f64);
                theirs_counter.get_or_create(&s).inc_by(1.5 * i as f64);
            }
            for v in [0.001, 0.005, 0.3, 99.0, f64::NAN, i as f64] {
                ticks.get_or_create(&l).observe(v);
                theirs_ticks.get_or_create(&l).observe(v);
            }
        }
        // Removed series leave no sample, in both.
        int.remove(&labels(1));
        theirs_int.remove(&labels(1));
        assert_eq!(page(&ours), page(&theirs));
        assert!(page(&ours).iter().any(|l| l.contains("prescale_h_bucket")));
    }

    #[test]
    fn a_series_created_again_after_its_removal_starts_at_zero_and_clear_drops_every_family() {
        let blocks = Arc::new(Blocks::default());
        let a = BlockFamily::<TargetLabels, FloatGaugeKind>::new(&blocks);
        let c = BlockFamily::<TargetLabels, FloatCounterKind>::new(&blocks);
        let l = labels(0);
        a.get_or_create(&l).set(4.0);
        c.get_or_create(&l).inc_by(2.0);
        assert!(a.remove(&l));
        assert!(a.get(&l).is_none());
        assert_eq!(c.get(&l).map(|h| h.get()), Some(2.0), "others stay");
        assert_eq!(a.get_or_create(&l).get(), 0.0);
        let kept = c.get_or_create_owned(&l);
        a.clear();
        assert!(a.get(&l).is_none() && c.get(&l).is_none());
        // A handle taken before the clear counts into nothing exported.
        kept.inc_by(1.0);
        assert_eq!(c.get_or_create(&l).get(), 0.0);
        assert_eq!(blocks.read().len(), 1);
        assert!(!a.remove(&l));
        assert!(c.remove(&l));
        assert!(
            blocks.read().is_empty(),
            "a block without series is dropped"
        );
    }
}
