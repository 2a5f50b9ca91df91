//! What the state root holds, in bytes: per run what it holds alone and
//! what it shares with other runs through the objects of its kept snapshot
//! ([`Store::usage`], `pikaci du`), and the sweep of objects no run uses
//! any more (part of gc).
//!
//! Bytes are file sizes (what `du --apparent-size` counts); each object is
//! counted once, however many runs use it.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::RunId;
use pikaci_core::snapshot::kept::{Manifest, OBJECTS_CACHE_DIR, OBJECTS_TMP_DIR, ObjectId};

use crate::error::StoreError;
use crate::fs::{EntryKind, Fs};
use crate::store::Store;

/// A manifest larger than this is not read (about 2.5 million files).
const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// Distinguishes the trash folders of sweeps in one process.
static SWEEPS: AtomicU64 = AtomicU64::new(0);

/// One run's share of the state root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunUsage {
    /// The run.
    pub run: RunId,
    /// Bytes only this run holds: its folder (record, logs, manifest) and
    /// the objects no other run uses. Deleting the run frees these.
    pub own_bytes: u64,
    /// Bytes of the objects this run uses that other runs use too.
    pub shared_bytes: u64,
}

/// What the state root holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every run, newest first.
    pub runs: Vec<RunUsage>,
    /// All run folders together.
    pub runs_bytes: u64,
    /// All objects together (each once).
    pub objects_bytes: u64,
    /// Objects no run uses (and half-written ones): the next gc frees them.
    pub unused_bytes: u64,
}

impl Usage {
    /// Everything: the run folders and the objects.
    pub fn total_bytes(&self) -> u64 {
        self.runs_bytes + self.objects_bytes
    }
}

/// What a sweep of the objects folder did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Objects deleted (half-written ones included).
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The sweep did not happen: a run was writing objects (it holds the
    /// folder); the next gc sweeps.
    pub busy: bool,
}

impl<F: Fs> Store<F> {
    /// What each run holds alone and shares, newest first.
    pub fn usage(&self) -> Result<Usage, StoreError> {
        let ids = self.list_runs(None, usize::MAX)?;
        let mut users: BTreeMap<ObjectId, usize> = BTreeMap::new();
        let mut uses = Vec::with_capacity(ids.len());
        for id in &ids {
            let objects: BTreeMap<ObjectId, u64> = self
                .manifest(id)
                .map(|m| m.objects().collect())
                .unwrap_or_default();
            for object in objects.keys() {
                *users.entry(*object).or_default() += 1;
            }
            uses.push(objects);
        }
        let mut usage = Usage::default();
        for (id, objects) in ids.into_iter().zip(uses) {
            let folder = self
                .tree_bytes(&self.root.run_dir(&id))
                .map_err(|e| StoreError::io(format!("measuring run {id}"))(self.relative(e)))?;
            usage.runs_bytes += folder;
            let (mut own, mut shared) = (folder, 0);
            for (object, size) in objects {
                if users[&object] > 1 {
                    shared += size;
                } else {
                    own += size;
                }
            }
            usage.runs.push(RunUsage {
                run: id,
                own_bytes: own,
                shared_bytes: shared,
            });
        }
        let (all, unused) = self.objects_bytes(&users.keys().copied().collect())?;
        usage.objects_bytes = all;
        usage.unused_bytes = unused;
        Ok(usage)
    }

    /// Run `id`'s kept manifest, `None` when it has none or it cannot be
    /// read (then no rerun can use it either, so it keeps no object).
    pub(crate) fn manifest(&self, id: &RunId) -> Option<Manifest> {
        let bytes = self
            .fs
            .read(&self.root.snapshot_manifest(id), MAX_MANIFEST_BYTES)
            .ok()?;
        Manifest::parse(&bytes).ok()
    }

    /// The bytes of all objects, and of those not in `used`.
    fn objects_bytes(&self, used: &BTreeSet<ObjectId>) -> Result<(u64, u64), StoreError> {
        let (mut all, mut unused) = (0, 0);
        for (path, id) in self.objects()? {
            let size = self.fs.size(&path).ok().flatten().unwrap_or(0);
            all += size;
            if id.is_none_or(|id| !used.contains(&id)) {
                unused += size;
            }
        }
        Ok((all, unused))
    }

    /// Every file in the objects folder with its id (`None` for a
    /// half-written one in `tmp/`, or a stray file); the stat caches in
    /// `cache/` are no objects and are left out (gc drops them whole).
    fn objects(&self) -> Result<Vec<(Utf8PathBuf, Option<ObjectId>)>, StoreError> {
        let dir = self.root.objects_dir();
        let failed = |e| StoreError::io("listing the objects folder")(self.relative(e));
        let folders = match self.fs.list_dir(&dir) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(failed(e)),
        };
        let mut out = Vec::new();
        for folder in folders {
            let path = dir.join(&folder);
            if folder == OBJECTS_CACHE_DIR
                || self.fs.kind(&path).map_err(failed)? != Some(EntryKind::Dir)
            {
                continue;
            }
            for name in self.fs.list_dir(&path).map_err(failed)? {
                let id = (folder != OBJECTS_TMP_DIR)
                    .then(|| ObjectId::from_relative(&folder, &name))
                    .flatten();
                out.push((path.join(name), id));
            }
        }
        Ok(out)
    }

    /// Deletes the objects no kept manifest of a run other than `gone`
    /// uses, and what interrupted snapshots left half-written, holding the
    /// objects folder exclusively: a run that is writing objects holds it
    /// shared, so none of its new objects (named in no manifest yet) is
    /// taken. When a run holds it, nothing is swept ([`Sweep::busy`]).
    pub(crate) fn sweep_objects(
        &self,
        gone: &BTreeSet<RunId>,
        dry_run: bool,
    ) -> Result<Sweep, StoreError> {
        let dir = self.root.objects_dir();
        let failed = |e| StoreError::io("sweeping the objects folder")(self.relative(e));
        let _hold = match self.fs.try_hold_exclusive(&dir) {
            Ok(hold) => hold,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Sweep::default()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Ok(Sweep {
                    busy: true,
                    ..Sweep::default()
                });
            }
            Err(e) => return Err(failed(e)),
        };
        let mut used = BTreeSet::new();
        for id in self.all_run_ids()? {
            if gone.contains(&id) {
                continue;
            }
            if let Some(m) = self.manifest(&id) {
                used.extend(m.objects().map(|(object, _)| object));
            }
        }
        let doomed: Vec<_> = self
            .objects()?
            .into_iter()
            .filter(|(_, id)| id.is_none_or(|id| !used.contains(&id)))
            .collect();
        if !dry_run {
            // The stat caches may name objects swept now: dropped (each is
            // rebuilt by its source's next snapshot), and not counted.
            self.remove_tree(&dir.join(OBJECTS_CACHE_DIR))
                .map_err(failed)?;
        }
        let mut sweep = Sweep::default();
        if doomed.is_empty() {
            return Ok(sweep);
        }
        // Each object is moved into one trash folder, removed at the end
        // (a sweep interrupted half-way leaves it for the next gc).
        let parked = self.root.trash_dir().join(format!(
            "objects-{}-{}",
            std::process::id(),
            SWEEPS.fetch_add(1, Ordering::Relaxed)
        ));
        if !dry_run {
            self.fs.create_dir_all(&parked).map_err(failed)?;
        }
        for (n, (path, _)) in doomed.iter().enumerate() {
            let size = self.fs.size(path).ok().flatten().unwrap_or(0);
            if !dry_run {
                match self.fs.rename(path, &parked.join(n.to_string())) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(failed(e)),
                }
            }
            sweep.objects += 1;
            sweep.bytes += size;
        }
        if !dry_run {
            self.remove_tree(&parked).map_err(failed)?;
        }
        Ok(sweep)
    }

    /// The bytes of every file under `path` (links count as nothing and
    /// are never followed); 0 when it is gone.
    pub(crate) fn tree_bytes(&self, path: &Utf8Path) -> io::Result<u64> {
        match self.fs.kind(path)? {
            Some(EntryKind::File) => Ok(self.fs.size(path)?.unwrap_or(0)),
            Some(EntryKind::Dir) => {
                let mut total = 0;
                for name in self.fs.list_dir(path)? {
                    total += self.tree_bytes(&path.join(name))?;
                }
                Ok(total)
            }
            _ => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pikaci_core::RunRecord;
    use pikaci_core::snapshot::kept::Entry;
    use pikaci_core::{Liveness, ProcessProbe};

    use super::*;
    use crate::{GcPolicy, MemFs, StateRoot};

    /// An object id for the tests: any 64 hex digits do (nothing here hashes).
    fn id_of(n: u8) -> ObjectId {
        ObjectId::parse_hex(&format!("{n:02x}").repeat(32)).unwrap()
    }

    struct NobodyRuns;

    impl Liveness for NobodyRuns {
        fn this_host(&self) -> &str {
            "here"
        }
        fn is_alive(&self, _: u32) -> bool {
            false
        }
        fn probe(&self, _: u32) -> ProcessProbe {
            ProcessProbe::Gone
        }
    }

    /// A run whose manifest names objects `ids`, each `size` bytes, stored.
    fn kept_run(store: &Store<MemFs>, id: &str, ids: &[u8], size: usize) -> RunId {
        let record = RunRecord::for_test(id);
        store.persist_run_record(&record).unwrap();
        let mut manifest = Manifest::default();
        for &n in ids {
            let object = id_of(n);
            manifest.entries.insert(
                format!("f{n}").into(),
                Entry::File {
                    id: object,
                    size: size as u64,
                    executable: false,
                },
            );
            let path = store.root().objects_dir().join(object.relative_path());
            store.fs().write_atomic(&path, &vec![n; size]).unwrap();
        }
        store
            .fs()
            .write_atomic(
                &store.root().snapshot_manifest(&record.run_id),
                &manifest.encode(),
            )
            .unwrap();
        record.run_id
    }

    #[test]
    fn du_splits_what_a_run_holds_alone_from_what_it_shares_and_gc_frees_the_last_users_objects() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let old = kept_run(&store, "20260301T000000Z-00000001", &[1, 2], 100);
        let new = kept_run(&store, "20260302T000000Z-00000002", &[1, 3], 100);
        // Half-written by a snapshot that was killed.
        let tmp = store
            .root()
            .objects_dir()
            .join(OBJECTS_TMP_DIR)
            .join("x-1-0");
        store.fs().write_atomic(&tmp, &[0; 7]).unwrap();
        // A source's stat cache: no object, counted nowhere, dropped by gc.
        let cache = store
            .root()
            .objects_dir()
            .join(OBJECTS_CACHE_DIR)
            .join("0123456789abcdef0123456789abcdef");
        store.fs().write_atomic(&cache, &[0; 1000]).unwrap();

        let usage = store.usage().unwrap();
        let folder = |id: &RunId| store.tree_bytes(&store.root().run_dir(id)).unwrap();
        assert_eq!(usage.runs.len(), 2);
        assert_eq!(usage.runs[0].run, new, "newest first");
        assert_eq!(usage.runs[0].own_bytes, folder(&new) + 100);
        assert_eq!(usage.runs[0].shared_bytes, 100);
        assert_eq!(usage.runs[1].own_bytes, folder(&old) + 100);
        assert_eq!(usage.objects_bytes, 307);
        assert_eq!(usage.unused_bytes, 7);
        assert_eq!(usage.total_bytes(), folder(&new) + folder(&old) + 307);

        // While a run writes objects, gc deletes runs but sweeps nothing.
        let policy = GcPolicy {
            keep_runs: Some(1),
            older_than: None,
            stale_running_after: Duration::from_secs(1),
        };
        let now = "2026-12-01T00:00:00Z".parse().unwrap();
        let writing = store.fs().hold_shared(&store.root().objects_dir()).unwrap();
        let dry = store.gc_runs(&policy, &NobodyRuns, now, true).unwrap();
        assert!(dry.objects.busy);
        drop(writing);
        let dry = store.gc_runs(&policy, &NobodyRuns, now, true).unwrap();
        assert_eq!((dry.objects.objects, dry.objects.bytes), (2, 107));
        assert_eq!(
            store.usage().unwrap().objects_bytes,
            307,
            "a dry run frees nothing"
        );

        let report = store.gc_runs(&policy, &NobodyRuns, now, false).unwrap();
        assert_eq!(report.deleted, std::slice::from_ref(&old));
        assert_eq!(report.runs_bytes, dry.runs_bytes);
        // Object 2 (the old run's alone) and the half-written one; 1 stays.
        assert_eq!((report.objects.objects, report.objects.bytes), (2, 107));
        assert_eq!(report.freed_bytes(), report.runs_bytes + 107);
        assert_eq!(
            store.fs().kind(&cache).unwrap(),
            None,
            "the cache is dropped"
        );
        let usage = store.usage().unwrap();
        assert_eq!(usage.objects_bytes, 200);
        assert_eq!(
            usage.runs[0].own_bytes,
            folder(&new) + 200,
            "nothing shared now"
        );
        assert_eq!(usage.unused_bytes, 0);
    }

    #[test]
    fn a_manifest_that_cannot_be_read_keeps_nothing() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let run = kept_run(&store, "20260301T000000Z-00000001", &[4], 10);
        store
            .fs()
            .write_atomic(&store.root().snapshot_manifest(&run), b"garbage")
            .unwrap();
        let sweep = store.sweep_objects(&BTreeSet::new(), false).unwrap();
        assert_eq!((sweep.objects, sweep.bytes), (1, 10));
    }
}
