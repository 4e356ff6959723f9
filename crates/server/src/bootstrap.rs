//! First start: the operator's Partner Account, its first partner administrator, an API token for them, and a
//! one-time setup link — the welcome mail's kind of link, printed instead of mailed — with which they choose
//! the password of their first console sign-in.

use rand::Rng;
use skybridge_domain::account::{ACCOUNT_NUMBER_RANGE, AccountKind, AccountStatus};
use skybridge_domain::event::{Action, Actor, NewEvent};
use skybridge_domain::permissions::Base;
use skybridge_domain::policy::AccountScope;
use skybridge_domain::user::Source;
use skybridge_domain::{AccountId, TokenId, UserId, validate};
use skybridge_store::accounts::{self, AccountRow};
use skybridge_store::links::{self, Purpose};
use skybridge_store::tokens::{self, TokenRow};
use skybridge_store::users::{self, UserRow};
use skybridge_store::{Store, events, settings};

use crate::auth::{hash_token, new_secret, new_token};
use crate::clock::Clock;
use crate::config::Config;

/// What first start created; `None` when the store was already initialised.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    pub partner_id: AccountId,
    pub admin_id: UserId,
    pub admin_token: String,
    /// `{public_url}/auth/welcome?token=…`: single use, valid for `welcome_link_days`.
    pub setup_link: String,
}

const MARKER: &str = "bootstrapped_at";

pub async fn run(
    store: &Store,
    config: &Config,
    clock: &dyn Clock,
) -> anyhow::Result<Option<Bootstrapped>> {
    let admin_email =
        validate::email("admin_email", &config.admin_email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let operator =
        validate::required_text("operator_name", &config.operator_name, validate::NAME_MAX)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = store.begin().await?;
    // On PostgreSQL two nodes may start at once; the marker row makes exactly one of them bootstrap.
    if settings::get(&mut tx, MARKER).await?.is_some() {
        return Ok(None);
    }
    let now = clock.now_micros();
    settings::put(&mut tx, MARKER, &now.to_string()).await?;
    let partner_id = AccountId::new();
    let number = rand::rng().random_range(ACCOUNT_NUMBER_RANGE);
    accounts::insert(
        &mut tx,
        &AccountRow {
            id: partner_id.to_string(),
            number,
            kind: AccountKind::Partner.as_str().into(),
            partner_id: None,
            name: operator.clone(),
            country: String::new(),
            province: String::new(),
            address: String::new(),
            address2: None,
            city: String::new(),
            postal_code: String::new(),
            default_language: "en-US".into(),
            business_type: None,
            sap_customer_number: None,
            cloud_location: config.cloud_locations.first().cloned().unwrap_or_default(),
            pbx_type: None,
            status: AccountStatus::Active.as_str().into(),
            delegated_authentication: false,
            allow_guest_access: false,
            bandwidth_optimization: false,
            chat_allow_edit_delete: true,
            created_at: now,
            modified_at: now,
            modified_by: "System".into(),
        },
    )
    .await?;
    let scope = AccountScope::for_system(partner_id);
    let admin_id = UserId::new();
    let local = admin_email.split('@').next().unwrap_or("admin").to_string();
    users::insert(
        &mut tx,
        &scope,
        &UserRow {
            id: admin_id.to_string(),
            account_id: partner_id.to_string(),
            first_name: None,
            last_name: None,
            display_name: local,
            email: admin_email.clone(),
            login_id: None,
            mobile: None,
            extension: None,
            role: Base::Partner.as_str().into(),
            registered: false,
            source: Source::System.as_str().into(),
            active: true,
            restricted_manager: false,
            created_at: now,
            modified_at: now,
            modified_by: "System".into(),
        },
    )
    .await?;
    let (token, hash) = new_token();
    tokens::insert(
        &mut tx,
        &scope,
        &TokenRow {
            id: TokenId::new().to_string(),
            user_id: admin_id.to_string(),
            account_id: partner_id.to_string(),
            name: "first start".into(),
            prefix: token.chars().take(12).collect(),
            created_at: now,
            last_used_at: None,
            expires_at: None,
        },
        &hash,
    )
    .await?;
    // The first administrator has no password and no mail server may be configured yet: the welcome link,
    // printed, lets them choose one without a second command.
    let setup = new_secret();
    links::insert(
        &mut tx,
        &scope,
        admin_id,
        Purpose::Welcome,
        &hash_token(&setup),
        now,
        now + config.welcome_link_days * 86_400_000_000,
    )
    .await?;
    for event in [
        NewEvent::admin(
            partner_id,
            Actor::System,
            Action::Create,
            "Account",
            partner_id,
        )
        .detail("accountnumber", number)
        .detail("name", operator)
        .tag("bootstrap"),
        NewEvent::admin(partner_id, Actor::System, Action::Create, "User", admin_id)
            .detail("email", admin_email)
            .tag("bootstrap"),
    ] {
        events::insert(&mut tx, &event, "System", clock.now_micros()).await?;
    }
    tx.commit().await?;
    Ok(Some(Bootstrapped {
        partner_id,
        admin_id,
        admin_token: token,
        setup_link: format!("{}/auth/welcome?token={setup}", config.public_url()),
    }))
}
