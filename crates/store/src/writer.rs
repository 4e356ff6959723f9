//! SQLite's writer: the queue every write transaction waits in, and a connection of our own on which the hot
//! write paths run their whole transaction in one blocking call, committed in groups.
//!
//! SQLite has one writer at a time. A commit writes every page the transaction touched to the WAL, and the
//! writes of a busy server touch many of the same pages: the tails of the events table and its indexes, the
//! newest FTS5 segment of the Users search (FTS5 starts a segment at every commit). So writes that queue up
//! while a commit is under way run together in the next transaction, each inside a savepoint of its own, and
//! are committed once (group commit). A write that fails is rolled back to its savepoint alone; each caller is
//! answered after the commit, with its own write's outcome.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::statistics::Epoch;
use crate::{Result, StoreError};

/// The most writes one commit carries; the rest wait for the next. Bounds how long the first write of a group
/// waits for the last.
const MOST_PER_COMMIT: usize = 64;
/// Statements the writer connection keeps prepared: every hot write's statements, planned once.
const PREPARED: usize = 64;

/// Answers a write's caller with its outcome, or with why its group did not commit.
type Answer = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

/// Runs a write on the writer connection, and answers its caller once the group it ran in has committed.
struct Job {
    id: u64,
    /// Runs the write; `false` when it failed (its savepoint is then rolled back).
    run: Box<dyn FnOnce(&rusqlite::Connection) -> bool + Send>,
    answer: Answer,
}

#[derive(Default)]
struct Queued {
    jobs: VecDeque<Job>,
    next_id: u64,
}

#[derive(Debug)]
pub struct Writers {
    /// One permit: whoever holds it writes (a group on the writer connection, or a pooled transaction).
    queue: Arc<Semaphore>,
    path: PathBuf,
    /// The writer connection, with the statistics generation it has loaded.
    direct: Mutex<Option<(rusqlite::Connection, u64)>>,
    queued: Mutex<Queued>,
    /// Groups committed (or attempted) since the store opened.
    groups: AtomicU64,
    pub(crate) epoch: Arc<Epoch>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued")
            .field("jobs", &self.jobs.len())
            .finish()
    }
}

fn poisoned() -> StoreError {
    StoreError::Corrupt("sqlite writer poisoned".into())
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("sqlite write: {e}"))
}

/// Takes a write that is still queued out of the queue when its caller stops waiting (a client that hung up):
/// it must not run later, unseen, after newer writes.
struct Withdraw<'a> {
    writers: &'a Writers,
    id: u64,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        if let Ok(mut q) = self.writers.queued.lock() {
            q.jobs.retain(|j| j.id != self.id);
        }
    }
}

impl Writers {
    pub(crate) fn new(path: PathBuf, epoch: Arc<Epoch>) -> Writers {
        Writers {
            queue: Arc::new(Semaphore::new(1)),
            path,
            direct: Mutex::new(None),
            queued: Mutex::new(Queued::default()),
            groups: AtomicU64::new(0),
            epoch,
        }
    }

    /// The writer's place, for a transaction on a pooled connection.
    pub(crate) async fn permit(&self) -> Result<OwnedSemaphorePermit> {
        Ok(self
            .queue
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?)
    }

    /// How many groups the writer connection has committed (or tried to).
    pub fn groups(&self) -> u64 {
        self.groups.load(Ordering::Relaxed)
    }

    pub(crate) fn close(&self) {
        self.queue.close();
        if let Ok(mut direct) = self.direct.lock() {
            direct.take();
        }
    }

    /// Runs `f` as part of the next group commit and answers with its outcome once that has committed.
    pub(crate) async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let (send, mut outcome) = oneshot::channel::<Result<T>>();
        let slot = Arc::new(Mutex::new(None::<rusqlite::Result<T>>));
        let filled = slot.clone();
        let run = Box::new(move |conn: &rusqlite::Connection| {
            let out = f(conn);
            let ok = out.is_ok();
            if let Ok(mut s) = filled.lock() {
                *s = Some(out);
            }
            ok
        });
        let answer: Answer = Box::new(move |committed: std::result::Result<(), String>| {
            let out = match (slot.lock().ok().and_then(|mut s| s.take()), committed) {
                (Some(Err(e)), _) => Err(failed(e)),
                (_, Err(e)) => Err(failed(e)),
                (Some(Ok(v)), Ok(())) => Ok(v),
                (None, Ok(())) => Err(failed("the write did not run")),
            };
            let _ = send.send(out);
        });
        let id = {
            let mut q = self.queued.lock().map_err(|_| poisoned())?;
            q.next_id += 1;
            let id = q.next_id;
            q.jobs.push_back(Job { id, run, answer });
            id
        };
        let _withdraw = Withdraw { writers: self, id };
        loop {
            tokio::select! {
                biased;
                out = &mut outcome => {
                    return out.unwrap_or_else(|_| Err(failed("the writer stopped")));
                }
                permit = self.queue.clone().acquire_owned() => {
                    let permit = permit.map_err(|_| sqlx::Error::PoolClosed)?;
                    let group: Vec<Job> = {
                        let mut q = self.queued.lock().map_err(|_| poisoned())?;
                        let n = q.jobs.len().min(MOST_PER_COMMIT);
                        q.jobs.drain(..n).collect()
                    };
                    // An empty queue under the permit means an earlier group carried this write: its outcome is
                    // in the channel, which the next turn of the loop reads.
                    if group.is_empty() {
                        continue;
                    }
                    let writers = self.clone();
                    tokio::task::spawn_blocking(move || {
                        let _permit = permit;
                        writers.commit_group(group);
                    })
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("sqlite write task: {e}")))?;
                }
            }
        }
    }

    /// Runs the group in one transaction and answers every write in it.
    fn commit_group(&self, group: Vec<Job>) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        let mut answers = Vec::with_capacity(group.len());
        let committed = match self.direct.lock() {
            Ok(mut guard) => self.run_group(&mut guard, group, &mut answers),
            Err(_) => {
                answers.extend(group.into_iter().map(|j| j.answer));
                Err("sqlite writer poisoned".to_string())
            }
        };
        for answer in answers {
            answer(committed.clone());
        }
    }

    fn run_group(
        &self,
        direct: &mut Option<(rusqlite::Connection, u64)>,
        group: Vec<Job>,
        answers: &mut Vec<Answer>,
    ) -> std::result::Result<(), String> {
        if direct.is_none() {
            match self.open() {
                Ok(conn) => *direct = Some((conn, self.epoch.generation())),
                Err(e) => {
                    answers.extend(group.into_iter().map(|j| j.answer));
                    return Err(e.to_string());
                }
            }
        }
        let Some((conn, loaded)) = direct.as_mut() else {
            answers.extend(group.into_iter().map(|j| j.answer));
            return Err("sqlite writer missing".into());
        };
        let generation = self.epoch.generation();
        let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        {
            Ok(tx) => tx,
            Err(e) => {
                answers.extend(group.into_iter().map(|j| j.answer));
                return Err(e.to_string());
            }
        };
        let mut broken = None;
        if *loaded != generation {
            // `ANALYZE sqlite_schema` reloads the statistics into this connection and expires its prepared
            // statements, which are planned again with them.
            match tx.execute_batch("ANALYZE sqlite_schema") {
                Ok(()) => *loaded = generation,
                Err(e) => broken = Some(e.to_string()),
            }
        }
        for job in group {
            answers.push(job.answer);
            if broken.is_some() {
                continue;
            }
            let mut sp = match tx.savepoint() {
                Ok(sp) => sp,
                Err(e) => {
                    broken = Some(e.to_string());
                    continue;
                }
            };
            // A panicking write is a failed one; the others in its group still commit.
            let ok = catch_unwind(AssertUnwindSafe(|| (job.run)(&sp))).unwrap_or(false);
            let ended = if ok {
                sp.commit()
            } else {
                sp.rollback().and_then(|()| sp.commit())
            };
            if let Err(e) = ended {
                // The transaction itself is in doubt (SQLite rolls all of it back on some errors): none of
                // the group commits.
                broken = Some(e.to_string());
            }
        }
        match broken {
            Some(e) => Err(e),
            None => tx.commit().map_err(|e| e.to_string()),
        }
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.set_prepared_statement_cache_capacity(PREPARED);
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Removes the test's database files, whatever the outcome.
    struct Remove(PathBuf);

    impl Drop for Remove {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = self.0.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }

    fn writers() -> (Arc<Writers>, PathBuf) {
        let path =
            std::env::temp_dir().join(format!("skybridge-writer-{}.db", uuid::Uuid::new_v4()));
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .unwrap();
        (
            Arc::new(Writers::new(path.clone(), Arc::new(Epoch::new()))),
            path,
        )
    }

    fn rows(path: &PathBuf) -> Vec<i64> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut s = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    /// Writes queued behind a held lock commit as one group; in it, a write that fails and one that panics
    /// are undone alone and answered with an error, and a write that sees the failed one's row cannot.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_commits_once_and_undoes_only_its_failed_writes() {
        let (w, path) = writers();
        let _remove = Remove(path.clone());
        let held = w.permit().await.unwrap();
        let mut queued = Vec::new();
        for x in 1..=6i64 {
            let writer = w.clone();
            queued.push(tokio::spawn(async move {
                writer
                    .write(move |c| {
                        c.prepare_cached("INSERT INTO t (x) VALUES (?1)")?
                            .execute([x])?;
                        match x {
                            // Fails after its insert: the insert must not survive.
                            2 => c.execute("INSERT INTO t (x) VALUES (?1)", [1]).map(|_| x),
                            4 => panic!("a write that panics"),
                            // Runs after 2 in the same transaction: 2's row must already be gone.
                            5 => c
                                .query_row("SELECT count(*) FROM t WHERE x = 2", [], |r| r.get(0))
                                .map(|n: i64| n * 100 + x),
                            _ => Ok(x),
                        }
                    })
                    .await
            }));
            // Queued in order: each write is in the queue before the next is spawned.
            while w.queued.lock().unwrap().jobs.len() < usize::try_from(x).unwrap() {
                tokio::task::yield_now().await;
            }
        }
        let before = w.groups();
        drop(held);
        let mut answers = Vec::new();
        for q in queued {
            answers.push(q.await.unwrap().map_err(|e| e.to_string()));
        }
        assert_eq!(w.groups() - before, 1, "one commit for the six writes");
        assert_eq!(answers[0], Ok(1));
        assert!(
            answers[1].as_ref().unwrap_err().contains("UNIQUE"),
            "{:?}",
            answers[1]
        );
        assert_eq!(answers[2], Ok(3));
        assert!(
            answers[3].is_err(),
            "the panicking write is answered with an error"
        );
        assert_eq!(
            answers[4],
            Ok(5),
            "the failed write's row was undone before the next ran"
        );
        assert_eq!(answers[5], Ok(6));
        assert_eq!(rows(&path), vec![1, 3, 5, 6]);
    }

    /// A caller that stops waiting takes its write out of the queue: it never runs later.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_whose_caller_gave_up_never_runs() {
        let (w, path) = writers();
        let _remove = Remove(path.clone());
        let held = w.permit().await.unwrap();
        let pending = {
            let w = w.clone();
            tokio::spawn(async move {
                w.write(|c| c.execute("INSERT INTO t (x) VALUES (7)", []).map(|_| ()))
                    .await
            })
        };
        while w.queued.lock().unwrap().jobs.is_empty() {
            tokio::task::yield_now().await;
        }
        pending.abort();
        assert!(pending.await.unwrap_err().is_cancelled());
        assert!(w.queued.lock().unwrap().jobs.is_empty());
        drop(held);
        w.write(|c| c.execute("INSERT INTO t (x) VALUES (8)", []).map(|_| ()))
            .await
            .unwrap();
        assert_eq!(rows(&path), vec![8]);
    }
}
