//! Sweeping: claiming due records in batches until none is left.

use std::future::Future;

/// How many records one claim of a sweep asks for.
pub const SWEEP_BATCH: usize = 100;

/// Calls `claim(SWEEP_BATCH)` until a call claims fewer than that, and
/// returns how many were claimed in all. `claim` is a store's
/// `claim_expired`: each record is claimed once, so a sweep ends, and
/// sweeps may run from several processes at once.
pub async fn sweep<T, E, F, Fut>(mut claim: F) -> Result<usize, E>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Vec<T>, E>>,
{
    let mut total = 0;
    loop {
        let n = claim(SWEEP_BATCH).await?.len();
        total += n;
        if n < SWEEP_BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn claims_until_a_short_batch() {
        let mut left = 2 * SWEEP_BATCH + 7;
        let mut calls = 0;
        let total = sweep(|limit| {
            calls += 1;
            let n = left.min(limit);
            left -= n;
            async move { Ok::<_, ()>(vec![(); n]) }
        })
        .await
        .unwrap();
        assert_eq!((total, calls), (2 * SWEEP_BATCH + 7, 3));
    }
}
