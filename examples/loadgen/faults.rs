//! The soak's faults (`loadgen soak`): what it does to the deployment, on a seeded schedule.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::deploy::{Deployment, fill_disk, pg_cluster, run_tool};
use crate::{BoxError, Rng};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    KillApi,
    KillWorker,
    KillAll,
    CutDatabase,
    CutBroker,
    StopBroker,
    RestartDatabase,
    DiskFull,
}

impl Fault {
    const ALL: [Fault; 8] = [
        Fault::KillApi,
        Fault::KillWorker,
        Fault::KillAll,
        Fault::CutDatabase,
        Fault::CutBroker,
        Fault::StopBroker,
        Fault::RestartDatabase,
        Fault::DiskFull,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::KillApi => "api_killed",
            Fault::KillWorker => "worker_killed",
            Fault::KillAll => "all_killed",
            Fault::CutDatabase => "db_cut",
            Fault::CutBroker => "broker_cut",
            Fault::StopBroker => "broker_stopped",
            Fault::RestartDatabase => "db_restarted",
            Fault::DiskFull => "disk_full",
        }
    }
}

pub struct FaultPlan {
    pub every: f64,
    pub seed: u64,
    pub restarts: bool,
}

/// Inject faults until the load is over and every kind has come up once, each kind in turn
/// from a shuffled deck, each at a random gap; between faults, processes that died on their own are
/// started again. Everything is restored before it returns.
pub fn inject(
    plan: FaultPlan,
    d: &Deployment,
    loading: &AtomicBool,
) -> Result<Vec<Fault>, BoxError> {
    let (pg, amqp) = (&d.pg_proxy, &d.amqp_proxy);
    let mut rng = Rng::new(plan.seed ^ 0x000F_A017);
    let kinds: Vec<Fault> = Fault::ALL
        .into_iter()
        .filter(|f| plan.restarts || !matches!(f, Fault::StopBroker | Fault::RestartDatabase))
        .collect();
    let cluster = pg_cluster()?;
    let mut deck: Vec<Fault> = Vec::new();
    let mut done = Vec::new();
    let t0 = Instant::now();
    let pause = |secs: f64| std::thread::sleep(Duration::from_secs_f64(secs));
    loop {
        // Every kind comes up at least once, even if the load ends first.
        let more = |done: &Vec<Fault>| loading.load(Ordering::SeqCst) || done.len() < kinds.len();
        let gap = plan.every * (0.5 + rng.unit());
        let until = Instant::now() + Duration::from_secs_f64(gap);
        while Instant::now() < until && more(&done) {
            d.revive()?;
            std::thread::sleep(Duration::from_millis(250));
        }
        if !more(&done) {
            break;
        }
        if deck.is_empty() {
            deck = kinds.clone();
            for i in (1..deck.len()).rev() {
                deck.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
        }
        let Some(fault) = deck.pop() else { break };
        let down = 1.0 + rng.unit() * 4.0;
        eprintln!(
            "soak: {:>6.1} s  {}",
            t0.elapsed().as_secs_f64(),
            fault.name()
        );
        match fault {
            Fault::KillApi => {
                d.kill(|_, p| p.command == "api");
                pause(down);
            }
            Fault::KillWorker => {
                let workers = d.procs.lock().unwrap_or_else(|e| e.into_inner()).len() - 1;
                let w = 1 + (rng.next_u64() as usize % workers.max(1));
                d.kill(|i, _| i == w);
                pause(1.0 + rng.unit() * 14.0);
            }
            Fault::KillAll => {
                d.kill(|_, _| true);
                pause(15.0);
            }
            Fault::CutDatabase => {
                pg.cut();
                pause(down + 3.0);
                pg.restore();
            }
            Fault::CutBroker => {
                amqp.cut();
                pause(down + 3.0);
                amqp.restore();
            }
            Fault::StopBroker => {
                let stopped = run_tool("rabbitmqctl", &["stop_app"]);
                pause(10.0);
                // Started again whatever happened: the machine's broker is not left down.
                ensure_broker()?;
                stopped?;
            }
            Fault::RestartDatabase => {
                let restarted = run_tool(
                    "pg_ctlcluster",
                    &["--skip-systemctl-redirect", &cluster, "main", "restart"],
                );
                ensure_database(&cluster)?;
                restarted?;
            }
            Fault::DiskFull => {
                let filler = d.store.join("soak-filler");
                let filled = fill_disk(&filler);
                pause(10.0);
                let _ = std::fs::remove_file(&filler);
                filled?;
            }
        }
        d.revive()?;
        done.push(fault);
    }
    pg.restore();
    amqp.restore();
    Ok(done)
}

/// RabbitMQ's app running (`start_app` is a no-op when it is), tried for up to a minute.
pub fn ensure_broker() -> Result<(), BoxError> {
    retry(|| run_tool("rabbitmqctl", &["start_app"]))
}

/// The PostgreSQL cluster running, tried for up to a minute.
pub fn ensure_database(cluster: &str) -> Result<(), BoxError> {
    retry(|| {
        let up = run_tool("pg_isready", &["-q", "-h", "127.0.0.1"]);
        if up.is_err() {
            let _ = run_tool(
                "pg_ctlcluster",
                &["--skip-systemctl-redirect", cluster, "main", "start"],
            );
        }
        up
    })
}

fn retry(mut f: impl FnMut() -> Result<(), BoxError>) -> Result<(), BoxError> {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        match f() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= until => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_secs(2)),
        }
    }
}
