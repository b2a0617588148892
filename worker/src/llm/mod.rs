//! The LLM gateway: every model call goes through it for caching, the simulation's token budget,
//! the provider key's shared rate limits, retries and accounting.

mod cache;
mod client;
mod gateway;
mod ledger;
mod limiter;
mod tokens;

pub use cache::ResponseCache;
pub use client::{ChatMessage, Endpoint, LlmError, Operation, ProviderClient};
pub use gateway::{ChatReply, ChatRequest, Gateway};
pub use ledger::Ledger;
pub use limiter::{Limits, ProviderSignal, RateLimiter};
pub use tokens::count_tokens;
