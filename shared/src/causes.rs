//! An error and its causes on one line, each said once: what logs and stored failure reasons
//! print.
//!
//! Our error types keep a wrapped error as their `source()` and leave it out of their own
//! message (the Rust API guidelines' rule: one or the other, never both), so a plain `{}` of one
//! says only what failed at its level; `Causes` writes out the whole chain.

use std::{error::Error, fmt};

/// Displays `error: its cause: the cause's cause…`. A cause whose text the line already ends
/// with is skipped, for the third-party errors that repeat their source in their message.
pub struct Causes<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = self.0.to_string();
        f.write_str(&last)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !last.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            last = text;
            cause = c.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("database error")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("pool timed out: {0}")]
    struct Middle(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Inner;

    #[test]
    fn each_cause_is_said_once() {
        let error = Outer(Middle(Inner));
        assert_eq!(
            Causes(&error).to_string(),
            "database error: pool timed out: connection refused"
        );
    }

    #[test]
    fn an_error_without_causes_is_its_message() {
        assert_eq!(Causes(&Inner).to_string(), "connection refused");
    }
}
