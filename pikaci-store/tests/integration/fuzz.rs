//! Property tests over hostile input: ids, `run.json` bytes, the pipeline
//! parser and log range arithmetic never panic and never let a path escape.

use camino::Utf8Path;
use pikaci_core::{JobId, LogFile, Pipeline, RunId};
use pikaci_store::{Fs, LogRange, MemFs, StateRoot, Store};
use proptest::prelude::*;

fn tricky_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._/\\\\%-]{0,140}",
        Just("..".to_owned()),
        Just("%2e%2e%2f".to_owned()),
        Just("a\0b".to_owned()),
        Just("\u{2215}etc".to_owned()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn an_accepted_id_is_always_one_safe_path_component(s in tricky_id()) {
        if let Ok(id) = s.parse::<JobId>() {
            let p = Utf8Path::new("/root").join(id.as_str());
            prop_assert_eq!(p.parent(), Some(Utf8Path::new("/root")));
            prop_assert!(!id.as_str().contains(".."));
            prop_assert!(!id.as_str().contains('/') && !id.as_str().contains('\\'));
            prop_assert!(id.as_str().len() <= 128);
        }
        let _ = s.parse::<RunId>();
    }

    #[test]
    fn any_run_json_bytes_load_or_report_corrupt(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        store.fs().write_atomic(&store.root().run_json(&id), &bytes).unwrap();
        match store.load_run_record(&id) {
            Ok(r) => prop_assert_eq!(r.run_id, id),
            Err(e) => prop_assert!(e.is_corrupt(), "{}", e),
        }
    }

    #[test]
    fn mutated_valid_records_never_panic(cut in 0usize..600, byte in any::<u8>()) {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let rec = pikaci_core::RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        let mut bytes = serde_json::to_vec(&rec).unwrap();
        let at = cut % bytes.len();
        bytes[at] = byte;
        store.fs().write_atomic(&store.root().run_json(&rec.run_id), &bytes).unwrap();
        let _ = store.load_run_record(&rec.run_id);
        if let Ok(job) = store.run(&rec.run_id).and_then(|dir| dir.job(None)) {
            let _ = job.log(LogFile::Guest).read(LogRange::Tail(10));
        }
    }

    #[test]
    fn the_pipeline_parser_never_panics(text in "(\\[\\[job\\]\\]|\\[\\[target\\]\\]|\\[incus\\]|id = \"[a-z.]{0,4}\"|command = \"x\"|jobs = \\[\"[a-z]\"\\]|needs = \\[\"[a-z]\"\\]|timeout_secs = -?[0-9]{1,3}|\n|=|\"|[a-z ]{0,5}){0,30}") {
        let _ = Pipeline::parse(&text, Utf8Path::new("pikaci.toml"));
    }

}
