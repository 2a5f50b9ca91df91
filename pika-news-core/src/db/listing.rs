//! Lists a reader walks page by page: branches, a branch's suites, the
//! lanes of one commit. Newest first (by id); a page ends with the cursor of
//! the next one, so every row is reached exactly once however many there
//! are, and rows added meanwhile (larger ids) never shift a later page.

use rusqlite::params;

use super::forge::{
    LANE_COLUMNS, SUITE_COLUMNS, branch_from, explain, lane_from, suite_from, with_lanes,
};
use super::schema::BRANCH_SUITE;
use super::waiting::Gate;
use super::{Branch, BranchId, Db, DbError, Lane, LaneRunId, Suite, SuiteId};

/// The most rows one page holds, whatever a reader asks for.
pub const MAX_PAGE: u32 = 200;

/// How many rows a page holds when the reader does not say.
pub const DEFAULT_PAGE: u32 = 50;

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    /// Its rows.
    pub items: Vec<T>,
    /// Where the next page starts (`None`: this was the last one).
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// The first `limit` of `rows` (read with one more than that, to know
    /// whether there is a next page), and the cursor of the next page.
    fn of(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> C) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(cursor) } else { None };
        Self { items: rows, next }
    }
}

/// `limit` kept within 1..=[`MAX_PAGE`].
fn clamp(limit: u32) -> u32 {
    limit.clamp(1, MAX_PAGE)
}

impl Db {
    /// Branches, newest first, those older than `before` (a cursor a page
    /// gave), at most `limit` (see [`MAX_PAGE`]).
    pub async fn branches_page(
        &self,
        before: Option<BranchId>,
        limit: u32,
    ) -> Result<Page<Branch, BranchId>, DbError> {
        let limit = clamp(limit);
        self.call(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, name, head, state, updated_at, merge_commit FROM branches
                 WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![before, limit + 1], branch_from)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::of(rows, limit, |b: &Branch| b.id))
        })
        .await
    }

    /// A branch's suites (not its nightly runs), newest first, those older
    /// than `before`, at most `limit`, each with its lanes.
    pub async fn suites_page(
        &self,
        branch_id: BranchId,
        before: Option<SuiteId>,
        limit: u32,
    ) -> Result<Page<Suite, SuiteId>, DbError> {
        let limit = clamp(limit);
        let rules = self.queue_rules();
        self.call(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {SUITE_COLUMNS} FROM suites
                 WHERE branch_id = ?1 AND {BRANCH_SUITE} AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = stmt
                .query_map(params![branch_id, before, limit + 1], suite_from)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut page = Page::of(rows, limit, |s: &Suite| s.id);
            with_lanes(c, &mut page.items, rules)?;
            Ok(page)
        })
        .await
    }

    /// How many suites (not nightly runs) a branch has had: the number of
    /// its newest (`#7`); the one `n` places older is `#(count - n)`.
    pub async fn suite_count(&self, branch_id: BranchId) -> Result<u64, DbError> {
        self.call(move |c| {
            let n: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM suites WHERE branch_id = ?1 AND {BRANCH_SUITE}"),
                [branch_id],
                |r| r.get(0),
            )?;
            Ok(n.unsigned_abs())
        })
        .await
    }

    /// One lane run, or `None`.
    pub async fn lane(&self, id: LaneRunId) -> Result<Option<Lane>, DbError> {
        let rules = self.queue_rules();
        self.call(move |c| {
            let mut stmt = c.prepare(&format!("SELECT {LANE_COLUMNS} FROM lanes WHERE id = ?1"))?;
            let mut lane = stmt.query_map([id], lane_from)?.next().transpose()?;
            explain(&Gate::read(c, rules)?, &mut lane);
            Ok(lane)
        })
        .await
    }

    /// Every suite (a branch's or a nightly run's) of the commit `head`,
    /// newest first, each with its lanes; at most [`MAX_PAGE`].
    pub async fn suites_of_commit(&self, head: &str) -> Result<Vec<Suite>, DbError> {
        let head = head.to_owned();
        let rules = self.queue_rules();
        self.call(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {SUITE_COLUMNS} FROM suites WHERE head = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let mut suites = stmt
                .query_map(params![head, MAX_PAGE], suite_from)?
                .collect::<Result<Vec<_>, _>>()?;
            with_lanes(c, &mut suites, rules)?;
            Ok(suites)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::db::{NewLane, SuiteStatus};

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let path = camino::Utf8PathBuf::try_from(dir.path().join("db.sqlite")).unwrap();
        (dir, Db::open(&path).unwrap())
    }

    #[tokio::test]
    async fn every_suite_of_a_long_branch_is_reached_once_page_by_page() {
        let (_dir, db) = db();
        let branch = db.upsert_branch("long", &"a".repeat(40)).await.unwrap();
        let mut made = BTreeSet::new();
        for i in 0..120 {
            let head = format!("{i:040x}");
            let suite = db
                .insert_suite(branch, &head, SuiteStatus::Running, None)
                .await
                .unwrap();
            db.insert_lane(NewLane {
                suite_id: suite,
                lane: "ci".into(),
                title: "ci".into(),
                concurrency_group: None,
                command: None,
                timeout_secs: None,
            })
            .await
            .unwrap();
            made.insert(suite);
        }
        let (mut seen, mut before, mut pages) = (Vec::new(), None, 0);
        loop {
            let page = db.suites_page(branch, before, 50).await.unwrap();
            pages += 1;
            assert!(page.items.iter().all(|s| s.lanes.len() == 1));
            seen.extend(page.items.iter().map(|s| s.id));
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 120, "none twice");
        assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), made);
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");
    }

    #[tokio::test]
    async fn a_page_is_bounded_and_the_last_one_has_no_next() {
        let (_dir, db) = db();
        for i in 0..3 {
            db.upsert_branch(&format!("b{i}"), "x").await.unwrap();
        }
        let all = db.branches_page(None, 10_000).await.unwrap();
        assert_eq!(all.items.len(), 3);
        assert_eq!(all.next, None);
        let one = db.branches_page(None, 0).await.unwrap();
        assert_eq!(one.items.len(), 1, "a limit of 0 is 1");
        assert_eq!(one.items[0].name, "b2");
        let rest = db.branches_page(one.next, 5).await.unwrap();
        assert_eq!(
            rest.items
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>(),
            ["b1", "b0"]
        );
    }

    #[tokio::test]
    async fn a_commits_suites_and_one_lane_are_found() {
        let (_dir, db) = db();
        let branch = db.upsert_branch("b", "c1").await.unwrap();
        let suite = db
            .insert_suite(branch, "c1", SuiteStatus::Running, None)
            .await
            .unwrap();
        db.insert_suite(branch, "c2", SuiteStatus::Running, None)
            .await
            .unwrap();
        let lane = db
            .insert_lane(NewLane {
                suite_id: suite,
                lane: "ci".into(),
                title: "CI".into(),
                concurrency_group: None,
                command: None,
                timeout_secs: None,
            })
            .await
            .unwrap();
        let of_c1 = db.suites_of_commit("c1").await.unwrap();
        assert_eq!(of_c1.len(), 1);
        assert_eq!(of_c1[0].lanes[0].id, lane);
        assert!(db.suites_of_commit("c3").await.unwrap().is_empty());
        assert_eq!(db.lane(lane).await.unwrap().unwrap().title, "CI");
        let missing = LaneRunId::new(i64::from(u32::MAX)).unwrap();
        assert_eq!(db.lane(missing).await.unwrap(), None);
    }
}
