//! The relay's view of the database outbox.

use fieldsurvey_db::Db;

use crate::queue::{OutboxMessage, OutboxStore};

/// How long a claimed row is ours before another relay may take it (publishing a batch takes
/// milliseconds; a relay that died mid-batch holds rows no longer than this).
const LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

pub struct DbOutbox {
    pub db: Db,
    /// Names this process in `attention_log` when its sweep re-sends a message.
    pub actor: String,
}

impl OutboxStore for DbOutbox {
    async fn claim(&self, limit: usize) -> anyhow::Result<Vec<OutboxMessage>> {
        let rows = self
            .db
            .run(move |c| fieldsurvey_db::outbox::claim(c, limit as i64, LEASE))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| OutboxMessage {
                id: r.id,
                message_id: r.message_id,
                kind: r.kind.as_str().to_owned(),
                routing_key: r.routing_key,
                payload: r.payload.into_bytes(),
                request_id: r.request_id,
            })
            .collect())
    }

    async fn mark_sent(&self, ids: &[i64]) -> anyhow::Result<()> {
        let ids = ids.to_vec();
        self.db
            .run(move |c| fieldsurvey_db::outbox::mark_sent(c, &ids))
            .await?;
        Ok(())
    }

    async fn release(&self, ids: &[i64]) -> anyhow::Result<()> {
        let ids = ids.to_vec();
        self.db
            .run(move |c| fieldsurvey_db::outbox::release(c, &ids))
            .await?;
        Ok(())
    }

    async fn purge(
        &self,
        keep: std::time::Duration,
        after: i64,
        limit: usize,
    ) -> anyhow::Result<(usize, Option<i64>)> {
        let sent_before = fieldsurvey_db::now()
            - chrono::TimeDelta::from_std(keep).unwrap_or(chrono::TimeDelta::days(7));
        let step = self
            .db
            .run(move |c| fieldsurvey_db::outbox::purge_sent(c, sent_before, after, limit as i64))
            .await?;
        Ok((step.deleted, step.next))
    }

    async fn sweep(&self, after: std::time::Duration) -> anyhow::Result<usize> {
        let older_than = fieldsurvey_db::now()
            - chrono::TimeDelta::from_std(after).unwrap_or(chrono::TimeDelta::hours(1));
        let actor = self.actor.clone();
        let ids = self
            .db
            .run(move |c| fieldsurvey_db::attention::sweep(c, older_than, 1_000, &actor))
            .await?;
        for id in &ids {
            tracing::warn!(submission_id = %id, "its message was lost; sent again");
        }
        let after = chrono::TimeDelta::from_std(after).unwrap_or(chrono::TimeDelta::hours(1));
        let jobs = self
            .db
            .run(move |c| fieldsurvey_db::jobs::sweep(c, after, 1_000))
            .await?;
        for id in &jobs {
            tracing::warn!(job_id = %id, "its message was lost or its worker stopped; sent again");
        }
        Ok(ids.len() + jobs.len())
    }
}
