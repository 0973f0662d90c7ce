//! The same catalogue scenarios on SQLite and on PostgreSQL: recordings and their objects, the
//! audit log's append, chains, proofs and checkpoints, atomicity with the business change, and
//! the guards on the log tables.

mod common;

use std::sync::Arc;

use bwv::audit::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use bwv::audit::record::{Actor, EventDraft, ObjectRef};
use bwv::catalogue::Register;
use bwv::catalogue::{Catalogue, NewClip, NewRecording, NewSighting};
use bwv::domain::{Sha256Digest, Source};
use common::{Backend, Env};
use uuid::Uuid;

const ORIGIN: &str = "bwv.test/audit/v1";

async fn open(env: &Env) -> Catalogue {
    std::fs::create_dir_all(env.data_dir()).unwrap();
    let c = Catalogue::open(&env.database_url())
        .await
        .expect("open catalogue");
    c.init_log(ORIGIN).await.expect("init log");
    c
}

fn event(kind: &str, item: Uuid, sha: Option<&Sha256Digest>) -> EventDraft {
    let mut e = EventDraft::new(kind, Actor::user("staff:1"), "recording", item);
    if let Some(sha) = sha {
        e.objects.push(ObjectRef {
            sha256: sha.to_hex(),
            size: 1,
            role: None,
        });
    }
    e
}

async fn add_recording(c: &Catalogue, sha: Sha256Digest) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = c.begin().await.unwrap();
    tx.ensure_registered(Register::Officers, "4471", None, None)
        .await
        .unwrap();
    tx.ensure_registered(Register::Cameras, "CAM-1", None, None)
        .await
        .unwrap();
    tx.insert_object(&sha, 1, None).await.unwrap();
    tx.insert_recording(&NewRecording {
        id,
        officer_id: "4471".into(),
        officer_label: None,
        device_serial: "CAM-1".into(),
        source: Source::Cli,
        dock_id: None,
        external_ref: None,
        recorded_at: bwv::domain::now(),
        recorded_at_source: "operator",
        category: Some("Arrest".into()),
        classification: bwv::domain::Classification::Unreviewed,
        status: bwv::domain::RecordingStatus::Stored,
        flags: vec!["zero-length".into()],
        metadata: serde_json::json!({"k": "v"}),
    })
    .await
    .unwrap();
    tx.insert_clip(&NewClip {
        id: Uuid::now_v7(),
        recording_id: id,
        seq: 1,
        sha256: sha,
        size: 1,
        original_name: Some("clip.mp4".into()),
    })
    .await
    .unwrap();
    tx.insert_sighting(&NewSighting {
        sha256: sha,
        recording_id: id,
        duplicate: false,
        source: Source::Cli,
        source_name: None,
        officer_id: "4471".into(),
        device_serial: "CAM-1".into(),
        dock_id: None,
    })
    .await
    .unwrap();
    tx.append_audit(ORIGIN, event("ingest", id, Some(&sha)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn recordings_round_trip(env: Env) {
    let c = open(&env).await;
    let sha = Sha256Digest([1; 32]);
    let id = add_recording(&c, sha).await;
    let r = c.recording(id).await.unwrap().expect("recording exists");
    assert_eq!(r.officer_id, "4471");
    assert_eq!(r.category.as_deref(), Some("Arrest"));
    assert_eq!(r.classification, bwv::domain::Classification::Unreviewed);
    assert_eq!(r.flags, vec!["zero-length".to_string()]);
    assert_eq!(r.clips.len(), 1);
    assert_eq!(r.clips[0].sha256, sha);
    let listed = c.recordings(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].clips.len(), 1);
    assert!(c.recording(Uuid::now_v7()).await.unwrap().is_none());

    let mut tx = c.begin().await.unwrap();
    assert_eq!(tx.recording_with_object(&sha).await.unwrap(), Some(id));
    assert_eq!(
        tx.recording_with_object(&Sha256Digest([2; 32]))
            .await
            .unwrap(),
        None
    );
    assert!(
        !tx.ensure_registered(Register::Officers, "4471", None, None)
            .await
            .unwrap(),
        "already registered"
    );
    // Bytes catalogued again: only a purge's tombstone counts as revived, and only once.
    assert!(!tx.insert_object(&sha, 1, None).await.unwrap());
    assert!(tx.start_purge(id, &[sha.to_hex()]).await.is_ok());
    assert!(tx.insert_object(&sha, 1, None).await.unwrap(), "revived");
    assert!(!tx.insert_object(&sha, 1, None).await.unwrap());
    tx.commit().await.unwrap();
}

async fn log_appends_chain_and_prove(env: Env) {
    let c = open(&env).await;
    let items = [Uuid::now_v7(), Uuid::now_v7()];
    let mut leaves = Vec::new();
    for i in 0..20u64 {
        let item = items[(i % 2) as usize];
        let mut tx = c.begin().await.unwrap();
        let leaf = tx
            .append_audit(ORIGIN, event("view", item, None))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(leaf.index, i);
        assert_eq!(leaf.record.item.seq, i / 2 + 1);
        if i >= 2 {
            let prev: &bwv::catalogue::AppendedLeaf = &leaves[(i - 2) as usize];
            assert_eq!(leaf.record.item.prev_index, Some(prev.index));
        } else {
            assert!(leaf.record.item.prev.is_none());
        }
        leaves.push(leaf);
    }
    let state = c.log_state().await.unwrap();
    assert_eq!(state.size, 20);
    let root = c.tree_root(20).await.unwrap();
    assert_eq!(state.root, root.to_vec());

    // Every leaf proves into the tree; the tree at 7 is consistent with the tree at 20.
    for (i, leaf) in leaves.iter().enumerate() {
        let proof = c.inclusion_proof(20, i as u64).await.unwrap();
        assert!(verify_inclusion(
            i as u64,
            20,
            &leaf.leaf_hash,
            &proof,
            &root
        ));
    }
    let root7 = c.tree_root(7).await.unwrap();
    let proof = c.consistency_proof(20, 7).await.unwrap();
    assert!(verify_consistency(7, 20, &proof, &root7, &root));

    // The stored rows hold exactly the canonical bytes the appender hashed.
    let history = c.item_leaves(items[0]).await.unwrap();
    assert_eq!(history.len(), 10);
    for (row, leaf) in history.iter().zip(leaves.iter().step_by(2)) {
        assert_eq!(leaf_hash(&row.leaf), leaf.leaf_hash);
    }
    let heads = c.item_heads().await.unwrap();
    assert_eq!(heads[&items[1]].event_count, 10);
    assert_eq!(heads[&items[1]].last_index, 19);

    // Checkpoints are stored once per size.
    c.save_checkpoint(20, root, b"note").await.unwrap();
    c.save_checkpoint(20, root, b"other").await.unwrap();
    let latest = c.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!((latest.size, latest.note.as_slice()), (20, &b"note"[..]));
}

async fn audit_is_atomic_with_the_change(env: Env) {
    let c = open(&env).await;
    let id = Uuid::now_v7();
    let mut tx = c.begin().await.unwrap();
    tx.ensure_registered(Register::Officers, "9", None, None)
        .await
        .unwrap();
    tx.append_audit(ORIGIN, event("ingest", id, None))
        .await
        .unwrap();
    drop(tx); // rolled back
    assert_eq!(c.log_state().await.unwrap().size, 0);
    assert!(c.item_leaves(id).await.unwrap().is_empty());
    let mut tx = c.begin().await.unwrap();
    assert!(
        tx.ensure_registered(Register::Officers, "9", None, None)
            .await
            .unwrap(),
        "the officer row rolled back with its record"
    );
    tx.commit().await.unwrap();
}

async fn concurrent_writers_serialise(env: Env) {
    let c = Arc::new(open(&env).await);
    let mut tasks = Vec::new();
    for w in 0..4 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let mut tx = c.begin().await.unwrap();
                let sha = Sha256Digest(*Uuid::now_v7().as_bytes().repeat(2).first_chunk().unwrap());
                tx.insert_object(&sha, w, None).await.unwrap();
                tx.append_audit(ORIGIN, event("ingest", Uuid::now_v7(), Some(&sha)))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let state = c.log_state().await.unwrap();
    assert_eq!(state.size, 40);
    assert_eq!(state.root, c.tree_root(40).await.unwrap().to_vec());
    let mut seen = 0;
    c.scan_log(40, |leaf, _| {
        assert_eq!(leaf.idx, seen);
        seen += 1;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(seen, 40);
}

async fn log_tables_refuse_edits(env: Env) {
    let c = open(&env).await;
    let mut tx = c.begin().await.unwrap();
    tx.append_audit(ORIGIN, event("ingest", Uuid::now_v7(), None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let attempts = [
        "UPDATE tlog_leaf SET event = 'forged'",
        "DELETE FROM tlog_leaf",
        "DELETE FROM tlog_hash",
        "UPDATE tlog_hash SET sidx = sidx + 100",
    ];
    for sql in attempts {
        let result = match &c {
            Catalogue::Sqlite(p, _) => sqlx::query(sql).execute(p).await.map(|_| ()),
            Catalogue::Postgres(p, _) => sqlx::query(sql).execute(p).await.map(|_| ()),
        };
        let err = result.expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    // A catalogue made for one log refuses another origin.
    assert!(c.init_log("someone.else/v1").await.is_err());
}

/// A catalogue from before docks' registry objects became labels: what a dock wrote into the
/// register (names, models, deactivations) is cleared by the upgrade; the force's own is kept.
async fn upgrade_turns_dock_writes_into_labels(env: Env) {
    std::fs::create_dir_all(env.data_dir()).unwrap();
    let url = env.database_url();
    let dir = match env.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let mut before = sqlx::migrate::Migrator::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir),
    )
    .await
    .unwrap();
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 7)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let c = Catalogue::connect(&url).await.unwrap();
    let (dock, registry) = (
        Uuid::now_v7(),
        "INSERT INTO axis_registry (dock_id, container, name, metadata, updated_at) VALUES",
    );
    let statements = [
        format!(
            "INSERT INTO docks (id, name, secret_hash, created_at) VALUES ({}, 'dock-b', 'x', '2026-01-01T00:00:00Z')",
            literal(&env, dock)
        ),
        // The force's officer, renamed and deactivated by a dock; a camera likewise; and an
        // officer only the force named.
        "INSERT INTO officers (id, display_name, active, created_at) VALUES \
         ('4471', '<script>alert(1)</script>', FALSE, '2026-01-01T00:00:00Z'), \
         ('5512', 'PC Kept', TRUE, '2026-01-01T00:00:00Z'), \
         ('unknown', 'unknown (rejected content)', FALSE, '2026-01-01T00:00:00Z')"
            .into(),
        "INSERT INTO devices (serial, model, active, created_at) VALUES \
         ('CAM-1', 'Hacked', FALSE, '2026-01-01T00:00:00Z'), ('CAM-2', 'W110', TRUE, '2026-01-01T00:00:00Z')"
            .into(),
        format!(
            "{registry} ({d}, 'Users', 'u-1', '{{\"UserID\":\"4471\",\"Name\":\"<script>alert(1)</script>\",\"Active\":\"False\"}}', '2026-01-01T00:00:00Z'), \
             ({d}, 'Devices', 'CAM-1', '{{\"Name\":\"Hacked\",\"Active\":\"False\"}}', '2026-01-01T00:00:00Z')",
            d = literal(&env, dock)
        ),
    ];
    match &c {
        Catalogue::Sqlite(p, _) => {
            before.run(p).await.unwrap();
            for sql in &statements {
                sqlx::query(sql).execute(p).await.unwrap();
            }
        }
        Catalogue::Postgres(p, _) => {
            before.run(p).await.unwrap();
            for sql in &statements {
                sqlx::query(sql).execute(p).await.unwrap();
            }
        }
    }
    c.migrate().await.unwrap();
    let mut tx = c.begin().await.unwrap();
    let renamed = tx.officer("4471").await.unwrap().unwrap();
    assert_eq!(renamed.display_name, None);
    assert!(renamed.active);
    assert_eq!(
        tx.officer("5512")
            .await
            .unwrap()
            .unwrap()
            .display_name
            .as_deref(),
        Some("PC Kept")
    );
    assert!(!tx.officer("unknown").await.unwrap().unwrap().active);
    let camera = tx.device("CAM-1").await.unwrap().unwrap();
    assert_eq!((camera.model, camera.active), (None, true));
    assert_eq!(
        tx.device("CAM-2").await.unwrap().unwrap().model.as_deref(),
        Some("W110")
    );
}

/// A UUID as a SQL literal for the backend (SQLite keeps UUIDs as 16-byte blobs).
fn literal(env: &Env, id: Uuid) -> String {
    match env.backend {
        Backend::Sqlite => format!("X'{}'", id.simple()),
        Backend::Postgres => format!("'{id}'"),
    }
}

macro_rules! both {
    ($($name:ident),*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Env::new(super::Backend::Sqlite)).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Env::new(super::Backend::Postgres)).await;
            }
        }
    )*};
}

both!(
    recordings_round_trip,
    log_appends_chain_and_prove,
    audit_is_atomic_with_the_change,
    concurrent_writers_serialise,
    log_tables_refuse_edits,
    upgrade_turns_dock_writes_into_labels
);
