//! Provider-style limits: token buckets holding a minute's worth (or `burst_seconds`' worth),
//! refilled continuously. A
//! request is admitted when a request and its prompt tokens are available; its completion tokens
//! are charged afterwards (and may drive the bucket below zero, as a provider's would).

use std::time::{Duration, Instant};

struct Bucket {
    per_minute: f64,
    capacity: f64,
    level: f64,
}

impl Bucket {
    fn new(per_minute: u64, burst_seconds: u64) -> Self {
        let capacity = (per_minute * burst_seconds.max(1)) as f64 / 60.0;
        Bucket {
            per_minute: per_minute as f64,
            capacity,
            level: capacity,
        }
    }

    fn refill(&mut self, elapsed: Duration) {
        self.level =
            (self.level + self.per_minute * elapsed.as_secs_f64() / 60.0).min(self.capacity);
    }

    /// How long until `amount` is available.
    fn wait_for(&self, amount: f64) -> Duration {
        let deficit = amount.min(self.capacity) - self.level;
        Duration::from_secs_f64((deficit.max(0.0) / self.per_minute) * 60.0)
    }

    fn until_full(&self) -> Duration {
        self.wait_for(self.capacity)
    }
}

pub struct Buckets {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    updated: Instant,
}

pub enum Verdict {
    Admitted,
    Limited {
        retry_after: Duration,
        headers: Vec<(&'static str, String)>,
    },
}

impl Buckets {
    pub fn new(rpm: Option<u64>, tpm: Option<u64>, burst_seconds: u64) -> Self {
        Buckets {
            requests: rpm.map(|limit| Bucket::new(limit, burst_seconds)),
            tokens: tpm.map(|limit| Bucket::new(limit, burst_seconds)),
            updated: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let elapsed = self.updated.elapsed();
        self.updated = Instant::now();
        for bucket in [&mut self.requests, &mut self.tokens].into_iter().flatten() {
            bucket.refill(elapsed);
        }
    }

    pub fn admit(&mut self, prompt_tokens: u64) -> Verdict {
        self.refill();
        let request_wait = self
            .requests
            .as_ref()
            .map_or(Duration::ZERO, |b| b.wait_for(1.0));
        let token_wait = self
            .tokens
            .as_ref()
            .map_or(Duration::ZERO, |b| b.wait_for(prompt_tokens as f64));
        let retry_after = request_wait.max(token_wait);
        if !retry_after.is_zero() {
            return Verdict::Limited {
                retry_after,
                headers: self.headers(),
            };
        }
        if let Some(b) = &mut self.requests {
            b.level -= 1.0;
        }
        if let Some(b) = &mut self.tokens {
            b.level -= prompt_tokens as f64;
        }
        Verdict::Admitted
    }

    /// Charges completion tokens; returns the headers for the reply.
    pub fn charge(&mut self, completion_tokens: u64) -> Vec<(&'static str, String)> {
        self.refill();
        if let Some(b) = &mut self.tokens {
            b.level -= completion_tokens as f64;
        }
        self.headers()
    }

    /// OpenAI's rate-limit headers.
    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(b) = &self.requests {
            headers.push(("x-ratelimit-limit-requests", format!("{}", b.per_minute)));
            headers.push((
                "x-ratelimit-remaining-requests",
                format!("{}", b.level.max(0.0).floor()),
            ));
            headers.push((
                "x-ratelimit-reset-requests",
                format!("{}ms", b.until_full().as_millis()),
            ));
        }
        if let Some(b) = &self.tokens {
            headers.push(("x-ratelimit-limit-tokens", format!("{}", b.per_minute)));
            headers.push((
                "x-ratelimit-remaining-tokens",
                format!("{}", b.level.max(0.0).floor()),
            ));
            headers.push((
                "x-ratelimit-reset-tokens",
                format!("{}ms", b.until_full().as_millis()),
            ));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_admits_a_minute_s_worth_then_asks_to_wait() {
        let mut buckets = Buckets::new(Some(60), None, 60);
        for _ in 0..60 {
            assert!(matches!(buckets.admit(10), Verdict::Admitted));
        }
        match buckets.admit(10) {
            Verdict::Limited { retry_after, .. } => {
                assert!(
                    retry_after > Duration::from_millis(900)
                        && retry_after <= Duration::from_secs(1),
                    "{retry_after:?}"
                );
            }
            Verdict::Admitted => panic!("the 61st request in a minute is limited"),
        }
    }

    #[test]
    fn tokens_are_limited_on_the_prompt_and_charged_for_the_completion() {
        let mut buckets = Buckets::new(None, Some(1000), 60);
        assert!(matches!(buckets.admit(600), Verdict::Admitted));
        buckets.charge(300);
        assert!(matches!(buckets.admit(200), Verdict::Limited { .. }));
    }
}
