pub mod keys;
pub mod password;
pub mod pkce;
pub mod secret_box;
pub mod totp;
