//! Objects stored after a run's jobs have started: a first snapshot of a
//! tree writes the run's copy only ([`Objects::ingest`]) and
//! names the new contents in its manifest; [`PendingObjects::store`] then
//! stores them from that copy while the jobs run, and the engine waits for
//! it before the copy is removed.
//!
//! Every object is checked against its name before it is given that name:
//! a job (running as root) that wrote into the copy first changes nothing
//! the manifest promises. Such a file is taken from the source instead,
//! when the source still holds the same bytes; otherwise it is reported as
//! [`KeptError::Lost`]. A pikaci killed before it stored everything leaves
//! the run's copy in its folder, and a rerun takes the missing objects from
//! there, checked the same way ([`KeptLayout::leftover`]).
//!
//! [`KeptLayout::leftover`]: super::KeptLayout::leftover

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;

use super::manifest::ObjectId;
use super::objects::{
    KeptError, Objects, ObjectsHold, create_read_only, hash_and_copy, in_parallel,
};
use camino::{Utf8Path, Utf8PathBuf};

/// The objects a new kept snapshot named but did not store yet, and where
/// their bytes are: the run's copy first, then the source. Holds the objects
/// folder (gc waits) until stored or dropped.
#[derive(Debug, Default)]
pub struct PendingObjects {
    objects: Option<Objects>,
    files: Vec<(Utf8PathBuf, ObjectId)>,
    from: Vec<Utf8PathBuf>,
    _hold: Option<ObjectsHold>,
}

impl PendingObjects {
    /// Nothing to store.
    pub fn none() -> Self {
        Self::default()
    }

    /// `files` (a path relative to each folder of `from`, and the object it
    /// must become) to store into `objects`, holding it with `hold`.
    pub fn new(
        objects: Objects,
        files: Vec<(Utf8PathBuf, ObjectId)>,
        from: Vec<Utf8PathBuf>,
        hold: ObjectsHold,
    ) -> Self {
        Self {
            objects: Some(objects),
            files,
            from,
            _hold: Some(hold),
        }
    }

    /// How many objects are left to store.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether nothing is left to store.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Stores every object; returns how many were stored (others may have
    /// been stored meanwhile by a run of the same bytes). Stores all it
    /// can, then returns the first failure.
    pub fn store(self) -> Result<usize, KeptError> {
        match &self.objects {
            Some(objects) => {
                let from: Vec<&Utf8Path> = self.from.iter().map(Utf8PathBuf::as_path).collect();
                objects.store_pending(&self.files, &from)
            }
            None => Ok(0),
        }
    }
}

impl Objects {
    /// Stores each of `pending` (a path relative to the folders of `from`,
    /// and the object its bytes must hash to) that is not stored yet, from
    /// the first folder whose file has exactly those bytes. Stores all it
    /// can; returns how many it stored, or the first failure.
    pub fn store_pending(
        &self,
        pending: &[(Utf8PathBuf, ObjectId)],
        from: &[&Utf8Path],
    ) -> Result<usize, KeptError> {
        if pending.is_empty() {
            return Ok(0);
        }
        let tmp = self.tmp_dir();
        std::fs::create_dir_all(&tmp).map_err(|source| KeptError::Io {
            what: format!("creating {tmp}"),
            source,
        })?;
        // Two threads: this runs beside the jobs, and should not crowd them.
        let outcomes = in_parallel(2, pending, |(rel, id)| {
            Ok::<_, std::convert::Infallible>(self.store_one(rel, id, from))
        });
        let Ok(outcomes) = outcomes;
        let mut stored = 0;
        let mut first_failure = None;
        for outcome in outcomes {
            match outcome {
                Ok(true) => stored += 1,
                Ok(false) => {}
                Err(e) => {
                    first_failure.get_or_insert(e);
                }
            }
        }
        first_failure.map_or(Ok(stored), Err)
    }

    fn store_one(
        &self,
        rel: &Utf8Path,
        id: &ObjectId,
        from: &[&Utf8Path],
    ) -> Result<bool, KeptError> {
        if self.has(id) {
            return Ok(false);
        }
        for dir in from {
            let checked =
                self.store_checked(&dir.join(rel), id)
                    .map_err(|source| KeptError::Io {
                        what: format!("storing the object of {rel}"),
                        source,
                    })?;
            if checked {
                return Ok(true);
            }
        }
        Err(KeptError::Lost {
            id: *id,
            path: rel.to_owned(),
        })
    }

    /// Stores the file at `from` as object `id` when its bytes hash to
    /// `id`: written under a temporary name, renamed to `id` only once
    /// checked. `false` when there is no regular file there or its bytes
    /// differ (nothing is stored then).
    pub(super) fn store_checked(&self, from: &Utf8Path, id: &ObjectId) -> io::Result<bool> {
        // Never through a link, never waiting on a FIFO.
        let input = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(from);
        let mut input = match input {
            Ok(f) => f,
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(nix::libc::ELOOP) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        if !input.metadata()?.is_file() {
            return Ok(false);
        }
        let tmp = self.tmp_path(&id.to_string());
        let result = create_read_only(&tmp, false)
            .and_then(|mut object| hash_and_copy(&mut input, &mut object))
            .and_then(|(got, _)| {
                if got == *id {
                    self.place(&tmp, id).map(|()| true)
                } else {
                    Ok(false)
                }
            });
        if !matches!(result, Ok(true)) {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(tmp.path().to_owned()).unwrap();
        (tmp, root)
    }

    fn tree(dir: &Utf8Path, files: &[(&str, &str)]) -> Vec<Utf8PathBuf> {
        for (rel, body) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        files.iter().map(|(rel, _)| (*rel).into()).collect()
    }

    fn writable(dir: &Utf8Path) {
        let _ = std::process::Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(dir)
            .status();
    }

    /// What a root job does to a read-only file of its snapshot.
    fn overwrite(path: &Utf8Path, body: &str) {
        std::fs::set_permissions(path.parent().unwrap(), PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::set_permissions(path, PermissionsExt::from_mode(0o644)).unwrap();
        std::fs::write(path, body).unwrap();
    }

    #[test]
    fn a_first_copy_stores_nothing_until_asked_then_each_new_content_once() {
        let (_tmp, root) = temp();
        let src = root.join("src");
        let files = tree(&src, &[("a", "alpha"), ("same", "alpha"), ("d/b", "beta")]);
        let objects = Objects::new(root.join("objects"));
        let copy = root.join("run");
        let done = objects.ingest(&src, &files, &copy, None).unwrap();
        // Two contents, none stored yet: the objects folder holds no object.
        assert_eq!(done.pending.len(), 2);
        for (_, id) in &done.pending {
            assert!(!objects.has(id));
        }
        let again = root.join("again");
        let err = objects
            .materialize(&done.manifest, &again, None)
            .unwrap_err();
        assert!(matches!(err, KeptError::Missing { .. }), "{err}");
        writable(&again);
        std::fs::remove_dir_all(&again).unwrap();

        let stored = objects
            .store_pending(&done.pending, &[&copy, &src])
            .unwrap();
        assert_eq!(stored, 2);
        // Asked again (a second run of the same bytes): nothing new.
        assert_eq!(
            objects
                .store_pending(&done.pending, &[&copy, &src])
                .unwrap(),
            0
        );
        objects.materialize(&done.manifest, &again, None).unwrap();
        assert_eq!(std::fs::read_to_string(again.join("d/b")).unwrap(), "beta");
        for d in [&copy, &again] {
            writable(d);
        }
    }

    #[test]
    fn a_copy_a_job_wrote_into_is_not_stored_the_source_is_and_with_both_changed_it_is_lost() {
        let (_tmp, root) = temp();
        let src = root.join("src");
        let files = tree(&src, &[("a", "the original"), ("b", "bee")]);
        let objects = Objects::new(root.join("objects"));
        let copy = root.join("run");
        let done = objects.ingest(&src, &files, &copy, None).unwrap();
        overwrite(&copy.join("a"), "written by a root job");
        objects
            .store_pending(&done.pending, &[&copy, &src])
            .unwrap();
        let again = root.join("again");
        objects.materialize(&done.manifest, &again, None).unwrap();
        assert_eq!(
            std::fs::read_to_string(again.join("a")).unwrap(),
            "the original"
        );

        // A second tree whose copy and source both changed before storing.
        let src2 = root.join("src2");
        let files = tree(&src2, &[("c", "sea"), ("d", "dee")]);
        let copy2 = root.join("run2");
        let done = objects.ingest(&src2, &files, &copy2, None).unwrap();
        overwrite(&copy2.join("c"), "changed in the copy");
        std::fs::write(src2.join("c"), "changed in the source").unwrap();
        let err = objects
            .store_pending(&done.pending, &[&copy2, &src2])
            .unwrap_err();
        assert!(
            matches!(&err, KeptError::Lost { path, .. } if path == "c"),
            "{err}"
        );
        assert!(err.to_string().contains("c"), "{err}");
        // The other file was stored all the same.
        let d = done.manifest.entries.get(Utf8Path::new("d")).unwrap();
        let super::super::Entry::File { id, .. } = d else {
            panic!("a file")
        };
        assert!(objects.has(id));
        // Nothing half-written stays behind.
        let tmp: Vec<_> = std::fs::read_dir(objects.tmp_dir()).unwrap().collect();
        assert!(tmp.is_empty(), "{tmp:?}");
        for d in [&copy, &copy2, &again] {
            writable(d);
        }
    }

    #[test]
    fn a_rerun_after_a_kill_before_storing_takes_the_objects_from_the_runs_copy() {
        let (_tmp, root) = temp();
        let src = root.join("src");
        let files = tree(&src, &[("a", "alpha"), ("d/b", "beta")]);
        let objects = Objects::new(root.join("objects"));
        let copy = root.join("run/snapshot");
        let done = objects.ingest(&src, &files, &copy, None).unwrap();
        // Killed here: nothing stored; the source moves on.
        std::fs::write(src.join("a"), "moved on").unwrap();
        let again = root.join("again");
        objects
            .materialize(&done.manifest, &again, Some(&copy))
            .unwrap();
        assert_eq!(std::fs::read_to_string(again.join("a")).unwrap(), "alpha");
        // Now stored: the leftover copy is no longer needed.
        writable(&copy);
        std::fs::remove_dir_all(&copy).unwrap();
        let third = root.join("third");
        objects
            .materialize(&done.manifest, &third, Some(&copy))
            .unwrap();
        assert_eq!(std::fs::read_to_string(third.join("d/b")).unwrap(), "beta");
        for d in [&again, &third] {
            writable(d);
        }
    }

    #[test]
    fn a_leftover_copy_a_job_wrote_into_is_refused_as_missing() {
        let (_tmp, root) = temp();
        let src = root.join("src");
        let files = tree(&src, &[("a", "alpha")]);
        let objects = Objects::new(root.join("objects"));
        let copy = root.join("run/snapshot");
        let done = objects.ingest(&src, &files, &copy, None).unwrap();
        overwrite(&copy.join("a"), "written by a root job");
        let err = objects
            .materialize(&done.manifest, &root.join("again"), Some(&copy))
            .unwrap_err();
        assert!(matches!(err, KeptError::Missing { .. }), "{err}");
        assert!(!root.join("again/a").exists());
        for d in [&copy, &root.join("again")] {
            writable(d);
        }
    }
}
