//! Every committed fuzz input (`fuzz/corpus/<target>/`, the seeds and all the
//! fuzzer kept) replayed through its target's properties, on stable, in CI.

use std::path::Path;

#[test]
fn every_corpus_input_keeps_its_properties() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut replayed = 0;
    for (target, check) in tower_claude_fuzz_properties::TARGETS {
        let dir = root.join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (each target has a committed corpus)",
                dir.display()
            )
        });
        let mut count = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} breaks a property",
                path.display()
            );
            count += 1;
        }
        assert!(count > 0, "{target}: empty corpus");
        replayed += count;
    }
    println!("replayed {replayed} inputs");
}
