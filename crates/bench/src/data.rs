//! The seeded data set: customer accounts under the operator's Partner Account, their users, and their
//! event history, generated deterministically and written straight into the store.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use skybridge_store::Store;
use skybridge_store::accounts::{self, AccountRow};
use skybridge_store::seed::{self, SeedEvent};
use skybridge_store::users::UserRow;
use uuid::{NoContext, Timestamp, Uuid};

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Margaret",
    "Ahmed",
    "Fatima",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Olga",
    "Ivan",
    "Lucía",
    "Mateo",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
];
const COMPANY_WORDS: &[&str] = &[
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Adventure",
    "Wide World",
    "Blue Yonder",
    "Coho",
    "Alpine",
    "Proseware",
    "Lucerne",
    "Margie's",
    "Trey",
    "Woodgrove",
    "Humongous",
];
const COMPANY_KINDS: &[&str] = &[
    "Logistics",
    "Dental",
    "Law Group",
    "Hotels",
    "Motors",
    "Insurance",
    "Clinic",
    "Foods",
    "Partners",
    "Bank",
];
const PLACES: &[(&str, &str, &str, &str)] = &[
    ("US", "CA", "San Francisco", "94105"),
    ("US", "NY", "New York", "10001"),
    ("US", "TX", "Austin", "73301"),
    ("CA", "ON", "Ottawa", "K1P 1J1"),
    ("GB", "ENG", "London", "EC1A 1BB"),
    ("DE", "BE", "Berlin", "10115"),
    ("FR", "IDF", "Paris", "75001"),
    ("AU", "NSW", "Sydney", "2000"),
];
const STREETS: &[&str] = &[
    "Main St",
    "Market St",
    "High Street",
    "King St",
    "Station Rd",
    "Park Ave",
];
const SOURCES: &[(&str, u32)] = &[
    ("console", 50),
    ("api", 15),
    ("import", 15),
    ("scim", 10),
    ("pbx", 10),
];
/// Assets of the event history, with weights.
const ASSETS: &[(&str, u32)] = &[
    ("User", 35),
    ("Account", 8),
    ("Role", 4),
    ("Integration", 4),
    ("Phone", 10),
    ("User License", 10),
    ("Group", 5),
    ("Group Membership", 6),
    ("DID", 5),
    ("PBX User Profile", 6),
    ("API Token", 4),
    ("Account Manager", 3),
];
const ACTIONS: &[(&str, u32)] = &[
    ("Create", 25),
    ("Edit", 45),
    ("Delete", 10),
    ("License Assignment", 10),
    ("License Configuration Update", 5),
    ("License Removal", 5),
];
const EVENT_TYPES: &[(&str, u32)] = &[("Admin", 70), ("MiVB", 20), ("Service Delivery", 10)];
const TAG_SETS: &[&[&str]] = &[
    &["user"],
    &["license"],
    &["bulk", "import"],
    &["scim"],
    &["mivb", "sync"],
];
const EDITABLE: &[&str] = &[
    "display_name",
    "email",
    "extension",
    "mobile",
    "role",
    "first_name",
    "last_name",
    "active",
];

/// Search terms for the user list: parts of names and e-mail domains, as someone would type them.
pub const SEARCH_TERMS: &[&str] = &[
    "smi", "john", "lee", "mar", "son", "garc", "wei", "an", "ez", "tho",
];

const YEAR_MICROS: i64 = 365 * 24 * 3600 * 1_000_000;
const EVENT_BATCH: usize = 10_000;

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn weighted<'a>(rng: &mut StdRng, items: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (v, w) in items {
        if x < *w {
            return v;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// A UUIDv7 whose timestamp is `micros`, like the ids the server mints at that time.
fn v7_at(micros: i64) -> String {
    let micros = micros.max(0) as u64;
    let ts = Timestamp::from_unix(
        NoContext,
        micros / 1_000_000,
        ((micros % 1_000_000) * 1000) as u32,
    );
    Uuid::new_v7(ts).to_string()
}

pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// What to seed.
#[derive(Debug, Clone)]
pub struct Plan {
    pub accounts: usize,
    pub users_per_account: usize,
    /// Events of the big account (the first customer account).
    pub big_events: usize,
    /// Events of each other customer account.
    pub events_per_other_account: usize,
}

/// A seeded user, as the event generator needs it.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    name: String,
    email: String,
}

/// What was seeded and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Seeded {
    #[serde(skip)]
    pub account_ids: Vec<String>,
    pub big_account_id: String,
    pub accounts: u64,
    pub users: u64,
    pub events: u64,
    pub big_account_events: u64,
    pub tagged_events: u64,
    pub accounts_secs: f64,
    pub users_secs: f64,
    pub events_secs: f64,
    pub total_secs: f64,
}

pub async fn seed(store: &Store, partner_id: &str, plan: &Plan) -> anyhow::Result<Seeded> {
    anyhow::ensure!(plan.accounts > 0, "--accounts must be at least 1");
    let mut rng = StdRng::seed_from_u64(0x5eed_b1d9e);
    let now = now_micros();
    let started = Instant::now();

    // Accounts.
    let mut rows = Vec::with_capacity(plan.accounts);
    let mut number = 200_000_000i64;
    let mut handle = store.handle().await?;
    for i in 0..plan.accounts {
        // Skip the Partner Account's random number.
        while accounts::number_taken(&mut handle, number).await? {
            number += 1;
        }
        let created = now - YEAR_MICROS - rng.random_range(0..YEAR_MICROS);
        let (country, province, city, postal) = *pick(&mut rng, PLACES);
        rows.push(AccountRow {
            id: v7_at(created),
            number,
            kind: "customer".into(),
            partner_id: Some(partner_id.to_string()),
            name: format!(
                "{} {} {:04}",
                pick(&mut rng, COMPANY_WORDS),
                pick(&mut rng, COMPANY_KINDS),
                i
            ),
            country: country.into(),
            province: province.into(),
            address: format!("{} {}", rng.random_range(1..2000), pick(&mut rng, STREETS)),
            address2: rng
                .random_bool(0.2)
                .then(|| format!("Suite {}", rng.random_range(100..999))),
            city: city.into(),
            postal_code: postal.into(),
            default_language: "en-US".into(),
            business_type: None,
            sap_customer_number: None,
            cloud_location: "North America".into(),
            pbx_type: None,
            status: "active".into(),
            delegated_authentication: false,
            allow_guest_access: rng.random_bool(0.3),
            bandwidth_optimization: false,
            chat_allow_edit_delete: true,
            created_at: created,
            modified_at: created,
            modified_by: "Bench Seeder".into(),
        });
        number += 1;
    }
    drop(handle);
    let n_accounts = seed::accounts(store, &rows).await?;
    let accounts_secs = started.elapsed().as_secs_f64();
    let account_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let account_created: Vec<i64> = rows.iter().map(|r| r.created_at).collect();
    drop(rows);

    // Users, 100 per account by default; the first is an account admin.
    let t = Instant::now();
    let mut people: Vec<Vec<Person>> = Vec::with_capacity(plan.accounts);
    let mut n_users = 0;
    for (chunk_start, ids) in account_ids.chunks(100).enumerate() {
        let mut users = Vec::with_capacity(ids.len() * plan.users_per_account);
        for (k, account) in ids.iter().enumerate() {
            let a = chunk_start * 100 + k;
            let domain = format!("customer{a:04}.example.com");
            let mut persons = Vec::with_capacity(plan.users_per_account);
            for j in 0..plan.users_per_account {
                let first = *pick(&mut rng, FIRST_NAMES);
                let last = *pick(&mut rng, LAST_NAMES);
                let display = format!("{first} {last}");
                let email = format!(
                    "{}.{}{j}@{domain}",
                    first.to_lowercase(),
                    last.to_lowercase()
                );
                let created = account_created[a] + rng.random_range(0..YEAR_MICROS);
                let id = v7_at(created);
                users.push(UserRow {
                    id: id.clone(),
                    account_id: account.clone(),
                    first_name: Some(first.into()),
                    last_name: Some(last.into()),
                    display_name: display.clone(),
                    email: email.clone(),
                    login_id: None,
                    mobile: rng
                        .random_bool(0.5)
                        .then(|| format!("+1415555{:04}", rng.random_range(0..10_000))),
                    extension: Some(format!("{}", 2000 + j)),
                    role: if j == 0 { "account_admin" } else { "user" }.into(),
                    registered: rng.random_bool(0.7),
                    source: weighted(&mut rng, SOURCES).into(),
                    active: rng.random_bool(0.95),
                    restricted_manager: false,
                    created_at: created,
                    modified_at: created,
                    modified_by: "Bench Seeder".into(),
                });
                persons.push(Person {
                    id,
                    name: display,
                    email,
                });
            }
            people.push(persons);
        }
        n_users += seed::users(store, &users).await?;
    }
    let users_secs = t.elapsed().as_secs_f64();

    // Events: all of `big_events` in the first account, a few in each other account; in time order over
    // the last year, as an append-only log grows.
    let t = Instant::now();
    let mut n_events = 0;
    let mut tagged = 0;
    let mut batch = Vec::with_capacity(EVENT_BATCH);
    let start = now - YEAR_MICROS;
    let big = plan.big_events.max(1) as i64;
    for i in 0..plan.big_events {
        let at = start + (i as i64) * YEAR_MICROS / big + rng.random_range(0..1000);
        batch.push(event(&mut rng, &account_ids[0], &people[0], at));
        if batch.len() == EVENT_BATCH {
            tagged += batch.iter().filter(|e| !e.tags.is_empty()).count() as u64;
            n_events += seed::events(store, &batch).await?;
            batch.clear();
        }
    }
    let big_account_events = n_events + batch.len() as u64;
    for (a, account) in account_ids.iter().enumerate().skip(1) {
        for _ in 0..plan.events_per_other_account {
            let at = start + rng.random_range(0..YEAR_MICROS);
            batch.push(event(&mut rng, account, &people[a], at));
            if batch.len() == EVENT_BATCH {
                tagged += batch.iter().filter(|e| !e.tags.is_empty()).count() as u64;
                n_events += seed::events(store, &batch).await?;
                batch.clear();
            }
        }
    }
    tagged += batch.iter().filter(|e| !e.tags.is_empty()).count() as u64;
    n_events += seed::events(store, &batch).await?;
    let events_secs = t.elapsed().as_secs_f64();

    Ok(Seeded {
        big_account_id: account_ids.first().cloned().context("no account seeded")?,
        account_ids,
        accounts: n_accounts,
        users: n_users,
        events: n_events,
        big_account_events,
        tagged_events: tagged,
        accounts_secs,
        users_secs,
        events_secs,
        total_secs: started.elapsed().as_secs_f64(),
    })
}

fn event(rng: &mut StdRng, account: &str, people: &[Person], at: i64) -> SeedEvent {
    let asset = weighted(rng, ASSETS);
    let action = weighted(rng, ACTIONS);
    let event_type = weighted(rng, EVENT_TYPES);
    let subject = (!people.is_empty()).then(|| &people[rng.random_range(0..people.len())]);
    let (actor_kind, actor_id, actor_name) = match (rng.random_range(0..100), people.first()) {
        (0..85, Some(_)) => {
            // Mostly the account's admins; anyone now and then.
            let p = if rng.random_bool(0.7) {
                &people[0]
            } else {
                &people[rng.random_range(0..people.len())]
            };
            ("user", p.id.clone(), p.name.clone())
        }
        (85..95, _) | (_, None) => ("system", "system".to_string(), "System".to_string()),
        _ => ("scim", "scim".to_string(), "SCIM".to_string()),
    };
    let (asset_id, core) = match (asset, subject) {
        ("User", Some(p)) => (
            p.id.clone(),
            serde_json::json!({ "fullname": p.name, "email": p.email }),
        ),
        _ => (
            v7_at(at - rng.random_range(0..YEAR_MICROS / 4)),
            serde_json::json!({ "name": format!("{asset} {}", rng.random_range(1..5000)) }),
        ),
    };
    let changed: Vec<&str> = match action {
        "Create" => vec!["first_name", "last_name", "email", "role"],
        "Edit" => {
            let n = rng.random_range(1..=3);
            (0..n).map(|_| *pick(rng, EDITABLE)).collect()
        }
        "Delete" => vec![],
        _ => vec!["license"],
    };
    let tags: Vec<String> = if rng.random_bool(0.4) {
        pick(rng, TAG_SETS).iter().map(|t| t.to_string()).collect()
    } else {
        Vec::new()
    };
    let extra = (event_type == "MiVB").then(|| {
        serde_json::json!({ "mivb_node": format!("mivb-{}", rng.random_range(1..9)) }).to_string()
    });
    SeedEvent {
        id: v7_at(at),
        account_id: account.to_string(),
        occurred_at: at,
        actor_kind: actor_kind.into(),
        actor_id,
        actor_name,
        action: action.into(),
        event_type: event_type.into(),
        asset: asset.into(),
        asset_id,
        properties_changed: serde_json::json!(changed).to_string(),
        core_details: core.to_string(),
        extra_details: extra,
        tags,
    }
}
