#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = fieldsurvey_api::fuzzing::multipart(data);
});
