//! Group commit for audited reads. A read's entry must be stored before the read is answered (a
//! read whose entry cannot be written fails rather than going unrecorded), but a commit of its
//! own for each — a WAL flush per `GET` — made the audited read a third of an unaudited one's
//! speed. Reads made at the same moment instead hand their entries to one writer, which stages
//! everything waiting in one insert and one commit and then answers each read.
//!
//! The writer takes what has queued while its previous commit ran, so nothing waits for a timer:
//! one read alone costs one commit as before, and sixty-four at once share a handful.

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Pool, audit::StagedRead};

/// The most entries one insert stages (9 binds each, within both databases' bind limits).
const MAX_BATCH: usize = 256;
/// Entries that may wait for the writer; a read beyond it waits for room.
const CAPACITY: usize = 4096;

/// A read's entry as staged, with the brokerage whose chain it will join.
#[derive(Clone)]
pub(crate) struct ReadEntry {
    pub brokerage_id: Uuid,
    pub read: StagedRead,
}

struct Waiting {
    entry: ReadEntry,
    /// Whether the entry's batch committed.
    staged: oneshot::Sender<bool>,
}

/// The way to the writer; clones share it.
#[derive(Clone)]
pub(crate) struct ReadLog {
    waiting: mpsc::Sender<Waiting>,
    /// The writer's own connection, for an entry staged alone too.
    pool: Pool,
}

impl std::fmt::Debug for ReadLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadLog").finish_non_exhaustive()
    }
}

impl ReadLog {
    /// Starts the writer on `pool` (a connection of its own) on the current runtime; it stops
    /// when the last clone is dropped.
    pub(crate) fn start(pool: Pool) -> Self {
        let (waiting, arrivals) = mpsc::channel(CAPACITY);
        tokio::spawn(write_batches(pool.clone(), arrivals));
        ReadLog { waiting, pool }
    }

    /// Closes the writer's connection: reads staged after this fail.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Stages `entry` in the writer's next batch. On failure (the batch's insert failed, or the
    /// writer is gone with its runtime) the entry is staged alone, so this read gets the error
    /// that concerns it rather than a neighbour's.
    pub(crate) async fn stage(&self, entry: ReadEntry) -> Result<(), sqlx::Error> {
        let (staged, outcome) = oneshot::channel();
        let waiting = Waiting {
            entry: entry.clone(),
            staged,
        };
        if self.waiting.send(waiting).await.is_ok() && outcome.await == Ok(true) {
            return Ok(());
        }
        insert(&self.pool, [&entry]).await
    }
}

async fn write_batches(pool: Pool, mut arrivals: mpsc::Receiver<Waiting>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while arrivals.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let staged = insert(&pool, batch.iter().map(|w| &w.entry)).await.is_ok();
        for waiting in batch.drain(..) {
            // A read that gave up waiting (its request was dropped) needs no answer.
            let _ = waiting.staged.send(staged);
        }
    }
}

/// One multi-row insert into the staging table: one statement, one commit.
async fn insert<'a>(
    pool: &Pool,
    entries: impl IntoIterator<Item = &'a ReadEntry>,
) -> Result<(), sqlx::Error> {
    macro_rules! insert_into {
        ($pool:expr) => {{
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO audit_reads (id, brokerage_id, at, actor_id, key_id, action, subject_type, subject_id, detail) ",
            );
            insert.push_values(entries, |mut row, ReadEntry { brokerage_id, read }| {
                row.push_bind(read.id)
                    .push_bind(brokerage_id)
                    .push_bind(read.at)
                    .push_bind(read.actor_id)
                    .push_bind(read.key_id)
                    .push_bind(&read.action)
                    .push_bind(&read.subject_type)
                    .push_bind(read.subject_id)
                    .push_bind(sqlx::types::Json(&read.detail));
            });
            insert.build().execute($pool).await.map(drop)
        }};
    }
    match pool {
        Pool::Postgres(pool) => insert_into!(pool),
        Pool::Sqlite(pool) => insert_into!(pool),
    }
}
