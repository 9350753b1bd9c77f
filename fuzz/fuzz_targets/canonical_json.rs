#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsurvey_core::fuzzing::canonical_round_trip(data);
});
