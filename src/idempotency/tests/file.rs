//! What only the file backend does: restarts, invalid and damaged files,
//! permissions, records of the previous format, a clean close, and I/O
//! errors (a full disk) with the reopening that follows.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::*;

#[test]
fn records_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let f = fp("SEL-A", 2);
    let g = fp("SEL-B", 1);
    {
        let store = open_file(&path);
        assert_eq!(store.location(), path.display().to_string());
        assert_eq!(store.begin("done", &f, t0()).unwrap(), Begin::Started);
        store
            .complete("done", &f, &[0, 1, 2, 254, 255], t0())
            .unwrap();
        assert_eq!(store.begin("maybe", &g, t0()).unwrap(), Begin::Started);
        store.mark_unknown("maybe", &g, t0()).unwrap();
        assert_eq!(store.begin("running", &g, t0()).unwrap(), Begin::Started);
        let clone = store.clone();
        drop(store);
        drop(clone);
    }
    let store = open_file(&path);
    assert_eq!(store.len().unwrap(), 3);
    assert_eq!(
        store.begin("done", &f, t0()).unwrap(),
        Begin::Completed(vec![0, 1, 2, 254, 255])
    );
    assert_eq!(
        store.begin("maybe", &g, t0()).unwrap(),
        Begin::Unknown {
            last_attempt: t0(),
            created: t0(),
        }
    );
    // Left InFlight by the previous process: an owner treats it as abandoned.
    assert!(matches!(
        store.begin("running", &g, t0()).unwrap(),
        Begin::InFlight { .. }
    ));
    let Begin::Mismatch { stored } = store.begin("done", &g, t0()).unwrap() else {
        panic!("expected a mismatch");
    };
    assert_eq!(stored.summary(), f.summary());
    assert_eq!(stored.differences(&g), vec!["amount", "zone"]);
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not a database, just some text\n".repeat(200),
    )
    .unwrap();
    let err = IdempotencyStore::open(Some(&path), DAY).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Invalid { .. }), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains("not a valid idempotency store"),
        "{message}"
    );
    assert!(message.contains("--start-fresh-if-invalid"), "{message}");
    // The file was not touched.
    let content = std::fs::read_to_string(&path).unwrap();
    assert!(content.starts_with("this is not a database"));

    // A short file, a directory, a missing parent directory.
    let short = dir.path().join("short");
    std::fs::write(&short, b"x").unwrap();
    let err = IdempotencyStore::open(Some(&short), DAY).unwrap_err();
    assert!(err.to_string().contains("short"), "{err}");
    let err = IdempotencyStore::open(Some(dir.path()), DAY).unwrap_err();
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    let missing = dir.path().join("no-such-dir").join("db.redb");
    let err = IdempotencyStore::open(Some(&missing), DAY).unwrap_err();
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn a_damaged_database_file_gives_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let f = fp("SEL-A", 1);
    let response = [7u8; 300];
    {
        let store = open_file(&path);
        for i in 0..50 {
            let key = format!("key-{i}");
            store.begin(&key, &f, t0()).unwrap();
            store.complete(&key, &f, &response, t0()).unwrap();
        }
    }
    let original = std::fs::read(&path).unwrap();
    let expected = Record::Completed {
        fingerprint: f.clone(),
        response: response.to_vec(),
        created: t0(),
        completed: t0(),
    };
    let (mut refused, mut damaged_later, mut intact) = (0, 0, 0);
    // 16 flipped bytes at 48 places spread over the file, header included.
    let step = original.len() / 48;
    for place in 0..48 {
        let offset = place * step;
        let mut bytes = original.clone();
        for b in bytes.iter_mut().skip(offset).take(16) {
            *b ^= 0x5a;
        }
        let copy = dir.path().join(format!("damaged-{offset}.redb"));
        std::fs::write(&copy, &bytes).unwrap();
        let outcome = std::panic::catch_unwind(|| match IdempotencyStore::open(Some(&copy), DAY) {
            Err(err) => {
                assert!(
                    matches!(
                        err,
                        StoreError::Open { .. }
                            | StoreError::Invalid { .. }
                            | StoreError::Damaged { .. }
                    ),
                    "{err}"
                );
                assert!(
                    err.to_string().contains(&copy.display().to_string()),
                    "{err}"
                );
                0
            }
            Ok(store) => {
                let mut failed = false;
                for i in 0..50 {
                    match store.get(&format!("key-{i}"), t0()) {
                        Ok(Some(record)) => assert_eq!(record, expected, "offset {offset}"),
                        Ok(None) => panic!("key-{i} vanished at offset {offset}"),
                        Err(_) => failed = true,
                    }
                }
                if store.begin("new", &f, t0()).is_err() {
                    failed = true;
                }
                if failed { 1 } else { 2 }
            }
        });
        match outcome {
            Ok(0) => refused += 1,
            Ok(1) => damaged_later += 1,
            Ok(_) => intact += 1,
            Err(_) => {
                panic!("damage at offset {offset}: a panic escaped or a wrong record was read")
            }
        }
        std::fs::remove_file(&copy).unwrap();
    }
    // Damage to the header and the tree is found; damage to free space is
    // harmless.
    assert!(
        refused > 0,
        "refused {refused}, later {damaged_later}, intact {intact}"
    );
    assert!(
        intact > 0,
        "refused {refused}, later {damaged_later}, intact {intact}"
    );
}

#[test]
fn a_second_open_of_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let first = open_file(&path);
    let err = IdempotencyStore::open(Some(&path), DAY).unwrap_err();
    assert!(err.to_string().contains("has it open"), "{err}");
    drop(first);
    open_file(&path);
}

/// Runs `f` with the log lines it emits (on this thread) captured.
fn captured_logs(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_clean_close_after_a_removal_is_not_reported_as_repaired() {
    // redb's check reports "repaired" for a file closed cleanly after a
    // commit that removed a record (it rebuilds its allocator state): that
    // must not be logged as a repair.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let f = fp("SEL-A", 1);
    for round in 0..3 {
        let logs = captured_logs(|| {
            let store = open_file(&path);
            let key = format!("failed-{round}");
            store.begin(&key, &f, t0()).unwrap();
            store.release(&key).unwrap();
            store.begin("kept", &f, t0()).ok();
            store.close();
        });
        assert!(!logs.contains("repaired"), "round {round}: {logs}");
        assert!(
            !logs.contains("not closed cleanly"),
            "round {round}: {logs}"
        );
        assert!(logs.contains("idempotency store closed"), "{logs}");
    }
    let logs = captured_logs(|| drop(open_file(&path)));
    assert!(
        !logs.contains("repaired") && logs.contains("records=1"),
        "{logs}"
    );
}

#[test]
fn an_empty_file_is_refused_unless_starting_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    std::fs::write(&path, b"").unwrap();
    let err = IdempotencyStore::open(Some(&path), DAY).unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("empty (0 bytes)"), "{message}");
    assert!(
        message.contains("start_fresh_if_invalid = true"),
        "{message}"
    );
    // Left as it was.
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);

    let mut options = StoreOptions::new(Some(&path), DAY);
    options.start_fresh_if_invalid = true;
    let logs = captured_logs(|| {
        let store = IdempotencyStore::open_with(&options).unwrap();
        assert_eq!(
            store.begin("k", &fp("SEL-A", 1), t0()).unwrap(),
            Begin::Started
        );
    });
    assert!(logs.contains("moved it aside"), "{logs}");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("idempotency.redb.invalid-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    // A valid store is used as it is, even with the flag.
    let store = IdempotencyStore::open_with(&options).unwrap();
    assert!(matches!(
        store.begin("k", &fp("SEL-A", 1), t0()).unwrap(),
        Begin::InFlight { .. }
    ));
}

#[test]
fn another_programs_redb_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let table: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("users");
            txn.open_table(table).unwrap().insert("alice", 1).unwrap();
        }
        txn.commit().unwrap();
    }
    let err = IdempotencyStore::open(Some(&path), DAY).unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains("another program (tables: users)"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn the_file_is_created_0600_and_an_open_one_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    drop(open_file(&path));
    assert_eq!(mode(&path), 0o600);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let logs = captured_logs(|| drop(open_file(&path)));
    assert_eq!(mode(&path), 0o600);
    assert!(
        logs.contains("mode 0644") && logs.contains("tightened it to 0600"),
        "{logs}"
    );
}

#[test]
fn a_store_file_of_the_previous_gateway_is_read_and_upgraded() {
    // Written by the gateway before the compact format (JSON records, no
    // eviction index): see tests/fixtures/.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/idempotency-v1.redb");
    std::fs::copy(&fixture, &path).unwrap();
    let century = Duration::from_secs(100 * 365 * 24 * 3600);
    let at = UNIX_EPOCH + Duration::from_secs(1_764_590_500);
    let zenlayer_key = "3f2b8a1e-9c4d-4e7b-8a2f-1d6c5e9b0a47";
    let replay = {
        let store = IdempotencyStore::open(Some(&path), century).unwrap();
        assert_eq!(store.len().unwrap(), 4);
        let Some(Record::Completed {
            fingerprint,
            response,
            ..
        }) = store.get(zenlayer_key, at).unwrap()
        else {
            panic!("expected the completed record");
        };
        assert!(fingerprint.summary().contains("zenlayer.zone_id=SEL-A"));
        assert_eq!(
            store.begin(zenlayer_key, &fingerprint, at).unwrap(),
            Begin::Completed(response.clone())
        );
        assert_eq!(state_name(&store, "v1-unknown", at), Some("unknown"));
        assert_eq!(state_name(&store, "v1-in-flight", at), Some("in_flight"));
        // A v1 record changes like any other (and is rewritten compactly).
        let Some(unknown) = store.get("v1-unknown", at).unwrap() else {
            panic!()
        };
        store
            .complete("v1-unknown", unknown.fingerprint(), b"found", at)
            .unwrap();
        (fingerprint, response)
    };
    // Reopened: the upgrade (eviction index) was kept; everything reads.
    let mut options = StoreOptions::new(Some(&path), century);
    options.evict_completed = true;
    options.max_bytes = 1;
    let store = IdempotencyStore::open_with(&options).unwrap();
    assert_eq!(
        store.begin(zenlayer_key, &replay.0, at).unwrap(),
        Begin::Completed(replay.1)
    );
    // At a bound of 1 byte, a new key evicts every completed record (the
    // old ones are in the index too) and is still refused.
    let err = store.begin("new", &fp("SEL-A", 1), at).unwrap_err();
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
    assert!(store.stats().evicted == 0, "nothing evicted in vain");
}

#[test]
fn eviction_order_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let mut options = StoreOptions::new(Some(&path), DAY);
    options.max_bytes = 8 * 1024;
    options.evict_completed = true;
    let f = fp("SEL-A", 1);
    let key = |i: u64| format!("order-{i:04}");
    let mut i = 0u64;
    {
        let store = IdempotencyStore::open_with(&options).unwrap();
        while store.stats().evicted == 0 {
            let at = t0() + Duration::from_millis(i);
            store.begin(&key(i), &f, at).unwrap();
            store.complete(&key(i), &f, &[1; 100], at).unwrap();
            i += 1;
            assert!(i < 10_000);
        }
    }
    let store = IdempotencyStore::open_with(&options).unwrap();
    let before = store.stats();
    assert_eq!(before.records, i - 1);
    let at = t0() + Duration::from_millis(i);
    store.begin(&key(i), &f, at).unwrap();
    store.complete(&key(i), &f, &[1; 100], at).unwrap();
    let now = t0() + Duration::from_secs(60);
    // key(0) went before the restart, key(1) (the oldest left) now.
    assert!(store.get(&key(1), now).unwrap().is_none());
    assert!(store.get(&key(2), now).unwrap().is_some());
    assert!(store.get(&key(i), now).unwrap().is_some());
}

/// Waits until the store's health is `want` (bounded).
fn wait_health(store: &IdempotencyStore, want: bool) {
    let health = store.health();
    let deadline = Instant::now() + Duration::from_secs(20);
    while *health.borrow() != want {
        assert!(Instant::now() < deadline, "health never became {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_failed_write_makes_the_store_unavailable_until_it_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idempotency.redb");
    let faults = IoFaults::new();
    let mut options = StoreOptions::new(Some(&path), DAY);
    options.io_faults = Some(faults.clone());
    let store = IdempotencyStore::open_with(&options).unwrap();
    let f = fp("SEL-A", 1);
    store.begin("before", &f, t0()).unwrap();
    store.complete("before", &f, b"kept", t0()).unwrap();
    assert!(*store.health().borrow());

    faults.fail_writes(true);
    let err = store.begin("during", &f, t0()).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert!(faults.failed_writes() > 0);
    assert!(!*store.health().borrow());
    assert!(!store.stats().usable);
    // Every call now fails fast, reads included, while the disk is "full".
    for _ in 0..3 {
        let err = store.begin("during", &f, t0()).unwrap_err();
        assert!(err.to_string().contains("reopening it every 1 s"), "{err}");
        assert!(store.get("before", t0()).is_err());
    }
    // Reopening fails while writes fail...
    std::thread::sleep(REOPEN_EVERY * 2);
    assert!(!*store.health().borrow());

    // ...and succeeds once they work again.
    faults.fail_writes(false);
    wait_health(&store, true);
    assert!(store.stats().usable);
    assert_eq!(
        store.begin("before", &f, t0()).unwrap(),
        Begin::Completed(b"kept".to_vec())
    );
    assert_eq!(
        store.get("during", t0()).unwrap(),
        None,
        "the failed begin left nothing"
    );
    assert_eq!(store.begin("during", &f, t0()).unwrap(), Begin::Started);
    assert_eq!(store.stats().records, 2);
    drop(store);
    // Closed cleanly after the recovery.
    let logs = captured_logs(|| drop(open_file(&path)));
    assert!(
        !logs.contains("not closed cleanly") && !logs.contains("repaired"),
        "{logs}"
    );
}
