//! Every kind of job a worker runs, by the name stored in `jobs.kind`: one function each. A new
//! kind adds its line here and its function in a file of its own.

use super::JobFn;

/// The kinds, by name.
const KINDS: &[(&str, JobFn)] = &[
    ("export", super::export::run),
    (
        fieldsurvey_api::console::dossier::VILLAGE_ZIP_KIND,
        super::village_dossiers::run,
    ),
];

/// The function of kind `name`.
pub fn find(name: &str) -> Option<JobFn> {
    KINDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Every kind's name (for the documentation and the API's validation).
pub fn names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(n, _)| *n)
}
