//! Someone with the database file or a superuser login edits the record. `bwv audit verify` and
//! `bwv fsck` must notice every kind of edit and name what is wrong.

mod common;

use bwv::app::App;

use bwv::domain::Step;
use common::Env;

const SQLITE_UNGUARD: &str = "DROP TRIGGER tlog_leaf_no_update; DROP TRIGGER tlog_leaf_no_delete; \
     DROP TRIGGER tlog_hash_no_update; DROP TRIGGER tlog_hash_no_delete; \
     DROP TRIGGER tlog_checkpoint_no_update; DROP TRIGGER tlog_checkpoint_no_delete;";
const PG_UNGUARD: &str = "ALTER TABLE tlog_leaf DISABLE TRIGGER USER; \
     ALTER TABLE tlog_hash DISABLE TRIGGER USER; ALTER TABLE tlog_checkpoint DISABLE TRIGGER USER;";

/// Three recordings, one seen twice: five records, all checkpointed.
fn setup(env: &Env) {
    env.write("in/a.mp4", b"first clip");
    env.write("in/b.mp4", b"second clip");
    env.write("in/c.mp4", b"third clip");
    env.write("in/d.mp4", b"first clip");
    env.ok(&["ingest", "--officer", "4471", "--device", "CAM-1", "in"]);
    env.ok(&["audit", "verify"]);
    assert_eq!(env.count("SELECT COUNT(*) FROM tlog_leaf"), 4);
}

fn tamper(env: &Env, sqlite: &str, postgres: &str) {
    env.sql(
        &format!("{SQLITE_UNGUARD} {sqlite}"),
        &format!("{PG_UNGUARD} {postgres}"),
    );
}

/// Runs verify, insists it fails, and returns its report text.
fn verify_fails(env: &Env) -> String {
    let out = env.exits(1, &["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.starts_with("FAILED"), "{text}");
    text
}

fn first_problem(text: &str) -> String {
    text.lines()
        .find(|l| l.contains("first problem:"))
        .unwrap_or_default()
        .to_owned()
}

on_both_backends!(an_edited_record_is_named, |env: Env| {
    setup(&env);
    tamper(
        &env,
        "UPDATE tlog_leaf SET leaf = CAST(replace(CAST(leaf AS TEXT), '\"4471\"', '\"4472\"') AS BLOB) WHERE idx = 2;",
        "UPDATE tlog_leaf SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), '\"4471\"', '\"4472\"'), 'UTF8') WHERE idx = 2;",
    );
    let text = verify_fails(&env);
    assert!(
        first_problem(&text).contains("record 2: its bytes do not match its stored leaf hash"),
        "{text}"
    );
});

// An indexed column rewritten in another form than bwv writes (on SQLite, where the verifier
// reads a batch as one joined value, the batch is read again row by row): the edit is named.
on_both_backends!(an_indexed_column_in_another_form_is_named, |env: Env| {
    setup(&env);
    tamper(
        &env,
        "UPDATE tlog_leaf SET ts = '2020-01-01 00:00:00' WHERE idx = 2;",
        "UPDATE tlog_leaf SET ts = '2020-01-01 00:00:00+00' WHERE idx = 2;",
    );
    let text = verify_fails(&env);
    assert!(
        first_problem(&text)
            .contains("record 2: its indexed columns (event, item, seq, time) disagree"),
        "{text}"
    );
});

// SQLite keeps any type in any column: an item sequence rewritten as the text '2x' must not be
// read as the number 2 (which the record says) and pass. The batch is read row by row, and the
// value is refused.
#[test]
fn a_column_of_another_type_is_not_read_as_a_number() {
    let env = Env::sqlite();
    setup(&env);
    env.sql(
        &format!("{SQLITE_UNGUARD} UPDATE tlog_leaf SET item_seq = '1x' WHERE idx = 0;"),
        "",
    );
    let out = env.run(&["audit", "verify"]);
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        common::stderr(&out)
    );
    assert!(said.contains("item_seq"), "{said}");
}

// The same for the other two tables the verifier reads on SQLite: a stored tree hash of text
// is no hash (its slot is reported as altered), and a chain head row whose last index is text
// stops the check naming that column.
#[test]
fn head_rows_and_tree_hashes_of_another_type_are_not_taken() {
    let env = Env::sqlite();
    setup(&env);
    env.sql(
        &format!(
            "{SQLITE_UNGUARD} UPDATE tlog_hash SET hash = hex(substr(hash, 1, 16)) WHERE sidx = 0;"
        ),
        "",
    );
    let text = verify_fails(&env);
    assert!(
        first_problem(&text).contains("record 0: the stored tree hashes for it are wrong"),
        "{text}"
    );

    let env = Env::sqlite();
    setup(&env);
    env.sql(
        "UPDATE audit_items SET last_index = '3x' WHERE last_index = 3;",
        "",
    );
    let out = env.run(&["audit", "verify"]);
    assert!(!out.status.success());
    let said = common::stderr(&out);
    assert!(
        said.contains("chain head row") && said.contains("last_index"),
        "{said}"
    );
}

// On PostgreSQL the verifier reads the leaves as a binary COPY and decodes their columns
// itself: a time it cannot hold (`infinity`, which a timestamptz column takes) is
// refused naming the column, not read as some other time, and the check stops rather than pass.
#[test]
fn a_leaf_time_of_infinity_is_refused_naming_its_column() {
    let env = Env::postgres();
    setup(&env);
    tamper(
        &env,
        "",
        "UPDATE tlog_leaf SET ts = 'infinity' WHERE idx = 2;",
    );
    let out = env.run(&["audit", "verify"]);
    assert!(!out.status.success());
    let said = common::stderr(&out);
    assert!(
        said.contains("row 3, column ts") && said.contains("not a time"),
        "{said}"
    );
}

// On PostgreSQL a batch's stored hashes are read joined end to end. Hashes of the wrong length
// whose bytes still join up to the right ones (the first 31 bytes of one, its last byte moved to
// the front of the next) are named all the same, not read through the join as the true hashes.
#[test]
fn tree_hashes_split_across_their_rows_are_named() {
    let env = Env::postgres();
    setup(&env);
    tamper(
        &env,
        "",
        "ALTER TABLE tlog_hash DROP CONSTRAINT tlog_hash_hash_check; \
         UPDATE tlog_hash SET hash = CASE sidx WHEN 0 THEN substring(hash from 1 for 31) \
           ELSE (SELECT substring(h.hash from 32) FROM tlog_hash h WHERE h.sidx = 0) || hash END \
         WHERE sidx IN (0, 1);",
    );
    let text = verify_fails(&env);
    assert!(
        first_problem(&text).contains("record 0: the stored tree hashes for it are wrong"),
        "{text}"
    );
    assert!(
        text.contains("record 1: the stored tree hashes for it are wrong"),
        "{text}"
    );
    // Read row by row, the hashes that were not touched still land in their own slots.
    assert!(!text.contains("record 2:"), "{text}");
}

on_both_backends!(a_deleted_record_is_named, |env: Env| {
    setup(&env);
    tamper(
        &env,
        "DELETE FROM tlog_leaf WHERE idx = 1;",
        "DELETE FROM tlog_leaf WHERE idx = 1;",
    );
    let text = verify_fails(&env);
    assert!(
        first_problem(&text).contains("record 1: found index 2 where 1 belongs"),
        "{text}"
    );
});

on_both_backends!(a_truncated_log_is_caught_by_its_checkpoint, |env: Env| {
    setup(&env);
    tamper(
        &env,
        "DELETE FROM tlog_leaf WHERE idx = 3; UPDATE tlog_state SET size = 3;",
        "DELETE FROM tlog_leaf WHERE idx = 3; UPDATE tlog_state SET size = 3;",
    );
    let text = verify_fails(&env);
    assert!(
        text.contains("checkpoint at size 4 is beyond the log's 3 records"),
        "{text}"
    );
});

on_both_backends!(a_rolled_back_log_is_caught_by_the_signer, |env: Env| {
    setup(&env);
    // Erase everything the database knows, checkpoints included.
    let wipe = "DELETE FROM tlog_checkpoint; DELETE FROM tlog_hash; DELETE FROM tlog_leaf; \
                DELETE FROM audit_items; DELETE FROM sightings; DELETE FROM clips; DELETE FROM recordings; \
                UPDATE tlog_state SET size = 0, root = (SELECT root FROM tlog_state);";
    tamper(&env, wipe, wipe);
    let text = verify_fails(&env);
    assert!(
        text.contains(
            "the last tree the signer signed (size 4) is larger than the log's 0 records"
        ),
        "{text}"
    );
    // And the signer will not sign the rewritten history.
    env.write("new.mp4", b"after the wipe");
    let out = env.exits(1, &["ingest", "--officer", "1", "--device", "D", "new.mp4"]);
    assert!(
        common::stderr(&out).contains("not consistent with the last signed checkpoint"),
        "{}",
        common::stderr(&out)
    );
});

on_both_backends!(reordered_records_are_named, |env: Env| {
    setup(&env);
    let swap = "UPDATE tlog_leaf SET idx = 100 WHERE idx = 0; UPDATE tlog_leaf SET idx = 0 WHERE idx = 1; \
                UPDATE tlog_leaf SET idx = 1 WHERE idx = 100;";
    tamper(&env, swap, swap);
    let text = verify_fails(&env);
    assert!(first_problem(&text).contains("record 0:"), "{text}");
});

on_both_backends!(an_inserted_record_is_named, |env: Env| {
    setup(&env);
    let forge = "INSERT INTO tlog_leaf (idx, leaf, leaf_hash, item_id, item_seq, event, ts) \
                 SELECT 4, leaf, leaf_hash, item_id, 99, event, ts FROM tlog_leaf WHERE idx = 0; \
                 UPDATE tlog_state SET size = 5;";
    tamper(&env, forge, forge);
    let text = verify_fails(&env);
    assert!(first_problem(&text).contains("record 4:"), "{text}");
});

on_both_backends!(an_edited_catalogue_row_is_caught, |env: Env| {
    setup(&env);
    // Point the first recording's clip at another recording's bytes.
    let swap = "UPDATE clips SET sha256 = (SELECT sha256 FROM clips WHERE original_name = 'b.mp4') \
                WHERE original_name = 'a.mp4';";
    env.sql(swap, swap);
    let text = verify_fails(&env);
    assert!(
        text.contains("is in the catalogue but in no audit record of that recording"),
        "{text}"
    );
});

on_both_backends!(an_edited_or_missing_chain_head_is_named, |env: Env| {
    setup(&env);
    // The head rows appends extend: one made to skip a record, one removed, and one pointed
    // past the end of the log (verify reads it after the last record, and the log has not
    // grown since verify began, so nothing excuses it).
    let skew = "UPDATE audit_items SET event_count = event_count + 1 \
                WHERE item_id = (SELECT item_id FROM tlog_leaf WHERE idx = 0); \
                DELETE FROM audit_items WHERE item_id = (SELECT item_id FROM tlog_leaf WHERE idx = 1); \
                UPDATE audit_items SET last_index = 1000 \
                WHERE item_id = (SELECT item_id FROM tlog_leaf WHERE idx = 2);";
    tamper(&env, skew, skew);
    let text = verify_fails(&env);
    assert_eq!(
        text.matches("chain head row disagrees with its records")
            .count(),
        2,
        "{text}"
    );
    assert!(text.contains("has records but no chain head row"), "{text}");
});

on_both_backends!(
    edited_missing_and_stray_tree_hashes_are_named,
    |env: Env| {
        setup(&env);
        // Four leaves store hashes 0..7 (leaf 1's slot holds 1 and 2, leaf 3's 4, 5 and 6): one
        // rewritten, one removed, one added where no leaf's slot is.
        tamper(
            &env,
            "UPDATE tlog_hash SET hash = zeroblob(32) WHERE sidx = 5; DELETE FROM tlog_hash WHERE sidx = 2; \
         INSERT INTO tlog_hash (sidx, hash) VALUES (-1, zeroblob(32));",
            "UPDATE tlog_hash SET hash = decode(repeat('00', 32), 'hex') WHERE sidx = 5; \
         DELETE FROM tlog_hash WHERE sidx = 2; \
         INSERT INTO tlog_hash (sidx, hash) VALUES (-1, decode(repeat('00', 32), 'hex'));",
        );
        let text = verify_fails(&env);
        assert!(
            first_problem(&text).contains("record 1: the stored tree hashes for it are wrong"),
            "{text}"
        );
        assert!(
            text.contains("record 3: the stored tree hashes for it are wrong"),
            "{text}"
        );
        assert!(!text.contains("record 2:"), "{text}");
        assert!(
            text.contains("stored tree hash -1 belongs to no record: the tree was altered"),
            "{text}"
        );
    }
);

on_both_backends!(an_edited_checkpoint_fails_its_signature, |env: Env| {
    setup(&env);
    tamper(
        &env,
        "UPDATE tlog_checkpoint SET note = CAST(replace(CAST(note AS TEXT), char(10) || '4' || char(10), char(10) || '5' || char(10)) AS BLOB);",
        "UPDATE tlog_checkpoint SET note = convert_to(replace(convert_from(note, 'UTF8'), E'\\n4\\n', E'\\n5\\n'), 'UTF8');",
    );
    let text = verify_fails(&env);
    assert!(
        text.contains("checkpoint at size 4: checkpoint signature does not verify"),
        "{text}"
    );
});

on_both_backends!(fsck_reports_corrupt_and_missing_objects, |env: Env| {
    setup(&env);
    env.ok(&["fsck"]);
    let objects = env.stored_objects();
    env.corrupt_object(&objects[0], b"one bit is enough, but this is more");
    env.remove_object(&objects[1]);

    let out = env.exits(1, &["fsck"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("CORRUPT  sha256:{}", objects[0])),
        "{text}"
    );
    assert!(
        text.contains(&format!("MISSING  sha256:{}", objects[1])),
        "{text}"
    );
    let report = env.json_lines(1, &["fsck"]);
    assert_eq!(report[0]["corrupt"].as_array().unwrap().len(), 1);
    assert_eq!(report[0]["missing"].as_array().unwrap().len(), 1);
});

// The log grows while it is verified (a dock's upload lands mid-check): the new record is past
// what the check reads, and its item's head row, moved on to it, is not a disagreement.
// Without that allowance the recording seen again would be reported as a broken chain.
on_both_backends!(
    a_log_that_grows_while_it_is_verified_verifies,
    |env: Env| {
        setup(&env);
        let config = env.config();
        let mut again = env.cmd(&[
            "ingest",
            "--officer",
            "4471",
            "--device",
            "CAM-1",
            "in/a.mp4",
        ]);
        let report = common::block_on(move || async move {
            let app = App::open(config).await.expect("open");
            let keys = app.audit.trusted();
            let report = bwv::audit::verify::verify(
                &app.catalogue,
                app.audit.origin(),
                &keys,
                app.audit.last_signed().expect("signer state"),
                // Once the check has read the log's size, and before it reads a record: the
                // footage of a.mp4 arrives again, a sighting record on its recording.
                move |step| {
                    if let Step::Total(_) = step {
                        let out = again.output().expect("ingest again");
                        assert!(out.status.success(), "{}", common::stderr(&out));
                    }
                },
            )
            .await
            .expect("verify");
            app.finish().await.expect("close");
            report
        });
        assert!(report.ok, "{:?}", report.problems);
        assert_eq!(
            report.records, 4,
            "the check covers the log as it was when it began"
        );
        assert_eq!(env.count("SELECT COUNT(*) FROM tlog_leaf"), 5);
        env.ok(&["audit", "verify"]);
    }
);
