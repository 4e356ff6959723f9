//! Passwords: the policy a new password must meet, and argon2id hashing on a bounded blocking pool with
//! parameters calibrated at start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::{OnceCell, Semaphore};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("Password Requirements: Minimum {MIN_LEN} characters")]
    TooShort,
    #[error("the password must be at most {MAX_LEN} characters")]
    TooLong,
    #[error("the password must not be your e-mail address")]
    IsEmail,
    #[error("this password is too common; choose another")]
    Common,
}

/// Checks a new password: 8–128 characters, not the e-mail address, not a well-known password.
pub fn check_policy(password: &str, email: &str) -> Result<(), PolicyError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PolicyError::TooShort);
    }
    if len > MAX_LEN {
        return Err(PolicyError::TooLong);
    }
    let lower = password.to_lowercase();
    if lower == email.to_lowercase()
        || email
            .split('@')
            .next()
            .is_some_and(|local| lower == local.to_lowercase())
    {
        return Err(PolicyError::IsEmail);
    }
    if COMMON.contains(&lower.as_str()) {
        return Err(PolicyError::Common);
    }
    Ok(())
}

/// Frequent entries of public breach corpora that satisfy the length rule (shorter ones are refused anyway).
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "12345678910",
    "0123456789",
    "87654321",
    "11111111",
    "00000000",
    "99999999",
    "88888888",
    "12341234",
    "11223344",
    "123123123",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "qwertyui",
    "qwerty1234",
    "asdfghjkl",
    "asdfasdf",
    "zxcvbnm1",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "welcome123",
    "letmein1",
    "abc12345",
    "abcd1234",
    "abcdefgh",
    "trustno1",
    "superman",
    "starwars",
    "whatever",
    "dragon123",
    "michael1",
    "jennifer",
    "computer",
    "internet",
    "master123",
    "changeme",
    "changeme123",
    "administrator",
    "admin123",
    "admin1234",
    "adminadmin",
    "1234qwer",
    "qazwsxedc",
    "football1",
    "monkey123",
    "shadow123",
    "mustang1",
    "pokemon1",
    "liverpool",
    "chelsea1",
    "samsung1",
    "secret123",
    "q1w2e3r4",
    "q1w2e3r4t5",
    "zaq12wsx",
    "!qaz2wsx",
    "passpass",
    "test1234",
    "testtest",
    "summer2024",
    "winter2024",
    "spring2024",
    "autumn2024",
    "summer2025",
    "winter2025",
    "spring2025",
    "password!",
    "password2024",
    "password2025",
    "welcome2024",
    "welcome2025",
    "skybridge",
    "skybridge1",
    "mitel123",
];

/// argon2id hashing with a bound on how many hashes run at once, so a burst of sign-ins queues instead of
/// exhausting memory (each hash holds `m_cost` KiB) or starving the async workers.
#[derive(Clone)]
pub struct Hasher {
    target: Duration,
    /// Parameters and a dummy hash, settled on first use: calibrating at start would cost start-up time and
    /// leave the hash's memory resident in an idle server.
    settled: Arc<OnceCell<Settled>>,
    permits: Arc<Semaphore>,
}

struct Settled {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist, so that unknown and known
    /// users cost the same time.
    dummy: String,
}

/// The OWASP floor for argon2id: 19 MiB, 2 passes, 1 lane.
pub const FLOOR_M_KIB: u32 = 19 * 1024;
pub const FLOOR_T: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2: {0}")]
    Argon2(String),
    #[error("hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("hashing pool closed")]
    Closed,
}

/// Parameters at the floor, raised (more passes) until one hash takes about `target` on this machine.
/// Blocking: it hashes a few times.
pub fn calibrate(target: Duration) -> Result<Params, HashError> {
    let mut t = FLOOR_T;
    loop {
        let params =
            Params::new(FLOOR_M_KIB, t, 1, None).map_err(|e| HashError::Argon2(e.to_string()))?;
        let start = Instant::now();
        hash_with(&params, b"calibration password")?;
        let took = start.elapsed();
        if took >= target.mul_f64(0.8) || t >= 10 {
            return Ok(params);
        }
        // Time grows linearly with passes; jump close to the target, at least one pass.
        let per_pass = took.as_secs_f64() / f64::from(t);
        let wanted = (target.as_secs_f64() / per_pass.max(1e-6)).floor() as u32;
        t = wanted.clamp(t + 1, 10);
    }
}

impl Hasher {
    /// A hasher whose parameters are calibrated to `target` on first use.
    pub fn calibrated(target: Duration, concurrency: usize) -> Hasher {
        Hasher {
            target,
            settled: Arc::new(OnceCell::new()),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// A hasher with fixed parameters.
    pub fn with_params(params: Params, concurrency: usize) -> Result<Hasher, HashError> {
        let dummy = hash_with(&params, b"no such user, no such password")?;
        let h = Hasher::calibrated(Duration::ZERO, concurrency);
        let _ = h.settled.set(Settled { params, dummy });
        Ok(h)
    }

    /// Fast parameters (argon2's minimum) for test suites, where hashing cost is not under test.
    #[allow(clippy::expect_used)] // constant, valid parameters
    pub fn for_tests() -> Hasher {
        let params = Params::new(8, 1, 1, None).expect("argon2's minimum parameters are valid");
        Self::with_params(params, 2).expect("hashing with minimum parameters works")
    }

    async fn settled(&self) -> Result<&Settled, HashError> {
        let target = self.target;
        self.settled
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    let params = calibrate(target)?;
                    let dummy = hash_with(&params, b"no such user, no such password")?;
                    Ok::<_, HashError>(Settled { params, dummy })
                })
                .await?
            })
            .await
    }

    /// (m KiB, t, p) of the parameters in use, calibrating first if needed.
    pub async fn params(&self) -> Result<(u32, u32, u32), HashError> {
        let p = &self.settled().await?.params;
        Ok((p.m_cost(), p.t_cost(), p.p_cost()))
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let params = self.settled().await?.params.clone();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let password = password.as_bytes().to_vec();
        tokio::task::spawn_blocking(move || hash_with(&params, &password)).await?
    }

    /// Verifies `password` against `stored`; with no stored hash it verifies against a dummy so the time taken
    /// does not tell whether the user exists or has a password.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let dummy = self.settled().await?.dummy.clone();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let known = stored.is_some();
        let stored = stored.map_or(dummy, str::to_string);
        let password = password.as_bytes().to_vec();
        let ok = tokio::task::spawn_blocking(move || {
            // The stored hash carries its own parameters, so hashes made before a recalibration still verify.
            Argon2::default()
                .verify_password(&password, stored.as_str())
                .is_ok()
        })
        .await?;
        Ok(ok && known)
    }
}

fn hash_with(params: &Params, password: &[u8]) -> Result<String, HashError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(check_policy("short", "a@b.com"), Err(PolicyError::TooShort));
        assert_eq!(
            check_policy(&"x".repeat(129), "a@b.com"),
            Err(PolicyError::TooLong)
        );
        assert!(check_policy(&"x".repeat(128), "a@b.com").is_ok());
        assert_eq!(
            check_policy("Jane.Doe@Example.com", "jane.doe@example.com"),
            Err(PolicyError::IsEmail)
        );
        assert_eq!(
            check_policy("jane.doe", "jane.doe@example.com"),
            Err(PolicyError::IsEmail)
        );
        assert_eq!(
            check_policy("Password123", "a@b.com"),
            Err(PolicyError::Common)
        );
        assert!(check_policy("correct horse battery", "a@b.com").is_ok());
        assert_eq!(
            PolicyError::TooShort.to_string(),
            "Password Requirements: Minimum 8 characters"
        );
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = Hasher::for_tests();
        let stored = h.hash("correct horse battery").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"));
        assert!(
            h.verify("correct horse battery", Some(&stored))
                .await
                .unwrap()
        );
        assert!(
            !h.verify("wrong horse battery", Some(&stored))
                .await
                .unwrap()
        );
        assert!(
            !h.verify("correct horse battery", None).await.unwrap(),
            "no user never verifies"
        );
        assert!(!h.verify("x", Some("not a hash")).await.unwrap());
    }

    #[tokio::test]
    async fn calibration_respects_the_floor_and_happens_once() {
        let h = Hasher::calibrated(Duration::from_millis(1), 1);
        assert_eq!(h.params().await.unwrap(), (FLOOR_M_KIB, FLOOR_T, 1));
        let stored = h.hash("some long passphrase").await.unwrap();
        assert!(stored.contains("m=19456,t=2,p=1"), "{stored}");
        assert!(
            h.verify("some long passphrase", Some(&stored))
                .await
                .unwrap()
        );
    }
}
