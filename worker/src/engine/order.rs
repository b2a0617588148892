//! The order in which a persona sees a question's options, and a listing's photos when asked to
//! rate them. Models favour what they are shown first (position bias); each persona sees its own
//! seeded order, so the bias averages out over the panel, and the aggregation, knowing each
//! order, reports how large it was.

use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use uuid::Uuid;

/// Indices of `options` options in the order shown, fixed by the run's seed, the persona, the
/// iteration and the question (so a rerun with the same seed shows the same orders).
pub fn shown_order(
    seed: u64,
    persona: Uuid,
    iteration: u32,
    question: usize,
    options: usize,
) -> Vec<usize> {
    let (high, low) = persona.as_u64_pair();
    let mixed = seed
        ^ high.rotate_left(17)
        ^ low
        ^ (u64::from(iteration) << 40)
        ^ (question as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut order: Vec<usize> = (0..options).collect();
    order.shuffle(&mut StdRng::seed_from_u64(mixed));
    order
}

/// The question index photo orders are drawn under, apart from every question's options.
const PHOTOS: usize = usize::MAX;

/// The photos `judgeable` (by number) in the order a persona sees them when asked to rate them,
/// fixed like [`shown_order`].
pub fn shown_photo_order(seed: u64, persona: Uuid, iteration: u32, judgeable: &[u32]) -> Vec<u32> {
    shown_order(seed, persona, iteration, PHOTOS, judgeable.len())
        .into_iter()
        .map(|i| judgeable[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_reproducible_and_vary_across_personas() {
        let a = Uuid::from_u128(1);
        assert_eq!(shown_order(7, a, 0, 0, 5), shown_order(7, a, 0, 0, 5));
        let firsts: std::collections::BTreeSet<usize> = (0..40u128)
            .map(|p| shown_order(7, Uuid::from_u128(p), 0, 0, 5)[0])
            .collect();
        assert_eq!(firsts.len(), 5, "every option is shown first to someone");
        let mut sorted = shown_order(7, a, 1, 2, 5);
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn photos_are_shown_in_an_order_of_their_own() {
        let judgeable = [1, 2, 4, 6];
        let firsts: std::collections::BTreeSet<u32> = (0..40u128)
            .map(|p| shown_photo_order(7, Uuid::from_u128(p), 0, &judgeable)[0])
            .collect();
        assert_eq!(firsts.len(), 4, "every photo is shown first to someone");
        let mut order = shown_photo_order(7, Uuid::from_u128(3), 0, &judgeable);
        order.sort_unstable();
        assert_eq!(order, judgeable);
    }
}
