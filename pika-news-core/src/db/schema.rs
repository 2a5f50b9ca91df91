//! Versioned migrations, tracked with `PRAGMA user_version`.

use rusqlite::{Connection, OptionalExtension as _};

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
    // 5: where a suite's lanes came from (the head's manifest, its
    // pikaci.toml targets, or the server's manifest); null for older suites
    // and for heads with no lanes.
    r"
    ALTER TABLE suites ADD COLUMN lane_source TEXT;
    ",
    // 6: a branch can be merged through the server: the state `merged` and
    // the merge commit. SQLite cannot change a CHECK, so the table is rebuilt
    // (SQLite's documented procedure; foreign keys are off meanwhile, see
    // `migrate`).
    r"
    CREATE TABLE branches_new (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        head          TEXT,
        state         TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed', 'merged')),
        updated_at    TEXT NOT NULL,
        title         TEXT,
        merge_base    TEXT,
        merge_commit  TEXT
    );
    INSERT INTO branches_new (id, name, head, state, updated_at, title, merge_base)
        SELECT id, name, head, state, updated_at, title, merge_base FROM branches;
    DROP TABLE branches;
    ALTER TABLE branches_new RENAME TO branches;
    ",
    // 7: when a running lane's runner last renewed its lease (upstream's
    // `last_heartbeat_at`).
    r"
    ALTER TABLE lanes ADD COLUMN last_heartbeat_at TEXT;
    ",
    // 8: every stored time in one precision, milliseconds (`...:47.000Z`),
    // as `stored_time` writes them: older rows had no fraction when the
    // milliseconds were zero (`...:47Z`), which sorts after `...:47.5Z` as
    // text. SQLite's `%f` is seconds with three decimals; `strftime` of
    // NULL is NULL. Only values shaped like our times are touched (`now` is a
    // time to SQLite), and one SQLite cannot read is kept.
    r"
    UPDATE tokens SET
        created_at = CASE WHEN created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', created_at), created_at) ELSE created_at END,
        revoked_at = CASE WHEN revoked_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', revoked_at), revoked_at) ELSE revoked_at END,
        expires_at = CASE WHEN expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', expires_at), expires_at) ELSE expires_at END;
    UPDATE branches SET
        updated_at = CASE WHEN updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', updated_at), updated_at) ELSE updated_at END;
    UPDATE suites SET
        created_at = CASE WHEN created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', created_at), created_at) ELSE created_at END;
    UPDATE lanes SET
        lease_expires_at = CASE WHEN lease_expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', lease_expires_at), lease_expires_at) ELSE lease_expires_at END,
        created_at = CASE WHEN created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', created_at), created_at) ELSE created_at END,
        started_at = CASE WHEN started_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', started_at), started_at) ELSE started_at END,
        finished_at = CASE WHEN finished_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', finished_at), finished_at) ELSE finished_at END,
        last_heartbeat_at = CASE WHEN last_heartbeat_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', last_heartbeat_at), last_heartbeat_at) ELSE last_heartbeat_at END;
    UPDATE nightly_runs SET
        scheduled_for = CASE WHEN scheduled_for GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', scheduled_for), scheduled_for) ELSE scheduled_for END,
        created_at = CASE WHEN created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', created_at), created_at) ELSE created_at END;
    UPDATE npub_allowlist SET
        created_at = CASE WHEN created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', created_at), created_at) ELSE created_at END,
        updated_at = CASE WHEN updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'
            THEN coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', updated_at), updated_at) ELSE updated_at END;
    ",
    // 9: the author of a branch's head commit, as last seen (its subject is
    // `title`), for the pages' commit context.
    r"
    ALTER TABLE branches ADD COLUMN head_author TEXT;
    ",
];

/// Brings the schema up to date in one transaction per step. Foreign keys
/// are off while it runs (a step that rebuilds a table must not cascade the
/// drop of the old one) and each step checks them before it commits.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?
        .try_into()
        .unwrap_or(0);
    if version >= MIGRATIONS.len() {
        return Ok(());
    }
    let enforced: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = (|| {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()?;
            if let Some(table) = broken {
                return Err(DbError::Conflict(format!(
                    "migration {} breaks a foreign key of table {table}",
                    i + 1
                )));
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    })();
    if enforced {
        conn.pragma_update(None, "foreign_keys", "ON")?;
    }
    result
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

    #[test]
    fn migration_8_gives_every_stored_time_milliseconds_so_they_sort_as_text() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS.iter().enumerate().take(7) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", (i + 1) as i64)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO branches (id, name, updated_at) VALUES (1, 'a', '2026-12-07T20:01:47Z');
             INSERT INTO suites (id, branch_id, head, status, created_at)
                 VALUES (1, 1, 'h', 'passed', '2026-12-07T20:01:47.5Z');
             INSERT INTO lanes (suite_id, lane, title, status, created_at, started_at, lease_expires_at)
                 VALUES (1, 'l', 'l', 'running', '2026-12-07T22:01:47+02:00', NULL, 'now');
             INSERT INTO nightly_runs (suite_id, scheduled_for, source_ref, created_at)
                 VALUES (1, '2026-12-07T08:00:00Z', 'main', 'not a time');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let one = |sql: &str| -> Option<String> { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            one("SELECT updated_at FROM branches").as_deref(),
            Some("2026-12-07T20:01:47.000Z")
        );
        assert_eq!(
            one("SELECT created_at FROM suites").as_deref(),
            Some("2026-12-07T20:01:47.500Z")
        );
        // An offset is brought to UTC; NULL stays NULL; a value not shaped
        // like our times (SQLite reads `now` as a time) is kept as it was.
        assert_eq!(
            one("SELECT created_at FROM lanes").as_deref(),
            Some("2026-12-07T20:01:47.000Z")
        );
        assert_eq!(one("SELECT started_at FROM lanes"), None);
        assert_eq!(
            one("SELECT lease_expires_at FROM lanes").as_deref(),
            Some("now")
        );
        // The nightly slot keeps matching the slot new code stores for it.
        let slot: jiff::Timestamp = "2026-12-07T08:00:00Z".parse().unwrap();
        assert_eq!(
            one("SELECT scheduled_for FROM nightly_runs"),
            Some(crate::db::stored_time(slot))
        );
        assert_eq!(
            one("SELECT created_at FROM nightly_runs").as_deref(),
            Some("not a time")
        );
        // Now a later time within the same second sorts after it as text.
        assert!("2026-12-07T20:01:47.000Z" < "2026-12-07T20:01:47.500Z");
    }

    #[test]
    fn the_branches_rebuild_keeps_rows_and_their_suites() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        // Up to version 4, with a branch and a suite of it.
        for (i, sql) in MIGRATIONS.iter().enumerate().take(4) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", (i + 1) as i64)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO branches (id, name, head, state, updated_at, title) VALUES (7, 'f', 'h', 'closed', 't', 'T');
             INSERT INTO suites (branch_id, head, status, created_at) VALUES (7, 'h', 'passed', 't');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let row: (String, String, Option<String>) = conn
            .query_row(
                "SELECT name, state, title FROM branches WHERE id = 7",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("f".into(), "closed".into(), Some("T".into())));
        let suites: i64 = conn
            .query_row("SELECT count(*) FROM suites WHERE branch_id = 7", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(suites, 1, "the rebuild did not cascade");
        let on: bool = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert!(on);
        conn.execute(
            "UPDATE branches SET state = 'merged', merge_commit = 'c' WHERE id = 7",
            [],
        )
        .unwrap();
        // Deleting the branch still cascades to its suites: the key follows the new table.
        conn.execute("DELETE FROM branches WHERE id = 7", [])
            .unwrap();
        let suites: i64 = conn
            .query_row("SELECT count(*) FROM suites", [], |r| r.get(0))
            .unwrap();
        assert_eq!(suites, 0);
    }
}
