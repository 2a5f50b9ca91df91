//! The disk side of kept snapshots for [`DiskSnapshotter`](super::DiskSnapshotter):
//! a snapshot is made (from the source, or again from a manifest) in a
//! folder beside its final place and renamed there only when complete, so a
//! crash never leaves a partial `snapshot/` that a rerun could take for a
//! whole one. The manifest is written before that rename; the objects it
//! names that were new are stored afterwards ([`PendingObjects`]), while
//! the jobs run.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};

use super::kept::{KeptLayout, Objects, PendingObjects};
use super::source;

/// Distinguishes temporary file names within one process.
static TMP: AtomicU64 = AtomicU64::new(0);

/// Where a snapshot bound for `dest` is made: `.<name>-partial` beside it.
fn partial(dest: &Utf8Path) -> Utf8PathBuf {
    let name = dest.file_name().unwrap_or("snapshot");
    dest.with_file_name(format!(".{name}-partial"))
}

/// Copies `source` into `dest` and writes its manifest where `kept` says
/// (before `dest` appears). Returns the new contents, to store from `dest`
/// (or `source`) into the objects folder once the jobs have started.
pub(crate) fn snapshot_kept(
    source: &Utf8Path,
    dest: &Utf8Path,
    exclude: Option<&Utf8Path>,
    kept: &KeptLayout,
) -> io::Result<PendingObjects> {
    let objects = Objects::new(&kept.objects);
    // Held until every object this snapshot names is stored (gc waits).
    let hold = objects.hold()?;
    let files = source::snapshot_files(source)?;
    let building = partial(dest);
    source::remove_tree(&building)?;
    let made = objects
        .ingest(source, &files, &building, exclude)
        .and_then(|done| {
            write_atomic(&kept.manifest, &done.manifest.encode())?;
            std::fs::rename(&building, dest)?;
            Ok(done.pending)
        });
    let pending = cleaned_up_on_error(made, &building)?;
    let from = vec![dest.to_owned(), source.to_owned()];
    Ok(PendingObjects::new(objects, pending, from, hold))
}

/// `result`, after removing the partial folder when it is an error (a
/// full disk must not keep a half copy until gc).
fn cleaned_up_on_error<T>(result: io::Result<T>, building: &Utf8Path) -> io::Result<T> {
    if result.is_err() {
        let _ = source::remove_tree(building);
    }
    result
}

/// Makes the snapshot `kept`'s manifest describes in `dest`, every object
/// checked against its hash (an object not stored yet taken from the run's
/// leftover copy, checked the same way).
pub(crate) fn materialize(kept: &KeptLayout, dest: &Utf8Path) -> io::Result<()> {
    let manifest = kept.read_manifest()?;
    let objects = Objects::new(&kept.objects);
    // Objects may be stored from the leftover copy: gc waits meanwhile.
    let _hold = objects.hold()?;
    let building = partial(dest);
    source::remove_tree(&building)?;
    let made = objects
        .materialize(&manifest, &building, kept.leftover.as_deref())
        .map_err(io::Error::from)
        .and_then(|()| std::fs::rename(&building, dest));
    cleaned_up_on_error(made, &building)
}

/// Replaces `path` with `bytes`: a new temporary file beside it, fsynced,
/// renamed over it.
fn write_atomic(path: &Utf8Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().unwrap_or("manifest");
    let tmp = path.with_file_name(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        TMP.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}
