//! Numbers as people read them, for prompts and for error messages alike.

/// A whole amount with its thousands grouped: `28,500,000`.
pub fn money(amount: f64) -> String {
    let whole = amount.round() as i128;
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if whole < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(28_500_000.0), "28,500,000");
        assert_eq!(money(950.0), "950");
        assert_eq!(money(-1_000.0), "-1,000");
    }
}
