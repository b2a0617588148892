//! Requests-per-minute and tokens-per-minute limits for one provider key. governor smooths each
//! process's calls; in the distributed shape an atomic GCRA script in Redis holds the budget all
//! workers share (one round trip per reservation). The limits adapt to what the provider says:
//! its `x-ratelimit-limit-*` headers lower them, and a 429's `retry-after` pauses every caller.
//! Callers wait their turn first come, first served, and the limits say how many calls at once
//! the key can keep busy, which is how wide a simulation's rounds run.

use std::{
    num::NonZeroU32,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};
use troupe_shared::causes::Causes;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter as Governor};
use redis::{Script, aio::ConnectionManager};

/// A limiter's burst: a few seconds' worth, so calls are spread over the minute instead of
/// spent at its start.
const BURST_SECONDS: u32 = 3;
/// Without headers to go by, each 429 lowers the limits by this factor.
const BACKOFF_FACTOR: f64 = 0.85;
/// The longest pause for a budget the provider reports spent: its reset time is until the
/// budget is whole again, but the next call needs only a sliver of it; pacing does the rest.
const EXHAUSTED_PAUSE_MAX: Duration = Duration::from_secs(BURST_SECONDS as u64);

/// Requests and tokens per minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub rpm: u32,
    pub tpm: u32,
}

/// What the provider said about its limits in a reply.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProviderSignal {
    pub limit_requests: Option<u32>,
    pub limit_tokens: Option<u32>,
    /// When the provider reports a budget spent (`x-ratelimit-remaining-*` of 0), how long
    /// until it resets (`x-ratelimit-reset-*`).
    pub exhausted_for: Option<Duration>,
    /// From a 429.
    pub retry_after: Option<Duration>,
    pub rate_limited: bool,
}

struct Local {
    limits: Limits,
    requests: DefaultDirectRateLimiter,
    tokens: DefaultDirectRateLimiter,
    token_burst: u32,
}

impl Local {
    fn new(limits: Limits) -> Self {
        let burst = |per_minute: u32| {
            NonZeroU32::new((per_minute * BURST_SECONDS / 60).max(1)).expect("non-zero")
        };
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("non-zero"));
        let token_burst = burst(limits.tpm);
        Local {
            limits,
            requests: Governor::direct(per_minute(limits.rpm).allow_burst(burst(limits.rpm))),
            tokens: Governor::direct(per_minute(limits.tpm).allow_burst(token_burst)),
            token_burst: token_burst.get(),
        }
    }
}

pub struct RateLimiter {
    configured: Limits,
    local: Mutex<Arc<Local>>,
    /// Tokens reserved locally beyond what calls cost (positive: a credit the next calls use;
    /// negative: a debt they pay). governor cannot refund, so corrections settle here.
    token_balance: AtomicI64,
    paused_until: Mutex<Option<Instant>>,
    shared: Option<SharedBudget>,
    /// One caller at a time waits at the limits, the others queue here in arrival order:
    /// without it every waiter wakes at each grant and the grant goes to whichever is polled
    /// first, so a call could wait indefinitely while later ones go.
    turn: tokio::sync::Mutex<()>,
}

/// The budget in Redis, keyed by provider key.
struct SharedBudget {
    conn: ConnectionManager,
    keys: [String; 3],
}

impl RateLimiter {
    /// `shared`: the Redis connection and a key naming this provider key's budget.
    pub fn new(limits: Limits, shared: Option<(ConnectionManager, String)>) -> Self {
        RateLimiter {
            configured: limits,
            local: Mutex::new(Arc::new(Local::new(limits))),
            token_balance: AtomicI64::new(0),
            paused_until: Mutex::new(None),
            shared: shared.map(|(conn, key)| SharedBudget {
                conn,
                keys: [
                    format!("{key}:requests"),
                    format!("{key}:tokens"),
                    format!("{key}:paused-until"),
                ],
            }),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// How many calls of `tokens_per_call` keep the key busy when each takes `latency`: the
    /// calls the limits grant over one latency, twice over so that the limiter rather than the
    /// number in flight sets the pace, and never fewer than one burst.
    pub fn sustainable_concurrency(&self, tokens_per_call: u32, latency: Duration) -> usize {
        let limits = self.limits();
        let per_second = (f64::from(limits.rpm) / 60.0)
            .min(f64::from(limits.tpm) / 60.0 / f64::from(tokens_per_call.max(1)));
        let burst = per_second * f64::from(BURST_SECONDS);
        let busy = per_second * latency.as_secs_f64() * 2.0;
        // A float-to-integer cast saturates.
        busy.max(burst).ceil().max(1.0) as usize
    }

    pub fn limits(&self) -> Limits {
        self.local.lock().expect("limiter lock").limits
    }

    /// Waits until a call of `tokens` may go out; returns how long it waited.
    pub async fn acquire(&self, tokens: u32) -> Duration {
        let started = Instant::now();
        let local = self.local_turn(tokens).await;
        if let Some(shared) = &self.shared {
            // Outside the turn: the local limits already pace this process, and a round trip
            // per caller in single file would cost a wide round more than any wait saves.
            shared.reserve(local.limits, tokens).await;
        }
        started.elapsed()
    }

    /// Waits this caller's turn at the local limits; returns the limits it was granted under.
    async fn local_turn(&self, tokens: u32) -> Arc<Local> {
        let _turn = self.turn.lock().await;
        let pause = *self.paused_until.lock().expect("limiter lock");
        if let Some(until) = pause.filter(|u| *u > Instant::now()) {
            tokio::time::sleep_until(until.into()).await;
        }
        let local = self.local.lock().expect("limiter lock").clone();
        local.requests.until_ready().await;
        let balance = self.token_balance.swap(0, Ordering::SeqCst);
        let wanted = i64::from(tokens) - balance;
        let cells = wanted.clamp(1, i64::from(local.token_burst));
        // What the clamp left over (unused credit, or debt beyond one burst) stays for later.
        self.token_balance
            .fetch_add(cells - wanted, Ordering::SeqCst);
        let cells = NonZeroU32::new(cells as u32).expect("at least one");
        // Cannot fail: the cell count is clamped to the burst.
        let _ = local.tokens.until_n_ready(cells).await;
        local
    }

    /// Corrects a reservation once the provider has said what the call really cost.
    pub async fn settle(&self, reserved: u32, actual: u32) {
        self.token_balance
            .fetch_add(i64::from(reserved) - i64::from(actual), Ordering::SeqCst);
        if let Some(shared) = &self.shared {
            shared
                .adjust(self.limits(), i64::from(actual) - i64::from(reserved))
                .await;
        }
    }

    /// Learns from a reply's rate-limit signals.
    pub async fn observe(&self, signal: ProviderSignal) {
        let current = self.limits();
        let mut next = Limits {
            rpm: signal
                .limit_requests
                .map_or(current.rpm, |l| l.min(self.configured.rpm)),
            tpm: signal
                .limit_tokens
                .map_or(current.tpm, |l| l.min(self.configured.tpm)),
        };
        if signal.rate_limited && signal.limit_requests.is_none() && signal.limit_tokens.is_none() {
            let lower = |v: u32, floor: u32| {
                ((f64::from(v) * BACKOFF_FACTOR) as u32)
                    .max(floor / 10)
                    .max(1)
            };
            next = Limits {
                rpm: lower(current.rpm, self.configured.rpm),
                tpm: lower(current.tpm, self.configured.tpm),
            };
        }
        if next != current {
            tracing::info!(rpm = next.rpm, tpm = next.tpm, "provider limits adapted");
            *self.local.lock().expect("limiter lock") = Arc::new(Local::new(next));
        }
        let exhausted = signal.exhausted_for.map(|d| d.min(EXHAUSTED_PAUSE_MAX));
        if let Some(wait) = signal.retry_after.or(exhausted) {
            let until = Instant::now() + wait;
            {
                let mut paused = self.paused_until.lock().expect("limiter lock");
                if paused.is_none_or(|p| p < until) {
                    *paused = Some(until);
                }
            }
            if let Some(shared) = &self.shared {
                shared.pause(wait).await;
            }
        }
    }
}

/// GCRA over two limits at once: both theoretical arrival times advance together or not at all.
/// Returns 0 when the call may go, otherwise the milliseconds to wait before asking again.
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return paused - now end
local function advance(key, per_minute, cost, burst)
  local interval = 60000 / per_minute
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + cost * interval
  return new_tat, new_tat - burst * interval - now
end
local burst_seconds = tonumber(ARGV[4])
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local r_tat, r_wait = advance(KEYS[1], rpm, 1, math.max(1, rpm * burst_seconds / 60))
local cost = math.min(tonumber(ARGV[3]), math.max(1, tpm * burst_seconds / 60))
local t_tat, t_wait = advance(KEYS[2], tpm, cost, math.max(1, tpm * burst_seconds / 60))
local wait = math.max(r_wait, t_wait)
if wait > 0 then return math.ceil(wait) end
redis.call('SET', KEYS[1], tostring(r_tat), 'PX', 120000)
redis.call('SET', KEYS[2], tostring(t_tat), 'PX', 120000)
return 0
";

/// Moves the token TAT by a correction (negative: a refund).
const ADJUST: &str = r"
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat == 0 then return 0 end
redis.call('SET', KEYS[1], tostring(tat + tonumber(ARGV[1]) * 60000 / tonumber(ARGV[2])), 'PX', 120000)
return 0
";

/// Pauses every worker until now + ARGV[1] ms, unless a later pause is already set.
const PAUSE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then redis.call('SET', KEYS[1], tostring(until_ms), 'PX', tonumber(ARGV[1]) + 1000) end
return 0
";

impl SharedBudget {
    async fn reserve(&self, limits: Limits, tokens: u32) {
        let script = Script::new(RESERVE);
        loop {
            let mut conn = self.conn.clone();
            let wait: Result<u64, _> = script
                .key(&self.keys[0])
                .key(&self.keys[1])
                .key(&self.keys[2])
                .arg(limits.rpm)
                .arg(limits.tpm)
                .arg(tokens)
                .arg(BURST_SECONDS)
                .invoke_async(&mut conn)
                .await;
            match wait {
                Ok(0) => return,
                Ok(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                // Redis unreachable: the local limiter still holds this process to the limits;
                // retries and the provider's 429s cover the rest.
                Err(e) => {
                    tracing::warn!(error = %Causes(&e), "shared rate limit unavailable; using the local one");
                    return;
                }
            }
        }
    }

    async fn adjust(&self, limits: Limits, delta_tokens: i64) {
        if delta_tokens == 0 {
            return;
        }
        let mut conn = self.conn.clone();
        let result: Result<i64, _> = Script::new(ADJUST)
            .key(&self.keys[1])
            .arg(delta_tokens)
            .arg(limits.tpm)
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %Causes(&e), "could not correct the shared token budget");
        }
    }

    async fn pause(&self, wait: Duration) {
        let mut conn = self.conn.clone();
        let millis = wait.as_millis() as u64;
        let result: Result<i64, _> = Script::new(PAUSE)
            .key(&self.keys[2])
            .arg(millis)
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %Causes(&e), "could not share a provider pause");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rpm: u32, tpm: u32) -> Limits {
        Limits { rpm, tpm }
    }

    #[tokio::test]
    async fn headers_lower_the_limits_and_never_raise_them_past_the_configuration() {
        let limiter = RateLimiter::new(limits(600, 100_000), None);
        limiter
            .observe(ProviderSignal {
                limit_requests: Some(400),
                limit_tokens: Some(70_000),
                ..Default::default()
            })
            .await;
        assert_eq!(limiter.limits(), limits(400, 70_000));
        limiter
            .observe(ProviderSignal {
                limit_requests: Some(10_000),
                limit_tokens: Some(1_000_000),
                ..Default::default()
            })
            .await;
        assert_eq!(limiter.limits(), limits(600, 100_000));
    }

    #[tokio::test]
    async fn a_429_without_headers_backs_off_and_pauses() {
        let limiter = RateLimiter::new(limits(600, 100_000), None);
        let signal = ProviderSignal {
            rate_limited: true,
            retry_after: Some(Duration::from_millis(200)),
            ..Default::default()
        };
        limiter.observe(signal).await;
        assert_eq!(limiter.limits(), limits(510, 85_000));
        let waited = limiter.acquire(10).await;
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
    }

    #[tokio::test]
    async fn a_spent_provider_budget_pauses_callers_until_it_resets() {
        let limiter = RateLimiter::new(limits(600, 100_000), None);
        let signal = ProviderSignal {
            exhausted_for: Some(Duration::from_millis(200)),
            ..Default::default()
        };
        limiter.observe(signal).await;
        assert_eq!(
            limiter.limits(),
            limits(600, 100_000),
            "a pause, not a lower limit"
        );
        assert!(limiter.acquire(10).await >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn over_reservations_are_credited_to_later_calls() {
        // 60,000 tokens a minute, a 3,000-token burst: 1,000 tokens a second after it.
        let limiter = RateLimiter::new(limits(100_000, 60_000), None);
        limiter.acquire(3000).await;
        // The call cost only 1,000: the next 2,000 tokens are already paid for.
        limiter.settle(3000, 1000).await;
        let waited = limiter.acquire(2000).await;
        assert!(waited < Duration::from_millis(100), "{waited:?}");
    }

    #[tokio::test]
    async fn waiting_callers_are_served_in_arrival_order() {
        // 600 a minute with a 3 s burst: 30 at once, then one every 100 ms.
        let limiter = Arc::new(RateLimiter::new(limits(600, 10_000_000), None));
        for _ in 0..30 {
            limiter.acquire(1).await;
        }
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut callers = Vec::new();
        for i in 0..5 {
            let (limiter, order) = (limiter.clone(), order.clone());
            callers.push(tokio::spawn(async move {
                limiter.acquire(1).await;
                order.lock().expect("order").push(i);
            }));
            // Each caller is queued before the next arrives.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for caller in callers {
            caller.await.expect("caller");
        }
        assert_eq!(*order.lock().expect("order"), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn the_limits_say_how_many_calls_keep_the_key_busy() {
        let second = Duration::from_secs(1);
        // 600 requests a minute: 10 a second; at 1 s a call, 20 in flight (a burst is 30).
        assert_eq!(
            RateLimiter::new(limits(600, 10_000_000), None).sustainable_concurrency(500, second),
            30
        );
        // The same key over 4 s calls: 80.
        assert_eq!(
            RateLimiter::new(limits(600, 10_000_000), None)
                .sustainable_concurrency(500, 4 * second),
            80
        );
        // 60,000 tokens a minute at 1,000 a call: one call a second, whatever the requests allow.
        assert_eq!(
            RateLimiter::new(limits(100_000, 60_000), None).sustainable_concurrency(1000, second),
            3
        );
        // A generous key: thousands.
        assert!(
            RateLimiter::new(limits(1_000_000, 1_000_000_000), None)
                .sustainable_concurrency(500, second)
                > 10_000
        );
    }

    #[tokio::test]
    async fn calls_beyond_the_burst_are_spread_over_the_minute() {
        // 1,200 requests a minute with a 3 s burst: 60 at once, then one every 50 ms.
        let limiter = RateLimiter::new(limits(1200, 10_000_000), None);
        let started = Instant::now();
        for _ in 0..70 {
            limiter.acquire(1).await;
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(2),
            "{elapsed:?}"
        );
    }
}
