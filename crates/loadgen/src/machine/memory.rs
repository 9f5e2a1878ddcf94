//! A walk through memory that the caches cannot hold: the probe's measure of how long a
//! load from memory takes right now.
//!
//! The server's work per request is mostly loads from memory it shares with nothing but
//! the machine's caches and memory bus. On a VM those are shared with other tenants'
//! VMs: when a neighbour fills the last-level cache or the bus, every process here runs
//! slower without stalling, and the probe's register-only fixed work does not notice. This
//! walk does. Each step's address is the value the step before it loaded, so the loads
//! cannot overlap and each one costs the full latency.

use std::time::{Duration, Instant};

/// Twice the last-level cache of the machines this runs on (32 MiB): most steps miss it.
const BUFFER_BYTES: usize = 64 << 20;
const LINE_BYTES: usize = 64;
/// One step per cache line: the next index sits at the start of each line.
const SLOT: usize = LINE_BYTES / std::mem::size_of::<u32>();
/// Steps per walk: about half a millisecond at DRAM latency.
const STEPS: u32 = 4_096;

/// One random cycle through every cache line of the buffer.
pub struct MemoryWalk {
    next: Vec<u32>,
    at: u32,
}

impl MemoryWalk {
    pub fn new() -> Self {
        Self::with_lines(BUFFER_BYTES / LINE_BYTES)
    }

    fn with_lines(lines: usize) -> Self {
        assert!(lines >= 2 && lines * SLOT <= u32::MAX as usize);
        // Sattolo's shuffle gives a single cycle, so a walk never falls into a short loop
        // that would fit in the cache.
        let mut order: Vec<u32> = (0..lines as u32).collect();
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        for i in (1..lines).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let j = (rng % i as u64) as usize;
            order.swap(i, j);
        }
        let mut next = vec![0u32; lines * SLOT];
        for (line, successor) in order.iter().enumerate() {
            next[line * SLOT] = successor * SLOT as u32;
        }
        Self { next, at: 0 }
    }

    /// Walks on for [`STEPS`] steps; the time of one step.
    pub fn step_time(&mut self) -> Duration {
        let started = Instant::now();
        let mut at = self.at;
        for _ in 0..STEPS {
            at = std::hint::black_box(self.next[at as usize]);
        }
        self.at = at;
        started.elapsed() / STEPS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_visits_every_line_once_per_cycle() {
        let lines = 1_000;
        let walk = MemoryWalk::with_lines(lines);
        let mut seen = vec![false; lines];
        let mut at = 0usize;
        for _ in 0..lines {
            assert_eq!(at % SLOT, 0, "every step lands on the start of a line");
            assert!(!seen[at / SLOT], "line {} visited twice", at / SLOT);
            seen[at / SLOT] = true;
            at = walk.next[at] as usize;
        }
        assert_eq!(at, 0, "the cycle closes after every line");
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn each_walk_goes_on_where_the_last_one_stopped() {
        let mut walk = MemoryWalk::with_lines(2 * STEPS as usize);
        walk.step_time();
        let after_one = walk.at;
        walk.step_time();
        // Two walks of STEPS cover the whole cycle of 2 × STEPS lines: back at the start.
        assert_ne!(after_one, 0, "the first walk moved on");
        assert_eq!(
            walk.at, 0,
            "the second walk picked up where the first stopped"
        );
    }
}
