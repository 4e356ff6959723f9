#![no_main]

use libfuzzer_sys::fuzz_target;
use skybridge_scim::path;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = path::parse(s);
    }
});
