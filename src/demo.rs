//! `dev --demo`: a demo prefecture built into the binary, one user per role with printed
//! passwords, and the fixtures' test signing key enrolled for the demo surveyor. Every step is
//! an upsert, so running it again changes nothing.

use anyhow::Result;
use fieldsurvey_db::Db;

use crate::commands::admin::{NewUser, create_user, enrol_key, issue_enrolment_code};
use crate::commands::import::{
    import_grids, import_households, import_org_units, record, record_grids,
};

const ORG_UNITS: &[u8] = include_bytes!("../demo/org-units.csv");
const HOUSEHOLDS: &[u8] = include_bytes!("../demo/households.csv");

/// The public half of the fixtures' Ed25519 test key (shared/fixtures/signing-vector.json).
/// Its private half is published: a demo key, never one for real surveys.
pub const DEMO_PUBLIC_KEY: &str = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";

pub struct DemoUser {
    pub username: &'static str,
    pub password: &'static str,
    pub role: &'static str,
    pub org: &'static str,
    pub name: &'static str,
}

pub const USERS: [DemoUser; 8] = [
    DemoUser {
        username: "surveyor1",
        password: "demo-surveyor1",
        role: "surveyor",
        org: "522732101000",
        name: "示例网格员一",
    },
    DemoUser {
        username: "surveyor2",
        password: "demo-surveyor2",
        role: "surveyor",
        org: "522732102000",
        name: "示例网格员二",
    },
    DemoUser {
        username: "township1",
        password: "demo-township1",
        role: "reviewer",
        org: "522732101000",
        name: "示例乡镇审核员",
    },
    DemoUser {
        username: "township2",
        password: "demo-township2",
        role: "reviewer",
        org: "522732102000",
        name: "示例乡镇审核员二",
    },
    DemoUser {
        username: "county1",
        password: "demo-county1",
        role: "reviewer",
        org: "522732000000",
        name: "示例县级审核员",
    },
    DemoUser {
        username: "prefecture1",
        password: "demo-prefecture1",
        role: "reviewer",
        org: "522700000000",
        name: "示例州级审核员",
    },
    DemoUser {
        username: "auditor1",
        password: "demo-auditor1",
        role: "auditor",
        org: "522700000000",
        name: "示例纪委审计员",
    },
    DemoUser {
        username: "admin1",
        password: "demo-admin1",
        role: "admin",
        org: "522700000000",
        name: "示例管理员",
    },
];

/// The demo surveyors' grids (包干到人): surveyor1 the villages 522732101201 and …202,
/// surveyor2 the villages of township 522732102000; village 522732101203 and the other county's
/// households are left to nobody, so coverage shows households without a grid. A household
/// already given a surveyor (a reviewer may have moved it) is left as it is. Returns how many
/// households were given one.
fn demo_grids(db: &Db, ledger_key: &fieldsurvey_core::ledger::LedgerKey) -> Result<usize> {
    let mut conn = db.get()?;
    let mut csv = String::from("household_code,username\n");
    let mut n = 0;
    for line in String::from_utf8_lossy(HOUSEHOLDS).lines().skip(1) {
        let Some(code) = line.split(',').next() else {
            continue;
        };
        let surveyor = if code.starts_with("522732101201") || code.starts_with("522732101202") {
            "surveyor1"
        } else if code.starts_with("522732102") {
            "surveyor2"
        } else {
            continue;
        };
        if fieldsurvey_db::grids::responsible(&mut conn, code)?.is_none() {
            csv.push_str(&format!("{code},{surveyor}\n"));
            n += 1;
        }
    }
    if n == 0 {
        return Ok(0);
    }
    let operator = crate::wiring::operator();
    let (summary, changed) = import_grids(db, csv.as_bytes(), &operator)?;
    record_grids(db, ledger_key, &summary, changed, &operator)?;
    Ok(summary.imported)
}

pub fn load(
    db: &Db,
    ledger_key: &fieldsurvey_core::ledger::LedgerKey,
    pii: &fieldsurvey_core::pii::PiiKey,
    listen: &str,
) -> Result<()> {
    let orgs = import_org_units(db, ORG_UNITS)?;
    record(db, ledger_key, "org_units", &orgs)?;
    let households = import_households(db, pii, HOUSEHOLDS)?;
    record(db, ledger_key, "households", &households)?;
    let mut conn = db.get()?;
    for u in &USERS {
        // Added once, on record; a demo user already there is left as it is.
        if fieldsurvey_db::users::by_username(&mut conn, u.username)?.is_none() {
            create_user(
                db,
                ledger_key,
                NewUser {
                    username: u.username,
                    role: u.role,
                    org: u.org,
                    name: Some(u.name.to_owned()),
                    password: u.password,
                },
            )?;
        }
    }
    let key_id = enrol_key(db, ledger_key, "surveyor1", DEMO_PUBLIC_KEY)?;
    let grids = demo_grids(db, ledger_key)?;
    println!(
        "demo data: {} org units, {} households, {} given a responsible surveyor",
        orgs.imported, households.imported, grids
    );
    println!("demo logins (POST http://{listen}/api/v1/auth/login):");
    for u in &USERS {
        println!(
            "  {:<10} {:<15} {:<9} at {}",
            u.username, u.password, u.role, u.org
        );
    }
    println!(
        "surveyor1's enrolled test key: {key_id} (private key in shared/fixtures/signing-vector.json)"
    );
    // Reviewers sign their decisions with a key their browser makes; each gets a one-time code
    // to enrol it (console → 签名密钥) until they have one.
    let mut codes = Vec::new();
    for u in USERS.iter().filter(|u| u.role != "surveyor") {
        let user = fieldsurvey_db::users::by_username(&mut conn, u.username)?;
        if let Some(user) = user
            && fieldsurvey_db::keys::live_for(&mut conn, &user.id)?.is_empty()
        {
            codes.push((
                u.username,
                issue_enrolment_code(db, ledger_key, u.username)?.code,
            ));
        }
    }
    if !codes.is_empty() {
        println!("key-enrolment codes (console → 签名密钥; one-time, 24 h):");
        for (username, code) in codes {
            println!("  {username:<10} {code}");
        }
    }
    // Each surveyor may enrol a phone in the field app (/app/): a fresh code every start.
    println!("field-app phone enrolment codes (/app/; one-time, 24 h):");
    for u in USERS.iter().filter(|u| u.role == "surveyor") {
        let code = issue_enrolment_code(db, ledger_key, u.username)?.code;
        println!("  {:<10} {code}", u.username);
    }
    Ok(())
}
