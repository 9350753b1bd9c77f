//! The worker side: the queue (RabbitMQ topology, outbox relay, in-process queue) and the staged
//! pipeline that validates a submission, checks its photos and signature, and signs it off.
//!
//! Owns: message handling and the order of stages. Domain rules live in `fieldsurvey-core`,
//! SQL in `fieldsurvey-db`.

pub mod handler;
pub mod jobs;
pub mod outbox_store;
pub mod pipeline;
pub mod queue;
