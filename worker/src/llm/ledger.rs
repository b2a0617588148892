//! A simulation's account with the model: what it may spend and what it spent. Shared by all of
//! the run's parallel agents; tokens are committed before a call (an estimate) and corrected
//! after it, so parallel calls cannot overrun the budget together.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use super::LlmError;

#[derive(Debug, Default)]
pub struct Ledger {
    budget: u64,
    committed: AtomicU64,
    pub calls: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub cache_hits: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Replies that contradicted themselves and were answered consistently when asked again.
    pub repaired: AtomicU64,
    /// Replies that still contradicted themselves when asked again: failed steps.
    pub rejected: AtomicU64,
    limiter_wait_micros: AtomicU64,
}

impl Ledger {
    pub fn new(budget: u64) -> Self {
        Ledger {
            budget,
            ..Ledger::default()
        }
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Tokens spent, cached answers excluded.
    pub fn spent(&self) -> u64 {
        self.prompt_tokens.load(Ordering::Relaxed) + self.completion_tokens.load(Ordering::Relaxed)
    }

    /// Commits an estimate before a call, or refuses if the budget cannot hold it.
    pub fn commit(&self, estimate: u64) -> Result<(), LlmError> {
        let before = self.committed.fetch_add(estimate, Ordering::SeqCst);
        if before + estimate > self.budget {
            self.committed.fetch_sub(estimate, Ordering::SeqCst);
            return Err(LlmError::BudgetExhausted {
                budget: self.budget,
                spent: self.spent(),
            });
        }
        Ok(())
    }

    /// Replaces a committed estimate by what the call cost (zero for a call that failed).
    pub fn settle(&self, estimate: u64, prompt: u64, completion: u64) {
        self.committed.fetch_sub(estimate, Ordering::SeqCst);
        self.committed
            .fetch_add(prompt + completion, Ordering::SeqCst);
        if prompt + completion > 0 {
            metrics::counter!("troupe_llm_tokens_total", "kind" => "prompt").increment(prompt);
            metrics::counter!("troupe_llm_tokens_total", "kind" => "completion")
                .increment(completion);
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.prompt_tokens.fetch_add(prompt, Ordering::Relaxed);
            self.completion_tokens
                .fetch_add(completion, Ordering::Relaxed);
        }
    }

    pub fn waited(&self, wait: Duration) {
        self.limiter_wait_micros
            .fetch_add(wait.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn limiter_wait(&self) -> Duration {
        Duration::from_micros(self.limiter_wait_micros.load(Ordering::Relaxed))
    }

    pub fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_are_held_against_the_budget_until_settled() {
        let ledger = Ledger::new(1000);
        ledger.commit(600).unwrap();
        assert!(
            ledger.commit(600).is_err(),
            "two estimates exceed the budget"
        );
        ledger.settle(600, 200, 100);
        ledger.commit(600).unwrap();
        assert_eq!(ledger.spent(), 300);
        match ledger.commit(200) {
            Err(LlmError::BudgetExhausted { budget, spent }) => {
                assert_eq!((budget, spent), (1000, 300));
            }
            other => panic!("{other:?}"),
        }
    }
}
