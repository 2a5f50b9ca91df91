//! Versioned migrations, tracked with `PRAGMA user_version`.

use rusqlite::Connection;

use super::DbError;

/// The SQL condition (on a `suites` row's `id`) that it is a branch's own
/// suite, not a nightly run.
pub(super) const BRANCH_SUITE: &str = "id NOT IN (SELECT suite_id FROM nightly_runs)";

/// Each entry moves the schema one version up; never edit one that shipped.
const MIGRATIONS: &[&str] = &[
    // 1: tokens, branches, suites, lanes.
    r"
    CREATE TABLE tokens (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        role        TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
        hash        TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL,
        revoked_at  TEXT
    );
    CREATE TABLE branches (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        head        TEXT,
        state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE suites (
        id          INTEGER PRIMARY KEY,
        branch_id   INTEGER NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
        head        TEXT NOT NULL,
        status      TEXT NOT NULL,
        message     TEXT,
        created_at  TEXT NOT NULL
    );
    CREATE INDEX suites_by_branch ON suites (branch_id, id);
    CREATE TABLE lanes (
        id                INTEGER PRIMARY KEY,
        suite_id          INTEGER NOT NULL REFERENCES suites (id) ON DELETE CASCADE,
        lane              TEXT NOT NULL,
        title             TEXT NOT NULL,
        status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'passed', 'failed', 'cancelled')),
        failure_kind      TEXT,
        pikaci_run_id     TEXT,
        lease_owner       TEXT,
        lease_expires_at  TEXT,
        fencing_token     INTEGER NOT NULL DEFAULT 0,
        attempts          INTEGER NOT NULL DEFAULT 0,
        concurrency_group TEXT,
        log_path          TEXT,
        message           TEXT,
        created_at        TEXT NOT NULL,
        started_at        TEXT,
        finished_at       TEXT
    );
    CREATE INDEX lanes_by_suite ON lanes (suite_id, id);
    CREATE INDEX lanes_by_status ON lanes (status);
    ",
    // 2: what a lane runs, so a queued lane needs nothing but its row.
    r"
    ALTER TABLE lanes ADD COLUMN command TEXT;
    ALTER TABLE lanes ADD COLUMN timeout_secs INTEGER;
    ",
    // 3: what upstream pika's views show (a lane's entrypoint, how often it
    // was put back in the queue, the run it repeats; a branch's title and
    // merge base), and nightly runs: a suite of the default branch's head,
    // made on the manifest's schedule.
    r"
    ALTER TABLE lanes ADD COLUMN entrypoint TEXT;
    ALTER TABLE lanes ADD COLUMN retry_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE lanes ADD COLUMN rerun_of INTEGER;
    ALTER TABLE branches ADD COLUMN title TEXT;
    ALTER TABLE branches ADD COLUMN merge_base TEXT;
    CREATE TABLE nightly_runs (
        id             INTEGER PRIMARY KEY,
        suite_id       INTEGER NOT NULL UNIQUE REFERENCES suites (id) ON DELETE CASCADE,
        scheduled_for  TEXT NOT NULL,
        source_ref     TEXT NOT NULL,
        rerun_of       INTEGER REFERENCES nightly_runs (id),
        summary        TEXT,
        created_at     TEXT NOT NULL
    );
    CREATE UNIQUE INDEX nightly_runs_by_slot ON nightly_runs (scheduled_for) WHERE rerun_of IS NULL;
    ",
    // 4: `ph login`: who may log in with a Nostr key (and with which role),
    // and the tokens a login gives, tied to their key and expiring.
    r"
    ALTER TABLE tokens ADD COLUMN npub TEXT;
    ALTER TABLE tokens ADD COLUMN expires_at TEXT;
    CREATE INDEX tokens_by_npub ON tokens (npub) WHERE npub IS NOT NULL;
    CREATE TABLE npub_allowlist (
        npub        TEXT PRIMARY KEY,
        role        TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
        note        TEXT,
        active      INTEGER NOT NULL DEFAULT 1,
        updated_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    ",
];

/// Brings the schema up to date in one transaction per step.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?
        .try_into()
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_records_the_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        conn.execute(
            "INSERT INTO branches (name, updated_at) VALUES ('main', 'now')",
            [],
        )
        .unwrap();
    }
}
