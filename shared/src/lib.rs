//! Troupe's common crate: configuration, domain types, the queue contract, auth primitives and
//! the store that both deployment shapes share.

pub mod accuracy;
pub mod auth;
pub mod bus;
pub mod causes;
pub mod config;
pub mod criteria;
pub mod crypto;
pub mod domain;
pub mod duplicates;
pub mod jobs;
pub mod numbers;
pub mod outbound;
pub mod queue;
pub mod store;

pub use config::Config;
pub use store::{Store, StoreError};
