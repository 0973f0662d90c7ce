//! The same catalogue scenarios on SQLite and on PostgreSQL, one or more per module of
//! `bwv::catalogue`: recordings and their objects, the audit log's append, chains, proofs and
//! checkpoints, atomicity with the business change, the guards on the log tables, upgrades;
//! cases, classification, disclosure material, docks, holds, jobs, media, plans, retention facts,
//! sweeps, uploads, the Axis door's rows and the register; and unknown stored values refused.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use bwv::audit::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use bwv::audit::record::{Actor, EventDraft, ObjectRef};
use bwv::catalogue::{
    AxisContainer, AxisObject, AxisUser, Dock, Ending, GnssPoint, JobRow, Metadata, NewDerivative,
    NewExhibit, NewJob, OpenUploads, PurgeObject, Register, TokenState, UploadRow,
};
use bwv::catalogue::{
    Catalogue, ItemHead, LeafRow, NewClip, NewRecording, NewSighting, ScanRest, ScannedLeaf,
};
use bwv::domain::{
    CaseStatus, Classification, ContainerKind, DerivativeKind, JobStatus, MediaState, ObjectKind,
    RecordingStatus, RegisteredBy, RetentionState, Schedule, Sha256Digest, Source, SweepOutcome,
    TimeSource, UploadState, VersionOutcome,
};
use bwv::error::Code;
use bwv::retention::Action;
use chrono::{DateTime, Duration, Utc};
use common::{Backend, Env};
use sqlx::types::Json;
use uuid::Uuid;

const ORIGIN: &str = "bwv.test/audit/v1";

/// Every item's chain head row, as `scan_log` hands them out: each with the leaf at its
/// `last_index`, none left over.
async fn heads_by_scan(c: &Catalogue) -> std::collections::HashMap<Uuid, ItemHead> {
    let size = c.log_state().await.unwrap().size as u64;
    let (batches, mut arriving) = tokio::sync::mpsc::channel::<Vec<ScannedLeaf>>(1);
    let reader = tokio::spawn(async move {
        let mut heads = std::collections::HashMap::new();
        while let Some(batch) = arriving.recv().await {
            for leaf in batch {
                for head in leaf.closing {
                    assert_eq!(head.last_index, leaf.row.idx, "head of {}", head.item_id);
                    assert!(heads.insert(head.item_id, head).is_none());
                }
            }
        }
        heads
    });
    let rest = c
        .scan_log(size, 5, batches, std::sync::mpsc::channel().1)
        .await
        .unwrap();
    assert_eq!(rest, ScanRest::default());
    reader.await.unwrap()
}

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
    add_recording_with(c, sha, |_| {}).await
}

/// A recording by officer 4471 on CAM-1 (category Arrest, stored, flagged zero-length) with one
/// clip of `sha`, changed by `edit` before it is catalogued.
async fn add_recording_with(
    c: &Catalogue,
    sha: Sha256Digest,
    edit: impl FnOnce(&mut NewRecording),
) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = c.begin().await.unwrap();
    tx.ensure_registered(Register::Officers, "4471", None, None)
        .await
        .unwrap();
    tx.ensure_registered(Register::Cameras, "CAM-1", None, None)
        .await
        .unwrap();
    tx.insert_object(&sha, 1, None).await.unwrap();
    let mut recording = NewRecording {
        id,
        officer_id: "4471".into(),
        officer_label: None,
        device_serial: "CAM-1".into(),
        source: Source::Cli,
        dock_id: None,
        external_ref: None,
        recorded_at: bwv::domain::now(),
        recorded_at_source: bwv::domain::TimeSource::Operator,
        category: Some("Arrest".into()),
        classification: bwv::domain::Classification::Unreviewed,
        status: bwv::domain::RecordingStatus::Stored,
        flags: vec!["zero-length".into()],
        metadata: serde_json::json!({"k": "v"}),
        created_at: bwv::domain::now(),
        ended_at: None,
        next: None,
    };
    edit(&mut recording);
    tx.insert_recording(&recording).await.unwrap();
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
        officer_id: recording.officer_id.clone(),
        device_serial: recording.device_serial.clone(),
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
    let heads = heads_by_scan(&c).await;
    assert_eq!(heads.len(), 2);
    assert_eq!(heads[&items[1]].event_count, 10);
    assert_eq!(heads[&items[1]].last_index, 19);

    // Checkpoints are stored once per size.
    c.save_checkpoint(20, root, b"note").await.unwrap();
    c.save_checkpoint(20, root, b"other").await.unwrap();
    let latest = c.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!((latest.size, latest.note.as_slice()), (20, &b"note"[..]));
}

/// Many records in one transaction (written together when it commits, in more than one
/// multi-row statement): indexes follow on, chains link across the transaction and into what
/// was committed before, the root and every stored hash are those of appending one at a time,
/// and a transaction dropped after appending leaves the log as it was.
async fn log_appends_many_in_one_transaction(env: Env) {
    let c = open(&env).await;
    let items: Vec<Uuid> = (0..7).map(|_| Uuid::now_v7()).collect();
    let mut tx = c.begin().await.unwrap();
    let mut leaves = Vec::new();
    for item in &items[..3] {
        leaves.push(
            tx.append_audit(ORIGIN, event("view", *item, None))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();

    const MANY: u64 = 2_500;
    let mut tx = c.begin().await.unwrap();
    for i in 0..MANY {
        let item = items[((i * 3 + i / 11) % 7) as usize];
        let leaf = tx
            .append_audit(ORIGIN, event("view", item, None))
            .await
            .unwrap();
        assert_eq!(leaf.index, 3 + i);
        let before = leaves.iter().rev().find(|l| l.record.item.id == item);
        assert_eq!(leaf.record.item.prev_index, before.map(|l| l.index));
        assert_eq!(
            leaf.record.item.seq,
            before.map_or(1, |l| l.record.item.seq + 1)
        );
        leaves.push(leaf);
    }
    tx.commit().await.unwrap();

    let size = 3 + MANY;
    let state = c.log_state().await.unwrap();
    assert_eq!(state.size as u64, size);
    let root = c.tree_root(size).await.unwrap();
    assert_eq!(state.root, root.to_vec());
    for i in (0..size).step_by(97).chain([size - 1]) {
        let proof = c.inclusion_proof(size, i).await.unwrap();
        let leaf = &leaves[i as usize];
        assert!(
            verify_inclusion(i, size, &leaf.leaf_hash, &proof, &root),
            "leaf {i}"
        );
    }
    let root3 = c.tree_root(3).await.unwrap();
    let proof = c.consistency_proof(size, 3).await.unwrap();
    assert!(verify_consistency(3, size, &proof, &root3, &root));
    let heads = heads_by_scan(&c).await;
    for item in &items {
        let last = leaves
            .iter()
            .rev()
            .find(|l| l.record.item.id == *item)
            .unwrap();
        let head = &heads[item];
        assert_eq!(head.event_count as u64, last.record.item.seq);
        assert_eq!(head.last_index as u64, last.index);
        assert_eq!(head.last_hash, last.leaf_hash.to_vec());
    }
    let history = c.item_leaves(items[4]).await.unwrap();
    let mine: Vec<_> = leaves
        .iter()
        .filter(|l| l.record.item.id == items[4])
        .collect();
    assert_eq!(history.len(), mine.len());
    for (row, leaf) in history.iter().zip(mine) {
        assert_eq!(leaf_hash(&row.leaf), leaf.leaf_hash);
    }

    let mut tx = c.begin().await.unwrap();
    for item in &items {
        tx.append_audit(ORIGIN, event("view", *item, None))
            .await
            .unwrap();
    }
    drop(tx);
    let after = c.log_state().await.unwrap();
    assert_eq!((after.size, after.root), (state.size, state.root));
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

/// What a scan handed out for one leaf, copied out of its batch.
type Scanned = (LeafRow, Vec<(u64, Option<[u8; 32]>)>, Vec<Uuid>);

/// Scans the whole log in batches of 4. With `recycle`, each batch goes back to be filled again
/// once read, as the verifier hands them back.
async fn scan_all(c: &Catalogue, recycle: bool) -> Vec<Scanned> {
    let size = c.log_state().await.unwrap().size as u64;
    let (batches, mut arriving) = tokio::sync::mpsc::channel::<Vec<ScannedLeaf>>(1);
    let (spend, spent) = std::sync::mpsc::channel();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(batch) = arriving.recv().await {
            for leaf in &batch {
                let heads = leaf.closing.iter().map(|h| h.item_id).collect();
                seen.push((leaf.row.clone(), leaf.stored.clone(), heads));
            }
            if recycle {
                let _ = spend.send(batch); // none wanted once the scan is over
            }
        }
        seen
    });
    let rest = c.scan_log(size, 4, batches, spent).await.unwrap();
    assert_eq!(rest, ScanRest::default());
    reader.await.unwrap()
}

/// Batches handed back are written over: a long leaf's bytes, a slot's stored hashes or a
/// leaf's head rows must not linger into the shorter leaf that takes its place.
async fn scanned_batches_handed_back_are_filled_afresh(env: Env) {
    let c = open(&env).await;
    let items: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
    for i in 0..37usize {
        let mut draft = EventDraft::new(
            ["viewed", "media_processed"][i % 2],
            Actor::user("staff:".to_owned() + &"9".repeat(i % 7 + 1)),
            "recording",
            items[i % 5],
        );
        for n in 0..(i % 4) {
            draft.objects.push(ObjectRef {
                sha256: format!("{:064x}", i * 10 + n),
                size: n as u64,
                role: None,
            });
        }
        let mut tx = c.begin().await.unwrap();
        tx.append_audit(ORIGIN, draft).await.unwrap();
        tx.commit().await.unwrap();
    }
    let fresh = scan_all(&c, false).await;
    assert_eq!(fresh.len(), 37);
    for (row, _, _) in &fresh {
        assert_eq!(
            leaf_hash(&row.leaf).to_vec(),
            row.leaf_hash,
            "leaf {}",
            row.idx
        );
    }
    let refilled = scan_all(&c, true).await;
    assert_eq!(refilled.len(), fresh.len());
    for ((a, a_stored, a_heads), (b, b_stored, b_heads)) in fresh.iter().zip(&refilled) {
        let n = a.idx;
        assert_eq!(
            (
                a.idx,
                &a.leaf,
                &a.leaf_hash,
                a.item_id,
                a.item_seq,
                &a.event,
                a.ts
            ),
            (
                b.idx,
                &b.leaf,
                &b.leaf_hash,
                b.item_id,
                b.item_seq,
                &b.event,
                b.ts
            ),
            "leaf {n}"
        );
        assert_eq!(a_stored, b_stored, "stored hashes of leaf {n}");
        assert_eq!(a_heads, b_heads, "head rows closed at leaf {n}");
    }
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
    // Batches of 7: the last one is short, and each leaf comes once, in order, with its slot.
    let (batches, mut arriving) = tokio::sync::mpsc::channel(1);
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(batch) = arriving.recv().await {
            let batch: Vec<ScannedLeaf> = batch;
            assert!(batch.len() <= 7);
            for leaf in batch {
                let n = leaf.row.idx as u64;
                let first = tlog_tiles::stored_hash_index(0, n);
                let slot: Vec<u64> = (first..tlog_tiles::stored_hash_index(0, n + 1)).collect();
                let got: Vec<u64> = leaf.stored.iter().map(|(sidx, _)| *sidx).collect();
                assert_eq!(got, slot, "stored hashes of leaf {n}");
                seen.push(leaf.row.idx);
            }
        }
        seen
    });
    assert_eq!(
        c.scan_log(40, 7, batches, std::sync::mpsc::channel().1)
            .await
            .unwrap(),
        ScanRest::default()
    );
    assert_eq!(reader.await.unwrap(), (0..40).collect::<Vec<i64>>());

    // A scan of a shorter prefix (the log as it was when a verifier began) hands back the head
    // rows that later appends moved past it, and only those.
    let heads = heads_by_scan(&c).await;
    let (batches, mut arriving) = tokio::sync::mpsc::channel::<Vec<ScannedLeaf>>(1);
    let drain = tokio::spawn(async move { while arriving.recv().await.is_some() {} });
    let rest = c
        .scan_log(30, 7, batches, std::sync::mpsc::channel().1)
        .await
        .unwrap();
    drain.await.unwrap();
    assert_eq!(rest.stray_hash, None);
    let mut later: Vec<Uuid> = rest.later_heads.iter().map(|h| h.item_id).collect();
    let mut want: Vec<Uuid> = heads
        .values()
        .filter(|h| h.last_index >= 30)
        .map(|h| h.item_id)
        .collect();
    later.sort();
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(later, want);
}

/// Verifiers that read slowly (many at once, or one over a long log) leave the catalogue's
/// connections to everyone else. Twelve scans are asked for and those let in stall mid-log,
/// each holding its streams: scans begin, the catalogue still answers at once, and once the
/// readers go every scan ends, those that waited their turn too. (Scans that took their streams
/// from PostgreSQL's pool of 16 held it all, and the catalogue waited out the pool's 30 s.)
async fn stalled_scans_leave_the_pool_to_others(env: Env) {
    const SCANS: usize = 12;
    let c = Arc::new(open(&env).await);
    let mut tx = c.begin().await.unwrap();
    for _ in 0..8 {
        tx.append_audit(ORIGIN, event("view", Uuid::now_v7(), None))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut scans = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..SCANS {
        // Room for one batch of one leaf: the scan sends it, reads on, and waits to send the
        // next, its streams open.
        let (batches, arriving) = tokio::sync::mpsc::channel::<Vec<ScannedLeaf>>(1);
        let c = c.clone();
        scans.push(tokio::spawn(async move {
            c.scan_log(8, 1, batches, std::sync::mpsc::channel().1)
                .await
        }));
        readers.push(arriving);
    }
    let begun = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let first: Vec<Vec<ScannedLeaf>> = readers
                .iter_mut()
                .filter_map(|r| r.try_recv().ok())
                .collect();
            if let Some(batch) = first.first() {
                return batch[0].row.idx;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    assert_eq!(begun.await.expect("a scan began within 10 s"), 0);
    let answered = tokio::time::timeout(std::time::Duration::from_secs(5), c.log_state()).await;
    let state = answered.expect("the catalogue answered while the scans stalled");
    assert_eq!(state.unwrap().size, 8);
    // Readers gone: each scan stops where it is, or as soon as its turn comes, without error.
    drop(readers);
    for scan in scans {
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), scan).await;
        let rest = ended.expect("every scan ended within 10 s of its reader going");
        assert_eq!(rest.unwrap().unwrap(), ScanRest::default());
    }
    assert_eq!(c.log_state().await.unwrap().size, 8);
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

/// A recording's bytes, told apart by one repeated byte.
fn sha(n: u8) -> Sha256Digest {
    Sha256Digest([n; 32])
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().expect("an RFC 3339 time")
}

fn metadata(pairs: &[(&str, &str)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A recording as exhibit `reference` (item `item`, first on the exhibit schedule) of a case.
fn exhibit<'a>(case: Uuid, recording: Uuid, reference: &'a str, item: i64) -> NewExhibit<'a> {
    NewExhibit {
        case,
        recording,
        reference,
        item_number: item,
        schedule: Schedule::Exhibit,
        schedule_item: item,
        description: None,
        sensitivity: None,
        disclosure_note: None,
    }
}

async fn add_dock(c: &Catalogue, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = c.begin().await.unwrap();
    tx.insert_dock(id, name, &format!("hash of {name}'s secret"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Cases open once per URN, number their exhibits per schedule, and keep their outcome.
async fn cases_number_exhibits_by_schedule(env: Env) {
    let c = open(&env).await;
    let a = add_recording(&c, sha(1)).await;
    let b = add_recording(&c, sha(2)).await;
    let mut tx = c.begin().await.unwrap();
    let case = tx
        .insert_case("01XX0000126", "theft", "4471")
        .await
        .unwrap();
    assert_eq!(
        (case.urn.as_str(), case.offence.as_str(), case.oic.as_str()),
        ("01XX0000126", "theft", "4471")
    );
    assert_eq!(
        (case.status, case.sentence_release, case.appeal),
        (CaseStatus::Open, None, false)
    );
    let again = tx.insert_case("01XX0000126", "theft", "4471").await;
    assert_eq!(again.unwrap_err().code(), Code::Conflict);
    assert_eq!(tx.case_for_update("01XX0000126").await.unwrap().id, case.id);
    assert_eq!(
        tx.case_for_update("01XX0000999").await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        tx.exhibit_references(case.id).await.unwrap(),
        (Vec::<String>::new(), 0)
    );
    for (recording, reference, item_number, schedule) in [
        (a, "JS/1", 1, Schedule::Exhibit),
        (b, "JS/2", 2, Schedule::Unused),
    ] {
        let schedule_item = tx.next_schedule_item(case.id, schedule).await.unwrap();
        assert_eq!(schedule_item, 1, "{schedule}");
        tx.insert_exhibit(&NewExhibit {
            item_number,
            schedule,
            schedule_item,
            description: Some("at the scene"),
            ..exhibit(case.id, recording, reference, item_number)
        })
        .await
        .unwrap();
    }
    assert_eq!(
        tx.next_schedule_item(case.id, Schedule::Exhibit)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tx.next_schedule_item(case.id, Schedule::Sensitive)
            .await
            .unwrap(),
        1
    );
    let (mut references, top) = tx.exhibit_references(case.id).await.unwrap();
    references.sort();
    assert_eq!((references, top), (vec!["JS/1".into(), "JS/2".into()], 2));
    assert_eq!(
        tx.exhibit_of(case.id, b).await.unwrap().as_deref(),
        Some("JS/2")
    );
    assert_eq!(tx.exhibit_of(case.id, Uuid::now_v7()).await.unwrap(), None);
    let links = tx.links_of(a).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].0, "01XX0000126");
    assert_eq!(links[0].1.to_string(), "exhibit");
    assert_eq!(tx.officer_name("4471").await.unwrap(), None);
    tx.register(Register::Officers, "4471", Some("PC Jane Smith"))
        .await
        .unwrap();
    assert_eq!(
        tx.officer_name("4471").await.unwrap().as_deref(),
        Some("PC Jane Smith")
    );
    let release = at("2031-06-01T00:00:00Z");
    tx.update_case(case.id, CaseStatus::Convicted, Some(release), true)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let case = c.case("01XX0000126").await.unwrap().expect("the case");
    assert_eq!(
        (case.status, case.sentence_release, case.appeal),
        (CaseStatus::Convicted, Some(release), true)
    );
    assert!(c.case("01XX0000999").await.unwrap().is_none());
    let exhibits = c.exhibits(case.id).await.unwrap();
    let listed: Vec<_> = exhibits
        .iter()
        .map(|e| {
            (
                e.reference.as_str(),
                e.item_number,
                e.recording_id,
                e.schedule,
                e.schedule_item,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("JS/1", 1, a, Schedule::Exhibit, 1),
            ("JS/2", 2, b, Schedule::Unused, 1)
        ]
    );
    for e in &exhibits {
        assert_eq!(
            (e.officer_id.as_str(), e.classification, e.status),
            ("4471", Classification::Unreviewed, RecordingStatus::Stored)
        );
    }
}

/// Every classification decision is kept; the latest is the recording's. A recording is in an
/// active case while the case is open, charged or under appeal.
async fn classification_keeps_every_decision(env: Env) {
    let c = open(&env).await;
    let a = add_recording(&c, sha(1)).await;
    let mut tx = c.begin().await.unwrap();
    tx.classify(
        a,
        Classification::Evidential,
        "review",
        Some("shows the arrest"),
        "staff:2",
    )
    .await
    .unwrap();
    tx.classify(
        a,
        Classification::NonEvidential,
        "category",
        None,
        "staff:3",
    )
    .await
    .unwrap();
    assert!(tx.active_cases_of(a).await.unwrap().is_empty());
    let case = tx
        .insert_case("01XX0000127", "assault", "4471")
        .await
        .unwrap();
    tx.insert_exhibit(&exhibit(case.id, a, "JS/1", 1))
        .await
        .unwrap();
    assert_eq!(tx.active_cases_of(a).await.unwrap(), ["01XX0000127"]);
    tx.update_case(case.id, CaseStatus::Closed, None, false)
        .await
        .unwrap();
    assert!(tx.active_cases_of(a).await.unwrap().is_empty(), "closed");
    tx.update_case(case.id, CaseStatus::Closed, None, true)
        .await
        .unwrap();
    assert_eq!(
        tx.active_cases_of(a).await.unwrap(),
        ["01XX0000127"],
        "under appeal"
    );
    tx.commit().await.unwrap();

    let r = c.recording(a).await.unwrap().unwrap();
    assert_eq!(r.classification, Classification::NonEvidential);
    let history = c.classification_history(a).await.unwrap();
    let decisions: Vec<_> = history
        .iter()
        .map(|h| {
            (
                h.classification.as_str(),
                h.basis.as_str(),
                h.reason.as_deref(),
                h.actor.as_str(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("evidential", "review", Some("shows the arrest"), "staff:2"),
            ("non-evidential", "category", None, "staff:3"),
        ]
    );
    assert!(
        c.classification_history(Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
}

/// A case's material comes exhibits first, then unused, then sensitive, whatever order it was
/// linked in, with who filmed it as the force and the dock named them.
async fn disclosure_material_in_schedule_order(env: Env) {
    let c = open(&env).await;
    let dock = add_dock(&c, "dock-a").await;
    let mut tx = c.begin().await.unwrap();
    tx.ensure_registered(Register::Officers, "9999", None, Some(dock))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let a = add_recording(&c, sha(1)).await;
    let b = add_recording_with(&c, sha(2), |r| {
        r.officer_id = "9999".into();
        r.officer_label = Some("Pat Doe".into());
        r.category = None;
    })
    .await;
    let d = add_recording(&c, sha(3)).await;
    let mut tx = c.begin().await.unwrap();
    tx.register(Register::Officers, "4471", Some("PC Jane Smith"))
        .await
        .unwrap();
    let case = tx
        .insert_case("01XX0000128", "robbery", "4471")
        .await
        .unwrap();
    for (item, (recording, reference, schedule, sensitivity)) in [
        (d, "MG6D/1", Schedule::Sensitive, Some("informant")),
        (b, "MG6C/1", Schedule::Unused, None),
        (a, "JS/1", Schedule::Exhibit, None),
    ]
    .into_iter()
    .enumerate()
    {
        let schedule_item = tx.next_schedule_item(case.id, schedule).await.unwrap();
        tx.insert_exhibit(&NewExhibit {
            schedule,
            schedule_item,
            description: Some("footage"),
            sensitivity,
            ..exhibit(case.id, recording, reference, item as i64 + 1)
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let material = c.case_material(case.id).await.unwrap();
    let listed: Vec<_> = material
        .iter()
        .map(|m| {
            (
                m.schedule,
                m.reference.as_str(),
                m.recording_id,
                m.officer_name.as_deref(),
                m.officer_registered_by,
                m.officer_label.as_deref(),
                m.category.as_deref(),
                m.sensitivity.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                Schedule::Exhibit,
                "JS/1",
                a,
                Some("PC Jane Smith"),
                RegisteredBy::Force,
                None,
                Some("Arrest"),
                None
            ),
            (
                Schedule::Unused,
                "MG6C/1",
                b,
                None,
                RegisteredBy::Dock,
                Some("Pat Doe"),
                None,
                None
            ),
            (
                Schedule::Sensitive,
                "MG6D/1",
                d,
                Some("PC Jane Smith"),
                RegisteredBy::Force,
                None,
                Some("Arrest"),
                Some("informant")
            ),
        ]
    );
    for m in &material {
        assert_eq!(
            (
                m.schedule_item,
                m.device_serial.as_str(),
                m.ended_at,
                m.description.as_deref(),
                m.disclosure_note.as_deref()
            ),
            (1, "CAM-1", None, Some("footage"), None)
        );
    }
    assert!(c.case_material(Uuid::now_v7()).await.unwrap().is_empty());
}

/// Dock credentials: tokens live, expire and are swept; a new secret or a revocation ends the
/// dock's sessions, and a revoked dock is refused.
async fn docks_tokens_and_revocation(env: Env) {
    let c = open(&env).await;
    let b = add_dock(&c, "dock-b").await;
    let a = add_dock(&c, "dock-a").await;
    let names: Vec<String> = c
        .docks()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["dock-a", "dock-b"]);
    let dock_a = c.dock_by_name("dock-a").await.unwrap().expect("dock-a");
    assert_eq!(
        (dock_a.id, dock_a.secret_hash.as_str(), dock_a.revoked_at),
        (a, "hash of dock-a's secret", None)
    );
    assert!(c.dock_by_name("dock-c").await.unwrap().is_none());

    let now = bwv::domain::now();
    c.insert_token("live", a, now + Duration::hours(1))
        .await
        .unwrap();
    c.insert_token("lapsed", a, now - Duration::minutes(1))
        .await
        .unwrap();
    c.insert_token("long-gone", a, now - Duration::days(2))
        .await
        .unwrap();
    c.insert_token("other", b, now + Duration::hours(1))
        .await
        .unwrap();
    let state = async |token: &str| c.token_state(token).await.unwrap();
    assert!(matches!(state("live").await, TokenState::Live(d) if d.id == a));
    assert!(matches!(state("lapsed").await, TokenState::Expired));
    assert!(
        matches!(state("long-gone").await, TokenState::Unknown),
        "swept when the next token was issued"
    );
    assert!(matches!(state("never").await, TokenState::Unknown));

    // A new secret ends the dock's sessions, not another dock's.
    let mut tx = c.begin().await.unwrap();
    tx.set_dock_secret(a, "new hash").await.unwrap();
    tx.ensure_dock_active(&dock_a).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(state("live").await, TokenState::Unknown));
    assert!(matches!(state("other").await, TokenState::Live(d) if d.id == b));
    assert_eq!(
        c.dock_by_name("dock-a").await.unwrap().unwrap().secret_hash,
        "new hash"
    );

    // Revoked once, with its tokens; refused after.
    let mut tx = c.begin().await.unwrap();
    assert!(tx.revoke_dock(b).await.unwrap());
    assert!(!tx.revoke_dock(b).await.unwrap(), "revoked already");
    tx.commit().await.unwrap();
    assert!(matches!(state("other").await, TokenState::Unknown));
    assert!(c.dock_revoked(b).await.unwrap());
    assert!(!c.dock_revoked(a).await.unwrap());
    assert!(
        c.dock_revoked(Uuid::now_v7()).await.unwrap(),
        "no such dock"
    );
    let dock_b = c.dock_by_name("dock-b").await.unwrap().unwrap();
    assert!(dock_b.revoked_at.is_some());
    let mut tx = c.begin().await.unwrap();
    let err = tx.ensure_dock_active(&dock_b).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthorized, "{err}");
}

/// Holds on a recording or on a case, in force until released or lapsed; released once.
async fn holds_in_force_lapsed_and_released(env: Env) {
    let c = open(&env).await;
    let a = add_recording(&c, sha(1)).await;
    let b = add_recording(&c, sha(2)).await;
    let now = bwv::domain::now();
    let (future, past) = (now + Duration::days(30), now - Duration::days(1));
    let mut tx = c.begin().await.unwrap();
    let case = tx
        .insert_case("01XX0000129", "theft", "4471")
        .await
        .unwrap();
    tx.insert_exhibit(&exhibit(case.id, b, "JS/1", 1))
        .await
        .unwrap();
    assert!(!tx.case_held(case.id).await.unwrap());
    let on_a = tx
        .insert_hold(Some(a), None, "complaint", None, "staff:1")
        .await
        .unwrap();
    let on_case = tx
        .insert_hold(None, Some(case.id), "trial", Some(future), "staff:2")
        .await
        .unwrap();
    let lapsed = tx
        .insert_hold(Some(a), None, "short", Some(past), "staff:3")
        .await
        .unwrap();
    assert!(tx.case_held(case.id).await.unwrap());
    assert_eq!(tx.hold_lapses(a).await.unwrap(), [None]);
    assert_eq!(
        tx.hold_lapses(b).await.unwrap(),
        [Some(future)],
        "through its case"
    );
    assert_eq!(tx.recording_objects(a).await.unwrap(), [sha(1).to_hex()]);
    let released = tx
        .release_hold(on_a, "staff:4", "resolved")
        .await
        .unwrap()
        .expect("it was in force");
    assert_eq!(
        (
            released.id,
            released.recording_id,
            released.reason.as_str(),
            released.released_at
        ),
        (on_a, Some(a), "complaint", None),
        "the hold as it was"
    );
    assert!(
        tx.release_hold(on_a, "staff:4", "again")
            .await
            .unwrap()
            .is_none()
    );
    assert!(tx.hold_lapses(a).await.unwrap().is_empty());
    tx.commit().await.unwrap();

    let in_force: Vec<Uuid> = c
        .holds(false)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(in_force, [on_case]);
    let all = c.holds(true).await.unwrap();
    let ids: Vec<Uuid> = all.iter().map(|h| h.id).collect();
    assert_eq!(ids, [lapsed, on_case, on_a], "newest first");
    assert_eq!(
        (
            all[1].case_id,
            all[1].urn.as_deref(),
            all[1].until,
            all[1].placed_by.as_str()
        ),
        (Some(case.id), Some("01XX0000129"), Some(future), "staff:2")
    );
    assert_eq!(
        (
            all[2].released_by.as_deref(),
            all[2].release_reason.as_deref()
        ),
        (Some("staff:4"), Some("resolved"))
    );
    assert!(all[2].released_at.is_some());
}

/// Listing and counting jobs, and checking a lease from inside a transaction.
async fn jobs_listed_counted_and_leases_checked(env: Env) {
    let c = open(&env).await;
    let mut tx = c.begin().await.unwrap();
    for (clip, priority) in [("a", 0), ("b", 5)] {
        let job = NewJob {
            kind: "media",
            payload: serde_json::json!({ "clip": clip }),
            priority,
            max_attempts: 3,
            unique_key: Some(format!("media:{clip}")),
        };
        assert!(tx.enqueue(&job).await.unwrap());
    }
    tx.commit().await.unwrap();
    let claimed = c
        .claim_job("w1", bwv::domain::now() + Duration::minutes(1))
        .await
        .unwrap()
        .expect("a job");
    assert_eq!(claimed.payload.0["clip"], "b", "the more urgent first");
    assert_eq!(
        (
            claimed.status,
            claimed.attempts,
            claimed.lease_owner.as_deref()
        ),
        (JobStatus::Running, 1, Some("w1"))
    );
    let mut tx = c.begin().await.unwrap();
    assert!(tx.still_leased(claimed.id, "w1").await.unwrap());
    assert!(!tx.still_leased(claimed.id, "w2").await.unwrap());
    assert_eq!(
        tx.retry_job(claimed.id).await.unwrap_err().code(),
        Code::NotFound,
        "a running job is still going"
    );
    tx.commit().await.unwrap();

    let clips = |jobs: Vec<JobRow>| -> Vec<String> {
        jobs.iter()
            .map(|j| j.payload.0["clip"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(clips(c.jobs(None, 10).await.unwrap()), ["b", "a"]);
    assert_eq!(clips(c.jobs(None, 1).await.unwrap()), ["b"]);
    assert_eq!(
        clips(c.jobs(Some(JobStatus::Queued), 10).await.unwrap()),
        ["a"]
    );
    assert!(c.jobs(Some(JobStatus::Dead), 10).await.unwrap().is_empty());
    assert_eq!(
        c.job_counts().await.unwrap(),
        [(JobStatus::Queued, 1), (JobStatus::Running, 1)]
    );
    assert!(c.job(Uuid::now_v7()).await.unwrap().is_none());
    assert_eq!(
        c.job(claimed.id)
            .await
            .unwrap()
            .unwrap()
            .lease_owner
            .as_deref(),
        Some("w1")
    );
}

/// Clips settle one by one; the recording follows once none is pending. Derivatives link to
/// their clip, one of each kind.
async fn media_settles_recordings_from_their_clips(env: Env) {
    let c = open(&env).await;
    let a = add_recording(&c, sha(1)).await;
    let first = c.recording(a).await.unwrap().unwrap().clips[0].id;
    let m = c.clip_media(first).await.unwrap().expect("the clip");
    assert_eq!(
        (
            m.recording_id,
            m.seq,
            m.sha256.as_str(),
            m.media_state,
            m.recording_status,
            m.retention_state,
            m.purging
        ),
        (
            a,
            1,
            sha(1).to_hex().as_str(),
            MediaState::Pending,
            RecordingStatus::Stored,
            RetentionState::Active,
            false
        )
    );
    assert!(c.clip_media(Uuid::now_v7()).await.unwrap().is_none());

    let second = Uuid::now_v7();
    let probe = serde_json::json!({ "format": { "duration": "1.0" } });
    let mut tx = c.begin().await.unwrap();
    tx.insert_object(&sha(2), 2, None).await.unwrap();
    assert_eq!(tx.next_clip_seq(a).await.unwrap(), 2);
    tx.insert_clip(&NewClip {
        id: second,
        recording_id: a,
        seq: 2,
        sha256: sha(2),
        size: 2,
        original_name: None,
    })
    .await
    .unwrap();
    tx.set_clip_media(first, Some(&probe), MediaState::Playable, None)
        .await
        .unwrap();
    assert_eq!(
        tx.settle_recording_media(a).await.unwrap(),
        None,
        "a clip is still pending"
    );
    tx.set_clip_media(
        second,
        None,
        MediaState::Unplayable,
        Some("no video stream"),
    )
    .await
    .unwrap();
    assert_eq!(
        tx.settle_recording_media(a).await.unwrap(),
        Some((
            RecordingStatus::Playable,
            vec!["zero-length".to_string(), "clip-unplayable".to_string()]
        ))
    );
    assert_eq!(
        tx.settle_recording_media(a).await.unwrap(),
        None,
        "settled already"
    );
    tx.insert_object(&sha(3), 30, Some("image/jpeg"))
        .await
        .unwrap();
    let poster = NewDerivative {
        clip_id: first,
        source_sha256: sha(1),
        sha256: sha(3),
        size: 30,
        kind: DerivativeKind::Poster,
        media_type: "image/jpeg",
        params: serde_json::json!({ "at": 0.5 }),
    };
    assert!(tx.insert_derivative(&poster).await.unwrap());
    assert!(
        !tx.insert_derivative(&poster).await.unwrap(),
        "one poster per clip"
    );
    tx.commit().await.unwrap();

    let r = c.recording(a).await.unwrap().unwrap();
    assert_eq!(r.status, RecordingStatus::Playable);
    assert_eq!(r.flags, ["zero-length", "clip-unplayable"]);
    let clips: Vec<_> = r
        .clips
        .iter()
        .map(|c| (c.media_state, c.media_error.as_deref(), c.probe.is_some()))
        .collect();
    assert_eq!(
        clips,
        [
            (MediaState::Playable, None, true),
            (MediaState::Unplayable, Some("no video stream"), false)
        ]
    );
    let derivatives = c.derivatives(a).await.unwrap();
    assert_eq!(derivatives.len(), 1);
    let d = &derivatives[0];
    assert_eq!(
        (
            d.clip_id,
            d.kind,
            d.sha256.as_str(),
            d.source_sha256.as_str(),
            d.media_type.as_str(),
            d.size,
            &d.params.0
        ),
        (
            first,
            DerivativeKind::Poster,
            sha(3).to_hex().as_str(),
            sha(1).to_hex().as_str(),
            "image/jpeg",
            30,
            &serde_json::json!({ "at": 0.5 })
        )
    );

    // No clip plays: unplayable. Still arriving: not settled at all.
    let none_plays = add_recording_with(&c, sha(4), |r| r.flags.clear()).await;
    let arriving = add_recording_with(&c, sha(5), |r| r.status = RecordingStatus::Incomplete).await;
    let mut tx = c.begin().await.unwrap();
    for r in [none_plays, arriving] {
        let clip = tx.recording(r).await.unwrap().unwrap().clips[0].id;
        tx.set_clip_media(clip, None, MediaState::Unplayable, Some("not video"))
            .await
            .unwrap();
    }
    assert_eq!(
        tx.settle_recording_media(none_plays).await.unwrap(),
        Some((RecordingStatus::Unplayable, vec!["unplayable".to_string()]))
    );
    assert_eq!(tx.settle_recording_media(arriving).await.unwrap(), None);
    tx.commit().await.unwrap();
}

/// What a plan is made from: the stored next actions, those to compute again, those due.
async fn plans_record_what_is_due(env: Env) {
    let c = open(&env).await;
    let now = bwv::domain::now();
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(add_recording(&c, sha(n)).await);
    }
    let [delete, review, keep, never, later] = ids[..] else {
        unreachable!()
    };
    let mut tx = c.begin().await.unwrap();
    for (id, action, when, rule) in [
        (delete, Action::Delete, now - Duration::days(2), "default"),
        (review, Action::Review, now - Duration::days(1), "review"),
        (keep, Action::Keep, now - Duration::hours(1), "legal-hold"),
        (later, Action::Delete, now + Duration::days(30), "default"),
    ] {
        tx.set_next_action(id, action, Some(when), rule, "policy-1")
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut stale = vec![keep, never];
    stale.sort();
    assert_eq!(
        c.stale_next_actions("policy-1", now).await.unwrap(),
        stale,
        "never computed, or a keep whose date has come"
    );
    let mut all = ids.clone();
    all.sort();
    assert_eq!(
        c.stale_next_actions("policy-2", now).await.unwrap(),
        all,
        "another policy"
    );
    let due = c.due(now).await.unwrap();
    let listed: Vec<_> = due
        .iter()
        .map(|d| (d.recording_id, d.action, d.rule.as_str(), d.due_at))
        .collect();
    assert_eq!(
        listed,
        [
            (delete, Action::Delete, "default", now - Duration::days(2)),
            (review, Action::Review, "review", now - Duration::days(1)),
        ]
    );
    for d in &due {
        assert_eq!(
            (
                d.officer_id.as_str(),
                d.classification.as_str(),
                d.category.as_deref()
            ),
            ("4471", "unreviewed", Some("Arrest"))
        );
    }

    let mut tx = c.begin().await.unwrap();
    let plan = tx
        .insert_plan(now, "policy-1", "staff:1", &due)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = c.plan(plan).await.unwrap();
    assert_eq!(
        (
            row.id,
            row.as_of,
            row.policy_sha256.as_str(),
            row.created_by.as_str()
        ),
        (plan, now, "policy-1", "staff:1")
    );
    assert_eq!(
        (row.approved_by, row.approved_at, row.executed_at),
        (None, None, None)
    );
    let items: Vec<_> = c
        .pending_items(plan)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.recording_id, i.action, i.rule))
        .collect();
    assert_eq!(
        items,
        [
            (delete, Action::Delete, "default".to_string()),
            (review, Action::Review, "review".to_string()),
        ]
    );
    assert_eq!(
        c.plan(Uuid::now_v7()).await.unwrap_err().code(),
        Code::NotFound
    );
}

/// The facts retention rules read (the recording's times, its cases' outcomes) and where their
/// answer is kept.
async fn retention_reads_facts_and_keeps_answers(env: Env) {
    let c = open(&env).await;
    let recorded = at("2026-01-01T10:00:00Z");
    let a = add_recording_with(&c, sha(1), |r| r.recorded_at = recorded).await;
    let mut tx = c.begin().await.unwrap();
    let (recorded_at, source, arrived, classification) = tx.retention_basics(a).await.unwrap();
    assert_eq!(
        (recorded_at, source, classification),
        (recorded, TimeSource::Operator, Classification::Unreviewed)
    );
    assert!(recorded < arrived && arrived <= bwv::domain::now());
    assert_eq!(
        tx.retention_basics(Uuid::now_v7())
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert!(tx.case_outcomes(a).await.unwrap().is_empty());
    let case = tx
        .insert_case("01XX0000130", "theft", "4471")
        .await
        .unwrap();
    tx.insert_exhibit(&exhibit(case.id, a, "JS/1", 1))
        .await
        .unwrap();
    assert_eq!(tx.exhibit_recordings(case.id).await.unwrap(), [a]);
    assert_eq!(
        tx.case_outcomes(a).await.unwrap(),
        [(CaseStatus::Open, None, None, false)]
    );
    let release = at("2030-01-01T00:00:00Z");
    tx.update_case(case.id, CaseStatus::Convicted, Some(release), false)
        .await
        .unwrap();
    let (status, concluded, sentence_release, appeal) = tx.case_outcomes(a).await.unwrap()[0];
    assert_eq!(
        (status, sentence_release, appeal),
        (CaseStatus::Convicted, Some(release), false)
    );
    let concluded = concluded.expect("an outcome is dated");
    tx.update_case(case.id, CaseStatus::Acquitted, None, true)
        .await
        .unwrap();
    assert_eq!(
        tx.case_outcomes(a).await.unwrap(),
        [(CaseStatus::Acquitted, Some(concluded), None, true)],
        "moving between outcomes keeps the date"
    );
    tx.update_case(case.id, CaseStatus::Charged, None, false)
        .await
        .unwrap();
    assert_eq!(
        tx.case_outcomes(a).await.unwrap(),
        [(CaseStatus::Charged, None, None, false)],
        "back to charged clears it"
    );
    let due = at("2032-01-01T00:00:00Z");
    tx.set_next_action(a, Action::Delete, Some(due), "charged", "policy-1")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = c.recording(a).await.unwrap().unwrap();
    assert_eq!(
        (
            r.next_action,
            r.next_action_at,
            r.next_action_rule.as_deref()
        ),
        (Some(Action::Delete), Some(due), Some("charged"))
    );
}

/// Two-person plans, soft deletion, a purge that keeps shared bytes and leaves a tombstone, and
/// review decisions.
async fn sweeps_delete_in_two_stages(env: Env) {
    let c = open(&env).await;
    let a = add_recording(&c, sha(1)).await;
    let b = add_recording(&c, sha(2)).await;
    let now = bwv::domain::now();
    let mut tx = c.begin().await.unwrap();
    // a has bytes of its own; b has a copy of a's first clip too.
    for (recording, bytes) in [(a, 3), (b, 1)] {
        tx.insert_object(&sha(bytes), u64::from(bytes), None)
            .await
            .unwrap();
        tx.insert_clip(&NewClip {
            id: Uuid::now_v7(),
            recording_id: recording,
            seq: 2,
            sha256: sha(bytes),
            size: u64::from(bytes),
            original_name: None,
        })
        .await
        .unwrap();
    }
    tx.set_next_action(
        a,
        Action::Delete,
        Some(now - Duration::days(1)),
        "default",
        "policy-1",
    )
    .await
    .unwrap();
    tx.set_next_action(
        b,
        Action::Review,
        Some(now - Duration::days(1)),
        "review",
        "policy-1",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let due = c.due(now).await.unwrap();

    let mut tx = c.begin().await.unwrap();
    let plan = tx
        .insert_plan(now, "policy-1", "staff:1", &due)
        .await
        .unwrap();
    let own = tx.approve_plan(plan, "staff:1").await.unwrap_err();
    assert_eq!(own.code(), Code::Conflict, "not by the one who made it");
    tx.approve_plan(plan, "staff:2").await.unwrap();
    assert_eq!(
        tx.approve_plan(plan, "staff:3").await.unwrap_err().code(),
        Code::Conflict,
        "approved already"
    );
    assert_eq!(
        tx.plan_for_update(plan)
            .await
            .unwrap()
            .approved_by
            .as_deref(),
        Some("staff:2")
    );
    assert_eq!(
        tx.plan_for_update(Uuid::now_v7()).await.unwrap_err().code(),
        Code::NotFound
    );
    tx.set_retention_state(a, RetentionState::SoftDeleted)
        .await
        .unwrap();
    tx.item_done(plan, a, SweepOutcome::SoftDeleted, None)
        .await
        .unwrap();
    tx.item_done(plan, a, SweepOutcome::Failed, Some("a second sweep"))
        .await
        .unwrap();
    assert!(!tx.finish_plan_if_done(plan).await.unwrap(), "b is left");
    tx.set_retention_state(b, RetentionState::Review)
        .await
        .unwrap();
    tx.item_done(plan, b, SweepOutcome::SentForReview, None)
        .await
        .unwrap();
    assert!(tx.finish_plan_if_done(plan).await.unwrap());
    assert!(!tx.finish_plan_if_done(plan).await.unwrap(), "done already");
    tx.commit().await.unwrap();
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM retention_plan_items WHERE outcome IN ('soft-deleted', 'sent-for-review')"
        ),
        2,
        "the first outcome stands"
    );
    assert!(c.plan(plan).await.unwrap().executed_at.is_some());
    assert!(c.pending_items(plan).await.unwrap().is_empty());
    let waiting: Vec<Uuid> = c
        .awaiting_review()
        .await
        .unwrap()
        .iter()
        .map(|d| d.recording_id)
        .collect();
    assert_eq!(waiting, [b]);
    assert!(
        c.purgeable(now - Duration::days(1))
            .await
            .unwrap()
            .is_empty(),
        "still in its grace period"
    );
    let later = bwv::domain::now() + Duration::seconds(1);
    assert_eq!(c.purgeable(later).await.unwrap(), [a]);

    let mut tx = c.begin().await.unwrap();
    let s = tx.deletion_state(a).await.unwrap();
    assert_eq!(
        (
            s.retention_state,
            s.purge_started_at,
            s.officer_id.as_str(),
            s.device_serial.as_str(),
            s.classification,
            s.category.as_deref(),
            s.next_action_rule.as_deref()
        ),
        (
            RetentionState::SoftDeleted,
            None,
            "4471",
            "CAM-1",
            Classification::Unreviewed,
            Some("Arrest"),
            Some("default")
        )
    );
    let deleted_at = s.deleted_at.expect("when it was deleted");
    tx.ensure_not_purged(a).await.unwrap();
    let listed = |objects: &[PurgeObject]| -> Vec<(String, i64, String, bool, bool)> {
        objects
            .iter()
            .map(|o| (o.sha256.clone(), o.size, o.role.clone(), o.shared, o.purged))
            .collect()
    };
    let objects = tx.purge_objects(a).await.unwrap();
    assert_eq!(
        listed(&objects),
        [
            (sha(1).to_hex(), 1, "original".into(), true, false),
            (sha(3).to_hex(), 3, "original".into(), false, false),
        ]
    );
    tx.start_purge(a, &[sha(3).to_hex()]).await.unwrap();
    let err = tx.ensure_not_purged(a).await.unwrap_err();
    assert!(err.to_string().contains("is being purged"), "{err}");
    assert!(tx.object_catalogued(&sha(3)).await.unwrap());
    assert!(!tx.object_catalogued(&sha(9)).await.unwrap());
    assert!(tx.lock_purged_object(&sha(3).to_hex()).await.unwrap());
    assert!(
        !tx.lock_purged_object(&sha(1).to_hex()).await.unwrap(),
        "still needed: never marked"
    );
    assert_eq!(tx.recording_with_object(&sha(3)).await.unwrap(), None);
    assert_eq!(tx.recording_with_object(&sha(1)).await.unwrap(), Some(b));
    let objects = tx.purge_objects(a).await.unwrap();
    assert_eq!(
        objects.iter().map(|o| o.purged).collect::<Vec<_>>(),
        [false, true]
    );
    let purged_at = bwv::domain::now();
    tx.finish_purge(a, "default", &objects, deleted_at, purged_at, "certificate")
        .await
        .unwrap();
    let err = tx.ensure_not_purged(a).await.unwrap_err();
    assert!(err.to_string().contains("has been purged"), "{err}");
    tx.commit().await.unwrap();
    let t = c.tombstone(a).await.unwrap().expect("a tombstone");
    assert_eq!(
        (
            t.recording_id,
            t.rule.as_str(),
            t.deleted_at,
            t.purged_at,
            t.certificate.as_str()
        ),
        (a, "default", deleted_at, purged_at, "certificate")
    );
    assert!(c.tombstone(b).await.unwrap().is_none());
    let r = c.recording(a).await.unwrap().unwrap();
    assert_eq!(
        (r.retention_state, r.purged_at, r.next_action),
        (RetentionState::Purged, Some(purged_at), None)
    );
    assert!(c.purgeable(later).await.unwrap().is_empty());

    let mut tx = c.begin().await.unwrap();
    assert_eq!(tx.latest_review(b).await.unwrap(), None);
    let until = at("2031-01-01T00:00:00Z");
    tx.insert_review(b, Some(until), Some("team-a"), "still needed", "staff:5")
        .await
        .unwrap();
    assert_eq!(tx.latest_review(b).await.unwrap().unwrap().1, Some(until));
    tx.insert_review(b, None, None, "no longer needed", "staff:6")
        .await
        .unwrap();
    assert_eq!(
        tx.latest_review(b).await.unwrap().unwrap().1,
        None,
        "dispose"
    );
    tx.commit().await.unwrap();
}

/// tus uploads: what each dock, and every dock, has still to send; offsets only go forward;
/// an upload ends once.
async fn uploads_count_what_is_unsent(env: Env) {
    let c = open(&env).await;
    add_dock(&c, "dock-a").await;
    add_dock(&c, "dock-b").await;
    let dock_a = c.dock_by_name("dock-a").await.unwrap().unwrap();
    let dock_b = c.dock_by_name("dock-b").await.unwrap().unwrap();
    let now = bwv::domain::now();
    let upload = |id, dock: &Dock, length, offset| UploadRow {
        id,
        dock_id: dock.id,
        length,
        upload_offset: offset,
        metadata: Json(BTreeMap::from([("filename".into(), "clip.mp4".into())])),
        state: UploadState::Receiving,
        recording_id: None,
        created_at: now,
        updated_at: now,
        expires_at: now + Duration::hours(1),
    };
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let unsent = |o: OpenUploads| (o.count, o.unsent, o.all_unsent);
    let mut tx = c.begin().await.unwrap();
    assert_eq!(unsent(tx.open_uploads(&dock_a).await.unwrap()), (0, 0, 0));
    tx.insert_upload(&upload(first, &dock_a, 100, 0))
        .await
        .unwrap();
    tx.insert_upload(&upload(second, &dock_b, 50, 10))
        .await
        .unwrap();
    assert_eq!(
        unsent(tx.open_uploads(&dock_a).await.unwrap()),
        (1, 100, 140)
    );
    tx.commit().await.unwrap();

    // Only the lease holder moves an upload on; a live lease keeps everyone else out.
    let claim = |owner: &'static str, until| {
        let c = c.clone();
        async move {
            let mut tx = c.begin().await?;
            let claimed = tx.claim_upload(first, owner, until).await;
            tx.commit().await?;
            claimed
        }
    };
    let taken = claim("node-a", now + Duration::hours(5))
        .await
        .unwrap()
        .unwrap();
    assert!(!taken.taken_over);
    let err = claim("node-b", now + Duration::hours(5)).await.unwrap_err();
    assert_eq!(err.code(), Code::Locked, "{err}");
    assert!(
        !c.advance_upload(first, "node-b", 40, now + Duration::hours(2))
            .await
            .unwrap(),
        "not the holder"
    );
    assert!(
        c.advance_upload(first, "node-a", 40, now + Duration::hours(2))
            .await
            .unwrap()
    );
    c.advance_upload(first, "node-a", 30, now + Duration::hours(3))
        .await
        .unwrap();
    let row = c.upload(first).await.unwrap().expect("the upload");
    assert_eq!(
        (
            row.upload_offset,
            row.expires_at,
            row.state,
            row.metadata.0["filename"].as_str()
        ),
        (
            40,
            now + Duration::hours(2),
            UploadState::Receiving,
            "clip.mp4"
        ),
        "never backwards"
    );
    assert!(c.upload(Uuid::now_v7()).await.unwrap().is_none());
    assert!(c.expired_uploads(now).await.unwrap().is_empty());
    // Past its expiry but still held: not expired until the lease has run out too.
    let expired = |at| {
        let c = c.clone();
        async move {
            let mut ids: Vec<Uuid> = c
                .expired_uploads(at)
                .await
                .unwrap()
                .iter()
                .map(|u| u.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(expired(now + Duration::minutes(150)).await, [second]);
    let mut both = [first, second];
    both.sort();
    assert_eq!(expired(now + Duration::hours(6)).await, both);

    // A lease released is free at once; one that ran out is taken over.
    c.release_upload(first, "node-a").await.unwrap();
    let taken = claim("node-b", now - Duration::seconds(1))
        .await
        .unwrap()
        .unwrap();
    assert!(!taken.taken_over, "released cleanly");
    let taken = claim("node-c", now + Duration::hours(5))
        .await
        .unwrap()
        .unwrap();
    assert!(taken.taken_over, "node-b never let go");
    assert!(
        c.renew_upload_lease(first, "node-c", now + Duration::hours(6))
            .await
            .unwrap()
    );
    assert!(
        !c.renew_upload_lease(first, "node-b", now + Duration::hours(6))
            .await
            .unwrap()
    );

    let recording = add_recording(&c, sha(1)).await;
    let mut tx = c.begin().await.unwrap();
    assert!(
        !tx.end_upload(
            first,
            UploadState::Expired,
            None,
            Ending::Unheld(now + Duration::hours(1))
        )
        .await
        .unwrap(),
        "held: not expired"
    );
    assert!(
        !tx.end_upload(
            first,
            UploadState::Completed,
            Some(recording),
            Ending::Holder("node-b")
        )
        .await
        .unwrap(),
        "not the holder"
    );
    assert!(
        tx.end_upload(
            first,
            UploadState::Completed,
            Some(recording),
            Ending::Holder("node-c")
        )
        .await
        .unwrap()
    );
    assert!(
        !tx.end_upload(first, UploadState::Expired, None, Ending::Unheld(now))
            .await
            .unwrap(),
        "ended already"
    );
    assert_eq!(unsent(tx.open_uploads(&dock_a).await.unwrap()), (0, 0, 40));
    assert!(tx.revoke_dock(dock_b.id).await.unwrap());
    tx.commit().await.unwrap();
    c.advance_upload(first, "node-c", 90, now).await.unwrap();
    let row = c.upload(first).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.recording_id, row.upload_offset),
        (UploadState::Completed, Some(recording), 100),
        "completed: whole, and no longer moved"
    );
    let mut tx = c.begin().await.unwrap();
    let err = tx.open_uploads(&dock_b).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthorized, "{err}");
}

/// The Axis door's rows: a container per name per dock, objects replaced with their earlier
/// bytes kept, the dock's registry, bookmarks and GNSS points.
async fn axis_containers_objects_and_registry(env: Env) {
    let c = open(&env).await;
    let dock = add_dock(&c, "dock-a").await;
    let recording = add_recording(&c, sha(1)).await;
    let now = bwv::domain::now();
    let container = AxisContainer {
        id: Uuid::now_v7(),
        dock_id: dock,
        name: "20260101_100000_4471".into(),
        kind: ContainerKind::Recording,
        recording_id: recording,
        metadata: Json(metadata(&[("UserID", "4471")])),
        created_at: now,
        updated_at: now,
    };
    let complete = metadata(&[("UserID", "4471"), ("Complete", "True")]);
    let clip = AxisObject {
        id: Uuid::now_v7(),
        container_id: container.id,
        name: "clip.mkv".into(),
        kind: ObjectKind::Clip,
        sha256: sha(2).to_hex(),
        size: 2,
        md5: "md5 of 2".into(),
        metadata: Json(Metadata::new()),
        updated_at: now,
    };
    let resent = AxisObject {
        id: Uuid::now_v7(),
        sha256: sha(3).to_hex(),
        size: 3,
        md5: "md5 of 3".into(),
        ..clip.clone()
    };
    let camera = metadata(&[("Name", "Body camera")]);

    let mut tx = c.begin().await.unwrap();
    assert!(tx.insert_axis_container(&container).await.unwrap());
    assert!(
        !tx.insert_axis_container(&AxisContainer {
            id: Uuid::now_v7(),
            ..container.clone()
        })
        .await
        .unwrap(),
        "one container of a name per dock"
    );
    tx.set_axis_container_metadata(container.id, &complete)
        .await
        .unwrap();
    assert_eq!(
        tx.axis_container_metadata(container.id).await.unwrap(),
        complete
    );
    for n in [2, 3, 4] {
        tx.insert_object(&sha(n), u64::from(n), None).await.unwrap();
    }
    tx.put_axis_object(&clip).await.unwrap();
    assert_eq!(
        tx.axis_object(container.id, "clip.mkv")
            .await
            .unwrap()
            .map(|o| o.sha256),
        Some(sha(2).to_hex())
    );
    assert!(
        tx.axis_object(container.id, "other.mkv")
            .await
            .unwrap()
            .is_none()
    );
    // Sent again before Complete: the earlier bytes are kept, superseded.
    tx.keep_axis_object_version(&clip, VersionOutcome::Superseded)
        .await
        .unwrap();
    tx.put_axis_object(&resent).await.unwrap();
    assert!(
        tx.set_axis_object_metadata(container.id, "clip.mkv", &metadata(&[("Duration", "10")]))
            .await
            .unwrap()
    );
    assert!(
        !tx.set_axis_object_metadata(container.id, "other.mkv", &Metadata::new())
            .await
            .unwrap()
    );
    let objects: Vec<_> = tx
        .axis_objects(container.id)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.name, o.kind, o.sha256, o.size, o.md5, o.metadata.0))
        .collect();
    assert_eq!(
        objects,
        [(
            "clip.mkv".to_string(),
            ObjectKind::Clip,
            sha(3).to_hex(),
            3,
            "md5 of 3".to_string(),
            metadata(&[("Duration", "10")])
        )]
    );
    let versions: Vec<_> = tx
        .axis_object_versions(container.id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.name, v.kind, v.sha256, v.size, v.received_at, v.outcome))
        .collect();
    let kept = (
        "clip.mkv".to_string(),
        ObjectKind::Clip,
        sha(2).to_hex(),
        2,
        now,
        VersionOutcome::Superseded,
    );
    assert_eq!(versions, std::slice::from_ref(&kept));
    tx.put_axis_registry(dock, "Devices", "CAM-1", &metadata(&[("Name", "Old")]))
        .await
        .unwrap();
    tx.put_axis_registry(dock, "Devices", "CAM-1", &camera)
        .await
        .unwrap();
    assert_eq!(
        tx.axis_registry_entry(dock, "Devices", "CAM-1")
            .await
            .unwrap(),
        Some(camera.clone())
    );
    tx.insert_bookmark(
        recording,
        Some(now),
        Some("incident"),
        "suspect leaves",
        &Metadata::new(),
    )
    .await
    .unwrap();
    let point = |seconds| GnssPoint {
        longitude: -0.1276,
        latitude: 51.5072,
        seconds_from_start: Some(seconds),
        at: None,
    };
    tx.put_gnss(recording, &sha(4).to_hex(), &[point(0.0), point(1.0)])
        .await
        .unwrap();
    tx.put_gnss(
        recording,
        &sha(4).to_hex(),
        &[point(0.0), point(1.0), point(2.0)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let found = c
        .axis_container(dock, &container.name)
        .await
        .unwrap()
        .expect("the container");
    assert_eq!(
        (found.id, found.kind, found.recording_id, found.metadata.0),
        (container.id, ContainerKind::Recording, recording, complete)
    );
    assert!(c.axis_container(dock, "other").await.unwrap().is_none());
    assert_eq!(c.axis_objects(container.id).await.unwrap().len(), 1);
    let versions: Vec<_> = c
        .axis_object_versions_of(recording)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.name, v.kind, v.sha256, v.size, v.received_at, v.outcome))
        .collect();
    assert_eq!(versions, [kept]);
    assert_eq!(
        c.axis_registry(dock, "Devices", "CAM-1").await.unwrap(),
        Some(camera.clone())
    );
    assert_eq!(c.axis_registry(dock, "Users", "CAM-1").await.unwrap(), None);
    assert_eq!(
        c.axis_device_labels("CAM-1").await.unwrap(),
        [("dock-a".to_string(), camera)]
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM bookmarks"), 1);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM gnss_points"),
        3,
        "a track sent again replaces the points"
    );
}

/// The force's register and what docks announce into it; controller users and their history.
async fn registry_force_and_dock_entries(env: Env) {
    let c = open(&env).await;
    let dock = add_dock(&c, "dock-a").await;
    let now = bwv::domain::now();
    let mut tx = c.begin().await.unwrap();
    tx.lock_register(Register::Officers).await.unwrap();
    assert!(
        tx.ensure_registered(Register::Officers, "4471", None, Some(dock))
            .await
            .unwrap()
    );
    assert!(
        !tx.ensure_registered(Register::Officers, "4471", Some("Someone"), None)
            .await
            .unwrap(),
        "an entry is untouched"
    );
    let o = tx.officer("4471").await.unwrap().expect("announced");
    assert_eq!(
        (o.display_name, o.active, o.registered_by, o.announced_by),
        (None, true, RegisteredBy::Dock, Some(dock))
    );
    assert!(
        tx.ensure_registered(Register::Cameras, "CAM-9", None, Some(dock))
            .await
            .unwrap()
    );
    // The force confirms the camera with its model; confirming again without one keeps it.
    tx.register(Register::Cameras, "CAM-9", Some("W110"))
        .await
        .unwrap();
    tx.register(Register::Cameras, "CAM-9", None).await.unwrap();
    let d = tx.device("CAM-9").await.unwrap().expect("registered");
    assert_eq!(
        (
            d.model.as_deref(),
            d.active,
            d.registered_by,
            d.announced_by
        ),
        (Some("W110"), true, RegisteredBy::Force, None)
    );
    assert!(tx.device("CAM-0").await.unwrap().is_none());
    tx.register(Register::Officers, "5120", Some("PC Jones"))
        .await
        .unwrap();
    tx.ensure_placeholders("unknown", "unknown").await.unwrap();
    tx.ensure_placeholders("unknown", "unknown").await.unwrap();
    assert_eq!(tx.registered_counts().await.unwrap(), (3, 2));

    let user = AxisUser {
        dock_id: dock,
        uuid: "u-1".into(),
        name: Some("Jane".into()),
        user_id: Some("4471".into()),
        active: true,
        officer_id: Some("4471".into()),
        updated_at: now,
    };
    let moved = AxisUser {
        user_id: Some("5120".into()),
        officer_id: Some("5120".into()),
        updated_at: now + Duration::seconds(1),
        ..user.clone()
    };
    assert!(!moved.same_as(&user));
    assert!(user.same_as(&AxisUser {
        updated_at: moved.updated_at,
        ..user.clone()
    }));
    tx.put_axis_user(&user).await.unwrap();
    tx.put_axis_user(&moved).await.unwrap();
    assert_eq!(
        tx.axis_user(dock, "u-1").await.unwrap(),
        Some(moved.clone())
    );
    assert_eq!(tx.axis_user(dock, "u-2").await.unwrap(), None);
    tx.commit().await.unwrap();

    assert_eq!(c.officer_active("4471").await.unwrap(), Some(true));
    assert_eq!(c.officer_active("unknown").await.unwrap(), Some(false));
    assert_eq!(c.officer_active("0000").await.unwrap(), None);
    assert_eq!(c.device_active("CAM-9").await.unwrap(), Some(true));
    assert_eq!(c.device_active("unknown").await.unwrap(), Some(false));
    let officers: Vec<String> = c
        .officers()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(officers, ["4471", "5120", "unknown"]);
    let devices: Vec<String> = c
        .devices()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.serial)
        .collect();
    assert_eq!(devices, ["CAM-9", "unknown"]);
    let jones = c.officer_row("5120").await.unwrap().expect("registered");
    assert_eq!(
        (jones.display_name.as_deref(), jones.registered_by),
        (Some("PC Jones"), RegisteredBy::Force)
    );
    assert_eq!(
        c.axis_users().await.unwrap(),
        [("dock-a".to_string(), moved.clone())]
    );
    assert_eq!(
        c.axis_user_history(dock, "u-1").await.unwrap(),
        [user, moved]
    );
}

/// A spelling no state knows (written by hand, or by a newer bwv) is an error naming it when
/// read back, never silently some other state.
async fn unknown_stored_values_are_errors(env: Env) {
    let c = open(&env).await;
    let a = add_recording(&c, sha(1)).await;
    let b = add_recording(&c, sha(2)).await;
    // `next_action` has no CHECK constraint: any text goes in.
    let next_action = format!(
        "UPDATE recordings SET next_action = 'mystery' WHERE id = {}",
        literal(&env, a)
    );
    env.sql(&next_action, &next_action);
    // `status` has one: an administrator gets past it by hand.
    let status = format!(
        "UPDATE recordings SET status = 'mystery' WHERE id = {}",
        literal(&env, b)
    );
    env.sql(
        &format!("PRAGMA ignore_check_constraints = ON; {status}"),
        &format!("ALTER TABLE recordings DROP CONSTRAINT recordings_status_check; {status}"),
    );
    for (id, state) in [(a, "RetentionAction"), (b, "RecordingStatus")] {
        let err = c
            .recording(id)
            .await
            .expect_err("an unknown spelling")
            .to_string();
        assert!(
            err.contains("\"mystery\"") && err.contains(state) && err.contains(&id.to_string()),
            "{err}"
        );
    }
    let err = c.recordings(10).await.expect_err("an unknown spelling");
    assert!(err.to_string().contains("\"mystery\""), "{err}");
    let mut tx = c.begin().await.unwrap();
    let err = tx
        .recording_status(b)
        .await
        .expect_err("an unknown spelling");
    assert_eq!(err.code(), Code::Catalogue);
    assert!(err.to_string().contains("\"mystery\""), "{err}");
    let err = tx.recording(a).await.expect_err("an unknown spelling");
    assert!(err.to_string().contains("\"mystery\""), "{err}");
}

on_both_backends!(
    async recordings_round_trip,
    log_appends_chain_and_prove,
    log_appends_many_in_one_transaction,
    audit_is_atomic_with_the_change,
    concurrent_writers_serialise,
    stalled_scans_leave_the_pool_to_others,
    scanned_batches_handed_back_are_filled_afresh,
    log_tables_refuse_edits,
    upgrade_turns_dock_writes_into_labels,
    cases_number_exhibits_by_schedule,
    classification_keeps_every_decision,
    disclosure_material_in_schedule_order,
    docks_tokens_and_revocation,
    holds_in_force_lapsed_and_released,
    jobs_listed_counted_and_leases_checked,
    media_settles_recordings_from_their_clips,
    plans_record_what_is_due,
    retention_reads_facts_and_keeps_answers,
    sweeps_delete_in_two_stages,
    uploads_count_what_is_unsent,
    axis_containers_objects_and_registry,
    registry_force_and_dock_entries,
    unknown_stored_values_are_errors
);
