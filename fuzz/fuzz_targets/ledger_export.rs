#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fieldsurvey_core::fuzzing::ledger_export(data);
});
