//! The `Fs` contract, checked against `DiskFs` and `MemFs` alike.

use std::io::{ErrorKind, Write};

use camino::Utf8Path;
use pikaci_core::{LogFile, RunRecord};
use pikaci_store::{DiskFs, EntryKind, Fs, LogRange, MemFs, StateRoot, Store};

fn atomic_write_creates_parents_and_replaces<F: Fs>(s: &Store<F>) {
    let fs = s.fs();
    let p = s.root().path().join("a/b/c.json");
    fs.write_atomic(&p, b"one").unwrap();
    assert_eq!(fs.read(&p, u64::MAX).unwrap(), b"one");
    fs.write_atomic(&p, b"second version").unwrap();
    assert_eq!(fs.read(&p, u64::MAX).unwrap(), b"second version");
    // No temporary files are left next to it.
    assert_eq!(
        fs.list_dir(p.parent().unwrap()).unwrap(),
        vec!["c.json".to_owned()]
    );
}

fn append_is_visible_at_once<F: Fs>(s: &Store<F>) {
    let fs = s.fs();
    let p = s.root().path().join("logs/x.log");
    let mut w = fs.open_append(&p).unwrap();
    w.write_all(b"hello ").unwrap();
    assert_eq!(fs.size(&p).unwrap(), Some(6));
    w.write_all(b"world").unwrap();
    let r = fs.open_read(&p).unwrap();
    let mut buf = [0u8; 100];
    let n = r.read_at(&mut buf, 6).unwrap();
    assert_eq!(&buf[..n], b"world");
    drop(w);
    // Reopening appends rather than truncating.
    fs.open_append(&p).unwrap().write_all(b"!").unwrap();
    assert_eq!(fs.read(&p, u64::MAX).unwrap(), b"hello world!");
}

fn an_open_file_is_read_by_position_and_sees_appends<F: Fs>(s: &Store<F>) {
    let fs = s.fs();
    let p = s.root().path().join("logs/y.log");
    let mut w = fs.open_append(&p).unwrap();
    w.write_all(b"0123456789").unwrap();
    let r = fs.open_read(&p).unwrap();
    assert_eq!(r.size().unwrap(), 10);
    let mut buf = [0u8; 4];
    assert_eq!(r.read_at(&mut buf, 3).unwrap(), 4);
    assert_eq!(&buf, b"3456");
    assert_eq!(r.read_at(&mut buf, 8).unwrap(), 2);
    assert_eq!(&buf[..2], b"89");
    assert_eq!(r.read_at(&mut buf, 10).unwrap(), 0);
    assert_eq!(r.read_at(&mut buf, 1000).unwrap(), 0);
    w.write_all(b"ab").unwrap();
    assert_eq!(r.size().unwrap(), 12);
    assert_eq!(r.read_at(&mut buf, 10).unwrap(), 2);
    assert_eq!(&buf[..2], b"ab");
    // Replacing the path does not change what an open handle reads.
    fs.write_atomic(&p, b"new").unwrap();
    assert_eq!(r.size().unwrap(), 12);
    assert_eq!(fs.open_read(&p).unwrap().size().unwrap(), 3);
    // Only regular files open.
    assert_eq!(
        fs.open_read(&s.root().path().join("logs"))
            .err()
            .unwrap()
            .kind(),
        ErrorKind::InvalidInput
    );
}

fn missing_things_are_not_found<F: Fs>(s: &Store<F>) {
    let fs = s.fs();
    let p = s.root().path().join("nope");
    assert_eq!(fs.size(&p).unwrap(), None);
    assert_eq!(fs.kind(&p).unwrap(), None);
    assert_eq!(
        fs.read(&p, u64::MAX).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(fs.list_dir(&p).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs.open_read(&p).err().unwrap().kind(), ErrorKind::NotFound);
}

fn listing_renaming_removing<F: Fs>(s: &Store<F>) {
    let fs = s.fs();
    let root = s.root().path();
    fs.write_atomic(&root.join("d/one"), b"1").unwrap();
    fs.write_atomic(&root.join("d/sub/two"), b"2").unwrap();
    let mut names = fs.list_dir(&root.join("d")).unwrap();
    names.sort();
    assert_eq!(names, ["one", "sub"]);
    assert_eq!(fs.kind(&root.join("d")).unwrap(), Some(EntryKind::Dir));
    assert_eq!(fs.kind(&root.join("d/one")).unwrap(), Some(EntryKind::File));

    fs.rename(&root.join("d"), &root.join("e")).unwrap();
    assert_eq!(fs.kind(&root.join("d")).unwrap(), None);
    assert_eq!(fs.read(&root.join("e/sub/two"), u64::MAX).unwrap(), b"2");

    fs.remove_dir_all(&root.join("e")).unwrap();
    assert_eq!(fs.kind(&root.join("e/sub/two")).unwrap(), None);
    assert_eq!(fs.kind(&root.join("e")).unwrap(), None);
}

/// Plants a symbolic link at `at` to `target` (on disk; a `MemFs` link
/// points nowhere: it must be refused either way).
trait PlantLink {
    fn plant_link(&self, at: &Utf8Path, target: &Utf8Path);
}

impl PlantLink for Store<DiskFs> {
    fn plant_link(&self, at: &Utf8Path, target: &Utf8Path) {
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, at).unwrap();
    }
}

impl PlantLink for Store<MemFs> {
    fn plant_link(&self, at: &Utf8Path, _target: &Utf8Path) {
        self.fs().symlink(at).unwrap();
    }
}

/// A link a job plants as `runs`, a run folder, `jobs` or a log, pointing
/// at a real run outside the state root, is refused with an error that
/// says so (corrupt, no absolute path), wherever it is in the path, and the
/// run it points at is never read.
fn links_anywhere_on_the_way_are_refused_never_followed<F: Fs + Clone>(s: &Store<F>)
where
    Store<F>: PlantLink,
{
    let root = s.root().path();
    let record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
    let (run, job) = (&record.run_id, &record.jobs[0].id);
    // A real run outside the state root: what a link would lead to.
    let victim = Store::with_fs(
        s.fs().clone(),
        StateRoot::new(root.parent().unwrap().join("elsewhere")),
    );
    victim.persist_run_record(&record).unwrap();
    victim
        .open_job_log(run, job, LogFile::Guest)
        .unwrap()
        .write_all(b"another instance's secret")
        .unwrap();
    let v = victim.root();
    for case in ["runs", "run", "jobs", "log"] {
        let store = Store::with_fs(s.fs().clone(), StateRoot::new(root.join(case)));
        let r = store.root();
        if matches!(case, "jobs" | "log") {
            store.persist_run_record(&record).unwrap();
        }
        match case {
            "runs" => store.plant_link(&r.runs_dir(), &v.runs_dir()),
            "run" => store.plant_link(&r.run_dir(run), &v.run_dir(run)),
            "jobs" => store.plant_link(&r.jobs_dir(run), &v.jobs_dir(run)),
            _ => {
                store.open_job_log(run, job, LogFile::Host).unwrap();
                store.plant_link(
                    &r.job_log(run, job, LogFile::Guest),
                    &v.job_log(run, job, LogFile::Guest),
                );
            }
        }
        let read = store
            .run(run)
            .and_then(|d| d.job(Some(job)))
            .and_then(|j| j.log(LogFile::Guest).read(LogRange::Whole));
        let err = read.expect_err(case);
        assert!(err.is_corrupt(), "{case}: {err}");
        assert!(err.to_string().contains("symbolic link"), "{case}: {err}");
        assert!(!err.to_string().contains(root.as_str()), "{case}: {err}");
        let direct = store
            .fs()
            .read(&r.job_log(run, job, LogFile::Guest), u64::MAX)
            .expect_err(case);
        assert_eq!(direct.kind(), ErrorKind::InvalidInput, "{case}: {direct}");
        if matches!(case, "runs" | "run") {
            let err = store.load_run_record(run).expect_err(case);
            assert!(err.is_corrupt(), "{case}: {err}");
        }
    }
}

on_both_fs!(
    links_anywhere_on_the_way_are_refused_never_followed,
    atomic_write_creates_parents_and_replaces,
    append_is_visible_at_once,
    an_open_file_is_read_by_position_and_sees_appends,
    missing_things_are_not_found,
    listing_renaming_removing,
);

#[test]
fn links_are_never_followed_on_disk() {
    let (s, dir) = crate::support::disk_store();
    let secret = Utf8Path::from_path(dir.path()).unwrap().join("secret.txt");
    std::fs::write(&secret, "top secret").unwrap();
    let link = s.root().path().join("link");
    std::fs::create_dir_all(s.root().path()).unwrap();
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let fs = s.fs();
    assert_eq!(fs.kind(&link).unwrap(), Some(EntryKind::Symlink));
    assert!(fs.read(&link, u64::MAX).is_err());
    assert_eq!(
        fs.open_read(&link).err().unwrap().kind(),
        ErrorKind::InvalidInput
    );
    assert!(fs.size(&link).is_err());
    assert!(fs.identity(&link).is_err());
    assert!(fs.open_append(&link).is_err());
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "top secret");
}

#[test]
fn on_disk_a_file_has_a_new_identity_when_it_grows_or_is_replaced() {
    let (s, _dir) = crate::support::disk_store();
    let fs = s.fs();
    let p = s.root().path().join("r/run.json");
    assert_eq!(fs.identity(&p).unwrap(), None);
    fs.write_atomic(&p, b"{}").unwrap();
    let first = fs.identity(&p).unwrap().unwrap();
    assert_eq!(first.size, 2);
    assert_eq!(fs.identity(&p).unwrap(), Some(first), "unchanged: the same");
    fs.write_atomic(&p, b"[]").unwrap();
    let replaced = fs.identity(&p).unwrap().unwrap();
    assert_ne!(replaced, first, "same size, replaced: another identity");
    fs.open_append(&p).unwrap().write_all(b" ").unwrap();
    assert_ne!(fs.identity(&p).unwrap().unwrap(), replaced);
    // The same, read through an open file.
    let open = fs.open_read(&p).unwrap();
    assert_eq!(open.identity().unwrap(), fs.identity(&p).unwrap().unwrap());
    // MemFs cannot tell versions apart by metadata, and says so.
    let mem = pikaci_store::MemFs::new();
    assert_eq!(mem.identity(&p).unwrap_err().kind(), ErrorKind::Unsupported);
}

#[test]
fn memfs_faults_act_like_a_full_or_read_only_disk() {
    let (s, ()) = crate::support::mem_store();
    let fs = s.fs();
    let p = s.root().path().join("f");
    fs.write_atomic(&p, b"old").unwrap();
    fs.set_capacity(Some(10));
    let err = fs.write_atomic(&p, b"a much longer content").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StorageFull);
    assert_eq!(fs.read(&p, u64::MAX).unwrap(), b"old");
    let mut w = fs.open_append(&s.root().path().join("log")).unwrap();
    assert_eq!(
        w.write(b"0123456789").unwrap_err().kind(),
        ErrorKind::StorageFull
    );
    fs.set_capacity(None);
    fs.set_read_only(true);
    assert_eq!(
        fs.write_atomic(&p, b"x").unwrap_err().kind(),
        ErrorKind::ReadOnlyFilesystem
    );
    assert_eq!(fs.read(&p, u64::MAX).unwrap(), b"old");
}

fn create_dir_is_exclusive<F: Fs>(s: &Store<F>) {
    let fs = s.fs();
    let root = s.root().path();
    fs.create_dir_all(root).unwrap();
    fs.create_dir(&root.join("one")).unwrap();
    assert_eq!(
        fs.create_dir(&root.join("one")).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        fs.create_dir(&root.join("no/parent")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

fn claim_run_gives_each_id_once<F: Fs>(s: &Store<F>) {
    let id = crate::support::run_id(1);
    assert!(s.claim_run(&id).unwrap());
    assert!(!s.claim_run(&id).unwrap());
    assert!(s.claim_run(&crate::support::run_id(2)).unwrap());
}

mod exclusive {
    use super::*;
    on_both_fs!(create_dir_is_exclusive, claim_run_gives_each_id_once);
}

/// A FIFO where a file should be: every open refuses it at once, naming it,
/// whether or not someone holds the FIFO open (then the open itself succeeds
/// and the check is on the opened descriptor).
#[test]
fn fifos_are_refused_on_disk_without_waiting() {
    let (s, _dir) = crate::support::disk_store();
    let fs = s.fs();
    std::fs::create_dir_all(s.root().path()).unwrap();
    let fifo = s.root().path().join("guest.log");
    nix::unistd::mkfifo(
        fifo.as_std_path(),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let check = |held: bool| {
        let expect = |e: std::io::Error| {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            assert!(
                e.to_string().ends_with("guest.log is a FIFO, not a file"),
                "{e}"
            );
        };
        expect(fs.read(&fifo, 1 << 20).unwrap_err());
        expect(fs.open_read(&fifo).err().unwrap());
        expect(fs.open_append(&fifo).err().unwrap());
        expect(fs.size(&fifo).unwrap_err());
        assert_eq!(
            fs.kind(&fifo).unwrap(),
            Some(EntryKind::Other),
            "held: {held}"
        );
    };
    check(false);
    // Reader and writer both present: opens do not fail by themselves.
    let _held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    check(true);
}

/// A file that grows past the bound between a look and the read is cut off:
/// `read` never returns more than `max` bytes.
#[test]
fn a_whole_read_is_bounded() {
    let (s, _dir) = crate::support::disk_store();
    let fs = s.fs();
    let p = s.root().path().join("run.json");
    fs.write_atomic(&p, &[b'x'; 100]).unwrap();
    assert_eq!(fs.read(&p, 100).unwrap().len(), 100);
    let e = fs.read(&p, 99).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FileTooLarge);
    assert_eq!(
        e.to_string(),
        "100 bytes is larger than the 99 bytes accepted"
    );
}
