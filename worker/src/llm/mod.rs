//! The LLM gateway: an OpenAI-compatible chat client with token counting and retries. Shared
//! rate limits and the response cache grow here (issue: LLM gateway).

mod client;
mod tokens;

pub use client::{ChatMessage, ChatReply, ChatRequest, LlmClient, LlmError};
pub use tokens::count_tokens;
