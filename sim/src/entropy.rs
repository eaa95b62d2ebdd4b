//! `SimEntropy`: the library's random bytes (log ids, event ids, jitter), from the seed.

use mtlog_audit::io::Entropy;

use crate::trace::{Op, TraceEvent};
use crate::world::{lock, Shared, Sim};

/// Seeded random bytes: the same seed gives the same identifiers.
#[derive(Clone)]
pub struct SimEntropy {
    shared: Shared,
}

impl std::fmt::Debug for SimEntropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimEntropy").finish_non_exhaustive()
    }
}

impl SimEntropy {
    pub(crate) fn new(shared: Shared) -> SimEntropy {
        SimEntropy { shared }
    }

    /// The machine this source belongs to.
    pub fn sim(&self) -> Sim {
        Sim::from_shared(self.shared.clone())
    }
}

impl Entropy for SimEntropy {
    fn fill(&self, buf: &mut [u8]) {
        let mut world = lock(&self.shared);
        world.entropy.fill(buf);
        let mut event = TraceEvent::new(Op::Entropy);
        event.len = buf.len() as u64;
        world.record(&event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FaultConfig;

    #[test]
    fn same_seed_gives_same_identifiers() {
        let a = Sim::new(1, FaultConfig::none()).entropy();
        let b = Sim::new(1, FaultConfig::none()).entropy();
        let c = Sim::new(2, FaultConfig::none()).entropy();
        let first = a.next_u128();
        assert_eq!(first, b.next_u128());
        assert_ne!(first, c.next_u128());
        assert_ne!(first, a.next_u128());
    }
}
