//! Passwords: the policy a new password must meet, and argon2id hashing on a bounded blocking pool with
//! parameters calibrated at start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use subtle::ConstantTimeEq;
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
    memory: Arc<Memory>,
}

/// Argon2 working memory kept between hashes. Allocating and zeroing 19 MiB for every hash, and faulting
/// the fresh pages in, cost about a fifth of the CPU of a sign-in (docs/performance.md). At most one
/// buffer per core is kept; more concurrent hashes allocate their own.
#[derive(Default)]
struct Memory {
    spare: std::sync::Mutex<Vec<Vec<Block>>>,
}

impl Memory {
    fn run<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let reused = self.spare.lock().ok().and_then(|mut spare| {
            let i = spare.iter().position(|b| b.len() == blocks)?;
            Some(spare.swap_remove(i))
        });
        let mut buf = reused.unwrap_or_else(|| vec![Block::default(); blocks]);
        let out = f(&mut buf);
        let keep = std::thread::available_parallelism().map_or(1, usize::from);
        if let Ok(mut spare) = self.spare.lock()
            && spare.len() < keep
        {
            spare.push(buf);
        }
        out
    }
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
    let memory = Memory::default();
    let mut t = FLOOR_T;
    loop {
        let params =
            Params::new(FLOOR_M_KIB, t, 1, None).map_err(|e| HashError::Argon2(e.to_string()))?;
        // Once untimed, so the timed hash runs on warm memory as every later one will.
        hash_with(&params, b"calibration password", &memory)?;
        let start = Instant::now();
        hash_with(&params, b"calibration password", &memory)?;
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
            memory: Arc::default(),
        }
    }

    /// A hasher with fixed parameters.
    pub fn with_params(params: Params, concurrency: usize) -> Result<Hasher, HashError> {
        let h = Hasher::calibrated(Duration::ZERO, concurrency);
        let dummy = hash_with(&params, b"no such user, no such password", &h.memory)?;
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
        let memory = self.memory.clone();
        self.settled
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    let params = calibrate(target)?;
                    let dummy = hash_with(&params, b"no such user, no such password", &memory)?;
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
        let memory = self.memory.clone();
        tokio::task::spawn_blocking(move || hash_with(&params, &password, &memory)).await?
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
        let memory = self.memory.clone();
        // The stored hash carries its own parameters, so hashes made before a recalibration still verify.
        let ok =
            tokio::task::spawn_blocking(move || verify_with(&password, &stored, &memory)).await?;
        Ok(ok && known)
    }
}

fn argon_err(e: impl std::fmt::Display) -> HashError {
    HashError::Argon2(e.to_string())
}

/// A new PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) for `password`.
fn hash_with(params: &Params, password: &[u8], memory: &Memory) -> Result<String, HashError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    memory
        .run(params.block_count(), |blocks| {
            argon.hash_password_into_with_memory(password, &salt, &mut out, blocks)
        })
        .map_err(argon_err)?;
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(argon_err)?,
        salt: Some(Salt::new(&salt).map_err(argon_err)?),
        hash: Some(Output::new(&out).map_err(argon_err)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored` (argon2id only), compared in constant time.
fn verify_with(password: &[u8], stored: &str, memory: &Memory) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    if phc.algorithm != ARGON2ID_IDENT {
        return false;
    }
    let version = match phc.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&phc) else {
        return false;
    };
    let argon = Argon2::new(Algorithm::Argon2id, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let computed = memory.run(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password, salt, &mut out, blocks)
    });
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
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

    #[test]
    fn interoperates_with_the_reference_api() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(64, 2, 1, None).unwrap();
        let memory = Memory::default();
        // Ours verifies with argon2's own verifier…
        let ours = hash_with(&params, b"pass phrase", &memory).unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        assert!(
            reference
                .verify_password(b"pass phrase", ours.as_str())
                .is_ok()
        );
        // …and argon2's hashes verify with ours, on reused memory, twice.
        let theirs = reference.hash_password(b"pass phrase").unwrap().to_string();
        for _ in 0..2 {
            assert!(verify_with(b"pass phrase", &theirs, &memory));
            assert!(!verify_with(b"pass phrasE", &theirs, &memory));
        }
        let argon2i = theirs.replacen("$argon2id$", "$argon2i$", 1);
        assert!(
            !verify_with(b"pass phrase", &argon2i, &memory),
            "only argon2id"
        );
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
