//! Reproducible samples for spot-checks (抽查): whoever holds the seed and the population can
//! recompute exactly which records were drawn, so a sample cannot be quietly re-drawn until it
//! avoids a record.

use sha2::{Digest, Sha256};

/// A Bernoulli sample at `rate`: `id` is drawn when the first 8 bytes of
/// SHA-256(seed ‖ 0x00 ‖ id), read big-endian, fall below `rate × 2⁶⁴`. A non-empty population
/// always yields at least one record (the one with the lowest value).
pub fn draw<'a>(seed: &str, rate: f64, ids: &'a [String]) -> Vec<&'a String> {
    let rate = rate.clamp(0.0, 1.0);
    let score = |id: &str| {
        let mut h = Sha256::new();
        h.update(seed.as_bytes());
        h.update([0u8]);
        h.update(id.as_bytes());
        let d = h.finalize();
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    };
    let threshold = (rate * u64::MAX as f64) as u64;
    let mut drawn: Vec<&String> = ids.iter().filter(|id| score(id) < threshold).collect();
    if drawn.is_empty()
        && let Some(lowest) = ids.iter().min_by_key(|id| score(id))
    {
        drawn.push(lowest);
    }
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_reproducible_from_its_seed_and_near_its_rate() {
        let ids: Vec<String> = (0..2_000).map(|i| format!("sub-{i}")).collect();
        let a = draw("seed-1", 0.1, &ids);
        assert_eq!(a, draw("seed-1", 0.1, &ids), "same seed, same sample");
        assert_ne!(a, draw("seed-2", 0.1, &ids), "another seed, another sample");
        assert!((140..=260).contains(&a.len()), "{} of 2000 at 10%", a.len());
        assert_eq!(draw("s", 0.0, &ids).len(), 1, "never empty");
        assert_eq!(draw("s", 1.0, &ids).len(), 2_000);
        assert!(draw("s", 0.5, &[]).is_empty());
    }
}
