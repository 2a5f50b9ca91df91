//! A run's `prepared-outputs.json`: read when present, `None` when absent,
//! refused when too large, damaged, or not a plain file.

use pikaci_store::{Fs, MAX_PREPARED_OUTPUTS_BYTES, Store, StoreError};

use crate::support::record;

const PREPARED: &str = r#"{"schema_version":1,"outputs":[{"node_id":"prepare","installable":".#deps",
"output_name":"workspace-deps","realized_path":"/nix/store/abc-deps","protocol":"nix_store_path_v1"}]}"#;

fn present_absent_and_damaged<F: Fs + Clone>(s: &Store<F>) {
    let r = record(1);
    s.persist_run_record(&r).unwrap();
    let dir = s.run(&r.run_id).unwrap();
    assert_eq!(dir.prepared_outputs().unwrap(), None);

    let path = s.root().prepared_outputs(&r.run_id);
    s.fs().write_atomic(&path, PREPARED.as_bytes()).unwrap();
    let p = dir.prepared_outputs().unwrap().expect("present");
    assert_eq!(p.schema_version, 1);
    assert_eq!(p.outputs[0].output_name, "workspace-deps");
    assert_eq!(p.outputs[0].extra["protocol"], "nix_store_path_v1");

    s.fs().write_atomic(&path, b"{\"outputs\": 3}").unwrap();
    let err = dir.prepared_outputs().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("prepared-outputs.json"), "{err}");
}

fn oversized_is_refused_unread<F: Fs + Clone>(s: &Store<F>) {
    let r = record(2);
    s.persist_run_record(&r).unwrap();
    let path = s.root().prepared_outputs(&r.run_id);
    let big = vec![b' '; usize::try_from(MAX_PREPARED_OUTPUTS_BYTES).unwrap() + 1];
    s.fs().write_atomic(&path, &big).unwrap();
    let err = s.run(&r.run_id).unwrap().prepared_outputs().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!(
            "{} bytes is larger than the",
            MAX_PREPARED_OUTPUTS_BYTES + 1
        )),
        "{err}"
    );
}

on_both_fs!(present_absent_and_damaged, oversized_is_refused_unread);

/// A link or a FIFO in the file's place is refused at once: never followed,
/// never waited on, and the error names no server path.
#[test]
fn a_link_or_a_fifo_in_its_place_is_refused() {
    let (s, dir) = crate::support::disk_store();
    let r = record(3);
    s.persist_run_record(&r).unwrap();
    let path = s.root().prepared_outputs(&r.run_id);
    let secret = dir.path().join("secret.json");
    std::fs::write(&secret, PREPARED).unwrap();
    std::os::unix::fs::symlink(&secret, &path).unwrap();
    let err = s.run(&r.run_id).unwrap().prepared_outputs().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(
        !err.to_string().contains(dir.path().to_str().unwrap()),
        "{err}"
    );

    std::fs::remove_file(&path).unwrap();
    nix::unistd::mkfifo(
        path.as_std_path(),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let err = s.run(&r.run_id).unwrap().prepared_outputs().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("FIFO"), "{err}");
}
