//! The people-facing API as each role meets it: every route walked by every role, against a
//! real OpenID Connect provider and `bwv serve`, on both catalogue backends. What a role may do
//! is written out here, independently of the server's own table, so a route that forgets to ask
//! (or asks for the wrong thing) fails.

mod common;

use std::path::Path;

use common::oidc::{Provider, play, user};
use common::{Env, Ingest};
use serde_json::{Value, json};

const ROLES: [&str; 6] = [
    "officer",
    "supervisor",
    "disclosure-officer",
    "records-manager",
    "auditor",
    "administrator",
];

const EVERYONE: &[&str] = &ROLES;
const DISCLOSURE: &[&str] = &["disclosure-officer"];
const RECORDS: &[&str] = &["records-manager"];
const AUDIT: &[&str] = &["auditor"];
const ADMIN: &[&str] = &["administrator"];
/// Those who classify footage (within their reach).
const CLASSIFIERS: &[&str] = &["supervisor", "disclosure-officer"];
/// Details of footage that is not theirs nor their team's: roles that reach everyone's.
const ALL_DETAILS: &[&str] = &["disclosure-officer", "records-manager"];
const SEARCHERS: &[&str] = &[
    "officer",
    "supervisor",
    "disclosure-officer",
    "records-manager",
];

/// Every route, with what it needs: (method, path, body, roles allowed).
fn routes(
    rec: &str,
    hold: &str,
    plan: &str,
) -> Vec<(&'static str, String, Value, &'static [&'static str])> {
    let r = |s: &str| s.replace("{rec}", rec);
    vec![
        ("GET", "/api/v1/me".into(), Value::Null, EVERYONE),
        ("GET", "/api/v1/tokens".into(), Value::Null, EVERYONE),
        (
            "GET",
            "/api/v1/tasks/00000000-0000-0000-0000-000000000000".into(),
            Value::Null,
            EVERYONE,
        ),
        (
            "GET",
            "/api/v1/recordings?limit=5".into(),
            Value::Null,
            SEARCHERS,
        ),
        (
            "POST",
            r("/api/v1/recordings/{rec}/consultations"),
            json!({"reason": "investigation", "detail": "walking the routes"}),
            ALL_DETAILS,
        ),
        (
            "GET",
            r("/api/v1/recordings/{rec}?consultation=$c"),
            Value::Null,
            ALL_DETAILS,
        ),
        (
            "GET",
            r("/api/v1/recordings/{rec}/clips/1/copy?consultation=$c"),
            Value::Null,
            DISCLOSURE,
        ),
        (
            "GET",
            r("/api/v1/recordings/{rec}/clips/1/poster?consultation=$c"),
            Value::Null,
            DISCLOSURE,
        ),
        (
            "GET",
            r("/api/v1/recordings/{rec}/clips/1/thumbstrip?consultation=$c"),
            Value::Null,
            DISCLOSURE,
        ),
        (
            "GET",
            r("/api/v1/recordings/{rec}/clips/1/original?consultation=$c"),
            Value::Null,
            DISCLOSURE,
        ),
        (
            "POST",
            r("/api/v1/recordings/{rec}/classification"),
            json!({"classification": "evidential", "reason": "shows the offence"}),
            DISCLOSURE,
        ),
        (
            "POST",
            "/api/v1/cases".into(),
            json!({"urn": "01AB2345626", "offence": "Assault", "oic": "9999"}),
            DISCLOSURE,
        ),
        (
            "GET",
            "/api/v1/cases/01AB2345626".into(),
            Value::Null,
            DISCLOSURE,
        ),
        (
            "PATCH",
            "/api/v1/cases/01AB2345626".into(),
            json!({"status": "charged"}),
            DISCLOSURE,
        ),
        (
            "POST",
            "/api/v1/cases/01AB2345626/exhibits".into(),
            json!({"recording": rec}),
            DISCLOSURE,
        ),
        (
            "GET",
            "/api/v1/cases/01AB2345626/schedules/mg6c".into(),
            Value::Null,
            DISCLOSURE,
        ),
        (
            "POST",
            "/api/v1/cases/01AB2345626/packages".into(),
            json!({"recipient": "CPS Direct"}),
            DISCLOSURE,
        ),
        (
            "GET",
            "/api/v1/packages/00000000-0000-0000-0000-000000000000/download".into(),
            Value::Null,
            DISCLOSURE,
        ),
        ("POST", "/api/v1/retention/plans".into(), json!({}), RECORDS),
        (
            "GET",
            format!("/api/v1/retention/plans/{plan}"),
            Value::Null,
            RECORDS,
        ),
        (
            "POST",
            format!("/api/v1/retention/plans/{plan}/approval"),
            Value::Null,
            RECORDS,
        ),
        (
            "POST",
            "/api/v1/retention/sweeps".into(),
            json!({"plan": plan}),
            RECORDS,
        ),
        (
            "GET",
            "/api/v1/retention/reviews".into(),
            Value::Null,
            RECORDS,
        ),
        (
            "POST",
            r("/api/v1/retention/reviews/{rec}"),
            json!({"decision": "dispose", "reason": "walking the routes"}),
            RECORDS,
        ),
        (
            "GET",
            r("/api/v1/retention/certificates/{rec}"),
            Value::Null,
            RECORDS,
        ),
        (
            "POST",
            "/api/v1/packages/00000000-0000-0000-0000-000000000000/shares".into(),
            json!({"recipient": "CPS, lawyer J. Smith", "days": 7}),
            DISCLOSURE,
        ),
        (
            "GET",
            "/api/v1/cases/01AB2345626/shares".into(),
            Value::Null,
            DISCLOSURE,
        ),
        (
            "POST",
            "/api/v1/shares/00000000-0000-0000-0000-000000000000/revocation".into(),
            Value::Null,
            DISCLOSURE,
        ),
        (
            "GET",
            "/api/v1/review-queue".into(),
            Value::Null,
            CLASSIFIERS,
        ),
        (
            "POST",
            r("/api/v1/recordings/{rec}/review-request"),
            json!({"reason": "walking the routes"}),
            ALL_DETAILS,
        ),
        ("GET", "/api/v1/holds".into(), Value::Null, RECORDS),
        (
            "POST",
            "/api/v1/holds".into(),
            json!({"target": rec, "reason": "IOPC"}),
            RECORDS,
        ),
        (
            "POST",
            format!("/api/v1/holds/{hold}/release"),
            json!({"reason": "IOPC done"}),
            RECORDS,
        ),
        (
            "GET",
            "/api/v1/audit/records?limit=5".into(),
            Value::Null,
            AUDIT,
        ),
        ("GET", r("/api/v1/audit/items/{rec}"), Value::Null, AUDIT),
        ("GET", "/api/v1/audit/status".into(), Value::Null, AUDIT),
        ("GET", "/api/v1/audit/verify".into(), Value::Null, AUDIT),
        (
            "GET",
            "/api/v1/audit/consultations".into(),
            Value::Null,
            AUDIT,
        ),
        ("GET", "/api/v1/docks".into(), Value::Null, ADMIN),
        (
            "POST",
            "/api/v1/docks".into(),
            json!({"name": "dock-walk"}),
            ADMIN,
        ),
        (
            "POST",
            "/api/v1/docks/dock-walk/secret".into(),
            Value::Null,
            ADMIN,
        ),
        (
            "POST",
            "/api/v1/docks/dock-walk/revocation".into(),
            Value::Null,
            ADMIN,
        ),
        ("GET", "/api/v1/officers".into(), Value::Null, ADMIN),
        (
            "POST",
            "/api/v1/officers".into(),
            json!({"id": "5120"}),
            ADMIN,
        ),
        (
            "PUT",
            "/api/v1/officers/5120/team".into(),
            json!({"team": "B"}),
            ADMIN,
        ),
        ("GET", "/api/v1/people".into(), Value::Null, ADMIN),
        (
            "PUT",
            "/api/v1/people/00000000-0000-0000-0000-000000000000/link".into(),
            json!({"team": "B"}),
            ADMIN,
        ),
    ]
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/media")
        .join(name)
}

/// Identity claims for staff number and team, and quick media jobs.
fn people_env(env: &mut Env, idp: &Provider) {
    env.sign_in_with(idp);
    for (k, v) in [
        ("BWV_IDENTITY__STAFF_NUMBER_CLAIM", "staff_number"),
        ("BWV_IDENTITY__TEAM_CLAIM", "team"),
        ("BWV_WORKER__X264_PRESET", "ultrafast"),
    ] {
        env.extra_env.push((k.into(), v.into()));
    }
}

on_both_backends!(every_route_allows_exactly_its_roles, |mut env: Env| {
    let idp = Provider::start();
    people_env(&mut env, &idp);
    // Footage of officer 9999, team B: nobody in the walk is that officer or in that team.
    let rec = env
        .ingest_path(&fixture("h264-aac.mp4"), &Ingest::new().officer("9999"))
        .id;
    env.sql(
        "UPDATE officers SET team = 'B' WHERE id = '9999'",
        "UPDATE officers SET team = 'B' WHERE id = '9999'",
    );
    env.ok(&["worker", "--drain"]);
    let hold = env.json_lines(0, &["hold", "place", &rec, "--reason", "walk"])[0]["hold"]
        .as_str()
        .unwrap()
        .to_owned();
    let plans = env.json_lines(0, &["retention", "plan"]);
    let plan = plans.last().unwrap()["plan"].as_str().unwrap().to_owned();
    let server = env.serve();
    let routes = routes(&rec, &hold, &plan);
    let mut refused = 0;
    for role in ROLES {
        let mut steps = vec![user(role, &[role], "4471", "A"), json!({"sign_in": role})];
        for (method, path, body, _) in &routes {
            let mut step = json!({"as": role, "method": method, "path": path});
            if !body.is_null() {
                step["json"] = body.clone();
            }
            if path.ends_with("/consultations") {
                step["save"] = json!({"c": "consultation"});
            }
            steps.push(step);
        }
        let results = play(&env, &server, &idp, &steps);
        assert_eq!(results.len(), steps.len(), "{role}: every step answered");
        for ((method, path, _, allowed), r) in routes.iter().zip(&results[2..]) {
            let status = r["status"].as_u64().unwrap();
            let may = allowed.contains(&role);
            assert!(
                status != 401,
                "{role} {method} {path}: not signed in: {r:#}"
            );
            if may {
                assert_ne!(status, 403, "{role} may {method} {path}: {r:#}");
            } else {
                assert_eq!(status, 403, "{role} may not {method} {path}: {r:#}");
                let message = r["body"]["error"]["message"].as_str().unwrap_or_default();
                assert_eq!(r["body"]["error"]["code"], "forbidden", "{r:#}");
                assert!(
                    message.starts_with("you may not") || message.contains("justification"),
                    "{role} {method} {path}: a refusal says why: {message}"
                );
                refused += 1;
            }
        }
    }
    // Every refusal is counted where professional standards can see it (and logged).
    let metrics = server.get("/metrics");
    let counted: f64 = metrics
        .lines()
        .find(|l| l.starts_with("bwv_api_refusals_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    assert_eq!(counted as usize, refused, "{metrics}");
    env.ok(&["audit", "verify"]);
});

on_both_backends!(
    officers_and_supervisors_reach_their_own_and_their_teams,
    |mut env: Env| {
        let idp = Provider::start();
        people_env(&mut env, &idp);
        let own = env.ingest("own.mp4", &Ingest::new().officer("4471")).id;
        let team = env.ingest("team.mp4", &Ingest::new().officer("5120")).id;
        let other = env.ingest("other.mp4", &Ingest::new().officer("9999")).id;
        env.sql(
            "UPDATE officers SET team = CASE id WHEN '9999' THEN 'B' ELSE 'A' END",
            "UPDATE officers SET team = CASE id WHEN '9999' THEN 'B' ELSE 'A' END",
        );
        let server = env.serve();
        let justify = |who: &str, rec: &str| {
            json!({"as": who, "method": "POST", "path": format!("/api/v1/recordings/{rec}/consultations"),
               "json": {"reason": "supervision"}})
        };
        let r = play(
            &env,
            &server,
            &idp,
            &[
                user("pc", &["officer"], "4471", "A"),
                user("sgt", &["supervisor"], "6001", "A"),
                json!({"sign_in": "pc"}),
                json!({"sign_in": "sgt"}),
                json!({"as": "pc", "path": "/api/v1/recordings"}),
                json!({"as": "sgt", "path": "/api/v1/recordings"}),
                justify("pc", &own),
                justify("pc", &team),
                justify("sgt", &team),
                justify("sgt", &other),
                json!({"as": "sgt", "path": "/api/v1/recordings?limit=1", "save": {"next": "next"}}),
                json!({"as": "sgt", "path": "/api/v1/recordings?limit=1&after=$next"}),
                json!({"as": "sgt", "path": "/api/v1/recordings?limit=1&after=nonsense"}),
                json!({"as": "sgt", "path": "/api/v1/recordings?officer=5120&colour=red"}),
            ],
        );
        let ids = |r: &Value| -> Vec<String> {
            r["body"]["recordings"]
                .as_array()
                .unwrap_or_else(|| panic!("{r:#}"))
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            ids(&r[4]),
            vec![own.clone()],
            "an officer finds their own footage only"
        );
        let mut sgt = ids(&r[5]);
        sgt.sort();
        let mut want = vec![own.clone(), team.clone()];
        want.sort();
        assert_eq!(sgt, want, "a supervisor finds their team's footage");
        assert_eq!(r[6]["status"], 201, "{:#}", r[6]);
        assert_eq!(r[7]["status"], 403, "{:#}", r[7]);
        assert!(
            r[7]["body"]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("your own footage")
        );
        assert_eq!(r[8]["status"], 201, "{:#}", r[8]);
        assert_eq!(r[9]["status"], 403, "{:#}", r[9]);
        // Pages follow on from their cursor; a forged cursor or an unknown filter is refused.
        assert_eq!(ids(&r[10]).len(), 1);
        assert_eq!(ids(&r[11]).len(), 1);
        assert_ne!(ids(&r[10]), ids(&r[11]));
        assert_eq!(r[12]["status"], 400, "{:#}", r[12]);
        assert_eq!(r[13]["status"], 400, "{:#}", r[13]);
        assert!(
            r[13]["body"]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("colour")
        );
    }
);

on_both_backends!(
    a_spoc_discloses_and_the_auditor_sees_every_consultation,
    |mut env: Env| {
        let idp = Provider::start();
        people_env(&mut env, &idp);
        let rec = env
            .ingest_path(
                &fixture("h264-aac.mp4"),
                &Ingest::new().officer("4471").category("Arrest"),
            )
            .id;
        env.ok(&["worker", "--drain"]);
        let server = env.serve();
        let spoc = "spoc";
        let as_spoc = |method: &str, path: String, body: Value| {
            let mut s = json!({"as": spoc, "method": method, "path": path});
            if !body.is_null() {
                s["json"] = body;
            }
            s
        };
        let copy = format!("/api/v1/recordings/{rec}/clips/1/copy?consultation=$c");
        let r = play(
            &env,
            &server,
            &idp,
            &[
                user(spoc, &["disclosure-officer"], "7001", "HQ"),
                user("psd", &["auditor"], "8001", "PSD"),
                json!({"sign_in": spoc}),
                as_spoc(
                    "GET",
                    "/api/v1/recordings?category=Arrest".into(),
                    Value::Null,
                ),
                // Nothing is shown without a justification.
                as_spoc("GET", format!("/api/v1/recordings/{rec}"), Value::Null),
                as_spoc(
                    "POST",
                    format!("/api/v1/recordings/{rec}/consultations"),
                    json!({"reason": "no-such-reason"}),
                ),
                {
                    let mut s = as_spoc(
                        "POST",
                        format!("/api/v1/recordings/{rec}/consultations"),
                        json!({"reason": "disclosure", "detail": "preparing the MG6 for CPS"}),
                    );
                    s["save"] = json!({"c": "consultation"});
                    s
                },
                as_spoc(
                    "GET",
                    format!("/api/v1/recordings/{rec}?consultation=$c"),
                    Value::Null,
                ),
                // A player: the first bytes, then seeking twice; one consultation.
                {
                    let mut s = as_spoc("GET", copy.clone(), Value::Null);
                    s["headers"] = json!({"Range": "bytes=0-99"});
                    s
                },
                {
                    let mut s = as_spoc("GET", copy.clone(), Value::Null);
                    s["headers"] = json!({"Range": "bytes=100-"});
                    s
                },
                {
                    let mut s = as_spoc("GET", copy.clone(), Value::Null);
                    s["headers"] = json!({"Range": "bytes=99999999-"});
                    s
                },
                as_spoc("GET", copy.clone(), Value::Null),
                // A case, the footage as its exhibit, and a package built in the background.
                as_spoc(
                    "POST",
                    "/api/v1/cases".into(),
                    json!({"urn": "01AB2345626", "offence": "Assault", "oic": "4471"}),
                ),
                as_spoc(
                    "POST",
                    "/api/v1/cases/01AB2345626/exhibits".into(),
                    json!({"recording": rec}),
                ),
                as_spoc(
                    "POST",
                    "/api/v1/cases/01AB2345626/packages".into(),
                    json!({}),
                ),
                {
                    let mut s = as_spoc(
                        "POST",
                        "/api/v1/cases/01AB2345626/packages".into(),
                        json!({"recipient": "CPS Direct", "purpose": "MG6 disclosure"}),
                    );
                    s["save"] = json!({"task": "id"});
                    s
                },
                {
                    let mut s = as_spoc("GET", "/api/v1/tasks/$task".into(), Value::Null);
                    s["until"] = json!({"state": "running"});
                    s["save"] = json!({"package": "result.package_id"});
                    s
                },
                as_spoc(
                    "GET",
                    "/api/v1/packages/$package/download".into(),
                    Value::Null,
                ),
                json!({"sign_in": "psd"}),
                json!({"as": "psd", "path": format!("/api/v1/audit/consultations?item={rec}")}),
                json!({"as": "psd", "path": "/api/v1/audit/consultations?format=csv"}),
                json!({"as": "psd", "path": format!("/api/v1/recordings/{rec}")}),
            ],
        );
        let found = r[3]["body"]["recordings"].as_array().unwrap();
        assert_eq!(found.len(), 1, "{:#}", r[3]);
        assert_eq!(r[4]["status"], 403, "{:#}", r[4]);
        assert!(
            r[4]["body"]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("justification")
        );
        assert_eq!(r[5]["status"], 400, "{:#}", r[5]);
        assert_eq!(r[6]["status"], 201, "{:#}", r[6]);
        assert_eq!(r[7]["status"], 200, "{:#}", r[7]);
        assert_eq!(r[7]["body"]["recording"]["id"], rec.as_str());
        // Ranges as a browser's player needs them.
        assert_eq!(r[8]["status"], 206, "{:#}", r[8]);
        assert_eq!(r[8]["length"], 100);
        let size = r[11]["length"].as_u64().unwrap();
        assert_eq!(
            r[8]["headers"]["content-range"],
            format!("bytes 0-99/{size}")
        );
        assert_eq!(r[8]["headers"]["accept-ranges"], "bytes");
        assert_eq!(r[8]["headers"]["content-type"], "video/mp4");
        assert_eq!(r[9]["status"], 206);
        assert_eq!(r[9]["length"].as_u64().unwrap(), size - 100);
        assert_eq!(r[10]["status"], 416, "{:#}", r[10]);
        assert_eq!(r[11]["status"], 200);
        assert!(
            r[11]["headers"]["cache-control"]
                .as_str()
                .unwrap()
                .contains("no-store")
        );
        // The package: refused without a recipient, built, then downloaded.
        assert_eq!(r[12]["status"], 201, "{:#}", r[12]);
        assert_eq!(r[13]["status"], 201, "{:#}", r[13]);
        assert_eq!(r[14]["status"], 400, "{:#}", r[14]);
        assert_eq!(r[15]["status"], 202, "{:#}", r[15]);
        assert_eq!(r[16]["body"]["state"], "succeeded", "{:#}", r[16]);
        assert!(r[16]["body"]["total"].as_u64().unwrap() > 0);
        assert_eq!(r[17]["status"], 200, "{:#}", r[17]);
        assert_eq!(r[17]["headers"]["content-type"], "application/zip");
        // The package verifies offline like any other.
        let zip = env.path("downloaded.zip");
        let package_id = r[16]["body"]["result"]["package_id"].as_str().unwrap();
        std::fs::copy(
            env.data_dir()
                .join("kept-packages")
                .join(package_id)
                .join("package.zip"),
            &zip,
        )
        .unwrap();
        assert_eq!(
            common::sha256_hex(&std::fs::read(&zip).unwrap()),
            r[17]["sha256"].as_str().unwrap()
        );
        let key = env.write("trust.key", env.ok(&["audit", "public-key"]).as_bytes());
        env.ok(&[
            "verify",
            zip.to_str().unwrap(),
            "--trust",
            key.to_str().unwrap(),
        ]);
        // The auditor sees each use once: details, playback (however many ranges), the package.
        let seen = r[19]["body"].as_array().unwrap();
        let mut uses: Vec<&str> = seen.iter().map(|c| c["what"].as_str().unwrap()).collect();
        uses.sort();
        assert_eq!(uses, ["details", "playback"], "{seen:#?}");
        for c in seen {
            assert_eq!(c["reason"], "disclosure");
            assert_eq!(c["detail"], "preparing the MG6 for CPS");
            assert!(c["actor"].as_str().unwrap().starts_with("person:"));
        }
        let csv = r[20]["sha256"].as_str().map(|_| ()).is_some();
        assert!(csv, "{:#}", r[20]);
        assert_eq!(r[20]["headers"]["content-type"], "text/csv; charset=utf-8");
        // An auditor reads the log, not the footage.
        assert_eq!(r[21]["status"], 403, "{:#}", r[21]);
        // In the audit log: one `consulted` record per use, and the package's with the recipient.
        assert_eq!(
            env.count("SELECT COUNT(*) FROM tlog_leaf WHERE event = 'consulted'"),
            3
        );
        let rows = env.json_lines(0, &["audit", "consultations", "--item", package_id]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["what"], "package-download");
        assert_eq!(rows[0]["case_urn"], "01AB2345626");
        let disclosed = env.json_lines(0, &["audit", "show", &rec]);
        let recipient = disclosed
            .iter()
            .find(|l| l["record"]["event"] == "disclosed")
            .map(|l| l["record"]["recipient"].clone());
        assert_eq!(recipient, Some(json!("CPS Direct")));
        // The free text is in the catalogue; the log holds only its hash.
        assert_eq!(
            env.count(
                "SELECT COUNT(*) FROM consultations WHERE detail = 'preparing the MG6 for CPS'"
            ),
            1
        );
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(
    two_person_rules_need_two_signed_in_people,
    |mut env: Env| {
        let idp = Provider::start();
        people_env(&mut env, &idp);
        for k in [
            "BWV_RETENTION__TWO_PERSON_APPROVAL",
            "BWV_RETENTION__TWO_PERSON_HOLD_RELEASE",
        ] {
            env.extra_env.push((k.into(), "true".into()));
        }
        let rec = env.ingest("held.mp4", &Ingest::new()).id;
        let server = env.serve();
        let step = |who: &str, method: &str, path: &str, body: Value| {
            let mut s = json!({"as": who, "method": method, "path": path});
            if !body.is_null() {
                s["json"] = body;
            }
            s
        };
        let with_token = |token: &str, method: &str, path: &str| json!({"token": token, "method": method, "path": path});
        let mut steps = vec![
            user("rm1", &["records-manager"], "6101", "HQ"),
            user("rm2", &["records-manager"], "6102", "HQ"),
            json!({"sign_in": "rm1"}),
            json!({"sign_in": "rm2"}),
        ];
        let mut make_plan = step("rm1", "POST", "/api/v1/retention/plans", json!({}));
        make_plan["save"] = json!({"plan": "id"});
        steps.push(make_plan);
        steps.extend([
            step(
                "rm1",
                "POST",
                "/api/v1/retention/plans/$plan/approval",
                Value::Null,
            ),
            {
                let mut s = step("rm1", "POST", "/api/v1/tokens", json!({"label": "one"}));
                s["save_token"] = json!("t1");
                s
            },
            {
                let mut s = step("rm1", "POST", "/api/v1/tokens", json!({"label": "two"}));
                s["save_token"] = json!("t2");
                s
            },
            with_token("t2", "POST", "/api/v1/retention/plans/$plan/approval"),
            {
                let mut s = with_token("t1", "POST", "/api/v1/holds");
                s["json"] = json!({"target": rec, "reason": "IOPC referral"});
                s["save"] = json!({"hold": "hold"});
                s
            },
            {
                let mut s = with_token("t2", "POST", "/api/v1/holds/$hold/release");
                s["json"] = json!({"reason": "done"});
                s
            },
            step(
                "rm2",
                "POST",
                "/api/v1/retention/plans/$plan/approval",
                Value::Null,
            ),
            step(
                "rm2",
                "POST",
                "/api/v1/retention/plans/$plan/approval",
                Value::Null,
            ),
        ]);
        let r = play(&env, &server, &idp, &steps);
        assert_eq!(r[4]["status"], 201, "{:#}", r[4]);
        let plan = r[4]["body"]["id"].as_str().unwrap().to_owned();
        assert_eq!(r[5]["status"], 403, "the maker cannot approve: {:#}", r[5]);
        assert_eq!(
            r[8]["status"], 403,
            "a second token is the same person: {:#}",
            r[8]
        );
        assert_eq!(r[9]["status"], 201, "{:#}", r[9]);
        let hold = r[9]["body"]["hold"].as_str().unwrap().to_owned();
        assert_eq!(
            r[10]["status"], 403,
            "the placer cannot lift it: {:#}",
            r[10]
        );
        assert_eq!(
            r[11]["status"], 200,
            "a second person approves: {:#}",
            r[11]
        );
        assert!(
            r[11]["body"]["approved_by"]
                .as_str()
                .unwrap()
                .starts_with("person:")
        );
        assert_eq!(r[12]["status"], 409, "once: {:#}", r[12]);
        // The machine's operator is no second person, whoever made the plan.
        let fresh = env.json_lines(0, &["--actor", "staff:1001", "retention", "plan"]);
        let fresh = fresh.last().unwrap()["plan"].as_str().unwrap().to_owned();
        assert_ne!(fresh, plan);
        let out = env.run(&["retention", "approve", &fresh]);
        assert!(!out.status.success());
        assert!(
            common::stderr(&out).contains("signed in to bwv"),
            "{}",
            common::stderr(&out)
        );
        let out = env.run(&["hold", "release", &hold, "--reason", "done"]);
        assert!(!out.status.success());
        assert!(
            common::stderr(&out).contains("signed in to bwv"),
            "{}",
            common::stderr(&out)
        );
        let r = play(
            &env,
            &server,
            &idp,
            &[
                json!({"sign_in": "rm2"}),
                json!({"as": "rm2", "method": "POST", "path": format!("/api/v1/holds/{hold}/release"),
                   "json": {"reason": "IOPC closed the referral"}}),
            ],
        );
        assert_eq!(r[1]["status"], 200, "{:#}", r[1]);
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(the_openapi_document_describes_every_route, |env: Env| {
    let server = env.serve();
    let raw = server.get("/api/v1/openapi.json");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{head}"
    );
    let doc: Value = serde_json::from_str(body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut described: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    described.sort();
    let mut want: Vec<String> = [
        "GET /api/v1/me",
        "GET /api/v1/tokens",
        "POST /api/v1/tokens",
        "DELETE /api/v1/tokens/{id}",
        "GET /api/v1/tasks/{id}",
        "GET /api/v1/recordings",
        "GET /api/v1/recordings/{id}",
        "POST /api/v1/recordings/{id}/consultations",
        "GET /api/v1/recordings/{id}/clips/{seq}/{kind}",
        "POST /api/v1/recordings/{id}/classification",
        "POST /api/v1/cases",
        "GET /api/v1/cases/{urn}",
        "PATCH /api/v1/cases/{urn}",
        "POST /api/v1/cases/{urn}/exhibits",
        "GET /api/v1/cases/{urn}/schedules/{form}",
        "POST /api/v1/cases/{urn}/packages",
        "GET /api/v1/packages/{id}/download",
        "POST /api/v1/packages/{id}/shares",
        "GET /api/v1/cases/{urn}/shares",
        "POST /api/v1/shares/{id}/revocation",
        "GET /api/v1/review-queue",
        "POST /api/v1/recordings/{id}/review-request",
        "POST /api/v1/retention/plans",
        "GET /api/v1/retention/plans/{id}",
        "POST /api/v1/retention/plans/{id}/approval",
        "POST /api/v1/retention/sweeps",
        "GET /api/v1/retention/reviews",
        "POST /api/v1/retention/reviews/{recording}",
        "GET /api/v1/retention/certificates/{recording}",
        "GET /api/v1/holds",
        "POST /api/v1/holds",
        "POST /api/v1/holds/{id}/release",
        "GET /api/v1/audit/records",
        "GET /api/v1/audit/items/{id}",
        "GET /api/v1/audit/status",
        "GET /api/v1/audit/verify",
        "GET /api/v1/audit/consultations",
        "GET /api/v1/docks",
        "POST /api/v1/docks",
        "POST /api/v1/docks/{name}/secret",
        "POST /api/v1/docks/{name}/revocation",
        "GET /api/v1/officers",
        "POST /api/v1/officers",
        "PUT /api/v1/officers/{id}/team",
        "GET /api/v1/people",
        "PUT /api/v1/people/{id}/link",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.sort();
    assert_eq!(described, want);
    // Every route says who may call it and what a refusal looks like.
    let search = &doc["paths"]["/api/v1/recordings"]["get"];
    let names: Vec<&str> = search["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "officer",
        "from",
        "until",
        "classification",
        "case",
        "text",
        "after",
        "limit",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(doc["components"]["schemas"]["Recording"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
});

on_both_backends!(
    the_command_line_logs_its_consultations_naming_the_operator,
    |env: Env| {
        let mine = env.ingest("a.mp4", &Ingest::new().officer("4471")).id;
        let theirs = env.ingest("b.mp4", &Ingest::new().officer("9999")).id;
        let listed = env.json_lines(0, &["recordings", "list", "--officer", "9999"]);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["id"], theirs.as_str());
        let page = env.json_lines(0, &["recordings", "list", "--limit", "1"]);
        let next = page[1]["next"].as_str().unwrap();
        let rest = env.json_lines(0, &["recordings", "list", "--limit", "1", "--after", next]);
        assert_eq!(
            rest[0]["id"],
            mine.as_str(),
            "the newest first, then the next"
        );
        // Nothing is shown without a reason; a reason must be one the force configured.
        env.exits(2, &["recordings", "show", &mine]);
        let err =
            common::stderr(&env.exits(1, &["recordings", "show", &mine, "--reason", "curious"]));
        assert!(err.contains("investigation"), "{err}");
        let err =
            common::stderr(&env.exits(1, &["recordings", "show", &mine, "--case", "01ZZ9999999"]));
        assert!(err.contains("no case"), "{err}");
        let detail = "PSD reference 2026-118";
        env.ok(&[
            "--actor",
            "staff:77",
            "recordings",
            "show",
            &mine,
            "--reason",
            "complaint",
            "--detail",
            detail,
        ]);
        let rows = env.json_lines(0, &["audit", "consultations", "--actor", "staff:77"]);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["what"], "details");
        assert_eq!(rows[0]["reason"], "complaint");
        assert_eq!(rows[0]["item_id"], mine.as_str());
        assert!(
            env.json_lines(0, &["audit", "consultations", "--item", &theirs])
                .is_empty()
        );
        let csv = env.ok(&["audit", "consultations", "--csv"]);
        let mut lines = csv.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("at,what,item_kind,item_id,actor,reason")
        );
        assert!(lines.next().unwrap().contains(detail));
        // The free text stays out of the log: only its hash is there.
        let in_log = match env.backend {
            common::Backend::Sqlite => {
                "SELECT COUNT(*) FROM tlog_leaf WHERE instr(CAST(leaf AS TEXT), 'PSD reference') > 0"
            }
            common::Backend::Postgres => {
                "SELECT COUNT(*) FROM tlog_leaf WHERE position('PSD reference'::bytea in leaf) > 0"
            }
        };
        assert_eq!(env.count(in_log), 0);
        assert_eq!(
            env.count("SELECT COUNT(*) FROM tlog_leaf WHERE event = 'consulted'"),
            1
        );
        env.ok(&["audit", "verify"]);
    }
);

on_both_backends!(
    packages_kept_for_download_are_removed_in_time,
    |mut env: Env| {
        let idp = Provider::start();
        people_env(&mut env, &idp);
        for (k, v) in [
            ("BWV_CONSULTATION__PACKAGE_DAYS", "0"),
            ("BWV_TUS__EXPIRY_SECS", "4"),
        ] {
            env.extra_env.push((k.into(), v.into()));
        }
        let rec = env
            .ingest_path(&fixture("h264-aac.mp4"), &Ingest::new().category("Arrest"))
            .id;
        env.ok(&["worker", "--drain"]);
        env.ok(&[
            "case",
            "open",
            "01AB2345626",
            "--offence",
            "Assault",
            "--oic",
            "4471",
        ]);
        env.ok(&["case", "link", "01AB2345626", &rec]);
        let server = env.serve();
        let r = play(
            &env,
            &server,
            &idp,
            &[
                user("spoc", &["disclosure-officer"], "7001", "HQ"),
                json!({"sign_in": "spoc"}),
                json!({"as": "spoc", "method": "POST", "path": "/api/v1/cases/01AB2345626/packages",
                   "json": {"recipient": "CPS Direct"}, "save": {"task": "id"}}),
                json!({"as": "spoc", "path": "/api/v1/tasks/$task", "until": {"state": "running"}}),
            ],
        );
        assert_eq!(r[3]["body"]["state"], "succeeded", "{:#}", r[3]);
        let id = r[3]["body"]["result"]["package_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let kept = env.data_dir().join("kept-packages").join(&id);
        common::wait_for(
            "the kept package to be removed",
            std::time::Duration::from_secs(20),
            || !kept.exists(),
        );
        let r = play(
            &env,
            &server,
            &idp,
            &[
                json!({"sign_in": "spoc"}),
                json!({"as": "spoc", "path": format!("/api/v1/packages/{id}/download")}),
                // The schedules as they stand, between packages.
                json!({"as": "spoc", "path": "/api/v1/cases/01AB2345626/schedules/mg6e"}),
                json!({"as": "spoc", "path": "/api/v1/cases/01AB2345626/schedules/mg6z"}),
            ],
        );
        assert_eq!(r[1]["status"], 404, "{:#}", r[1]);
        assert_eq!(r[2]["status"], 200, "{:#}", r[2]);
        assert_eq!(r[2]["headers"]["content-type"], "text/csv; charset=utf-8");
        assert!(r[2]["length"].as_u64().unwrap() > 0);
        assert_eq!(r[3]["status"], 404, "{:#}", r[3]);
    }
);
