//! Indicator queries on a DataFusion Ballista cluster, for when one machine
//! is not enough (a Violence Reduction Network across forces, say).
//!
//! The scheduler and executors are Ballista's own (`ballista-scheduler`,
//! `ballista-executor` 55, on the same DataFusion as safer). `safer
//! scheduler` and `safer executor` start them from this program only so
//! that one binary is deployed and one build serves: they add exactly two
//! things to Ballista's defaults:
//!
//! - the size-capped `repeat`, `lpad` and friends of [`super::guard`], under
//!   the built-ins' names. A plan names its functions and each process
//!   decodes a name to what it has registered, so without these an
//!   officer's `repeat('x', 2000000000)` would be capped here and not on
//!   the executor that runs it;
//! - the lake's object store (S3 or Azure, credentials from the
//!   executor's own environment), so executors read the Parquet files
//!   where they lie.
//!
//! The client side ([`remote`]) is an ordinary DataFusion session whose
//! query planner sends each plan to the scheduler. The lake's tables reach
//! the executors as lists of Parquet files, the ones the Delta version in
//! use names, so a pinned run (`--lake-as-of`) reads the same files on a
//! cluster as here.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::TableProvider;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{LogicalPlanBuilder, cast, lit};
use datafusion::prelude::DataFrame;

use super::Error;

/// How long to wait for the scheduler to answer before saying it is down.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A session whose queries run on the Ballista scheduler at `host:port`.
/// The scheduler is contacted first, so an address that does not answer is
/// reported here, in words, and not as a transport error on the first
/// query.
#[cfg(feature = "ballista")]
pub async fn remote(
    host: &str,
    port: u16,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext, Error> {
    use ballista::prelude::SessionContextExt;
    use datafusion::execution::session_state::SessionStateBuilder;

    let address = format!("{host}:{port}");
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(Error::Cluster(format!(
                "the Ballista scheduler at {address} (engine in safer.toml) did not answer: {e}; start it with `safer scheduler`, or set engine = \"in-process\""
            )));
        }
        Err(_) => {
            return Err(Error::Cluster(format!(
                "the Ballista scheduler at {address} (engine in safer.toml) did not answer within {} s; start it with `safer scheduler`, or set engine = \"in-process\"",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
    }
    // DataFusion's own analyzer rules only: `grouping::GroupTextById`
    // numbers text within one process, and a cluster's partitions run in
    // several.
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .build();
    SessionContext::remote_with_state(&format!("df://{address}"), state)
        .await
        .map_err(|e| {
            Error::Cluster(format!(
                "connecting to the Ballista scheduler at {address}: {e}"
            ))
        })
}

/// Without the `ballista` feature there is no cluster client.
#[cfg(not(feature = "ballista"))]
pub async fn remote(
    host: &str,
    port: u16,
    _config: SessionConfig,
    _runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext, Error> {
    Err(Error::Cluster(format!(
        "safer.toml sets engine = \"ballista://{host}:{port}\", but this safer was built without Ballista (cargo feature `ballista`); rebuild with the default features, or set engine = \"in-process\""
    )))
}

/// An empty table with `schema`, as a plan that can travel to a cluster: a
/// projection of typed NULLs over no rows.
pub fn empty_table(
    ctx: &SessionContext,
    schema: &SchemaRef,
) -> Result<Arc<dyn TableProvider>, Error> {
    let columns = schema
        .fields()
        .iter()
        .filter(|f| f.name() != crate::schema::INPUT_COLUMN)
        .map(|f| {
            cast(
                lit(datafusion::common::ScalarValue::Null),
                f.data_type().clone(),
            )
            .alias(f.name())
        })
        .collect::<Vec<_>>();
    let plan = LogicalPlanBuilder::empty(false)
        .project(columns)
        .and_then(|b| b.build())
        .map_err(Error::from_df)?;
    Ok(DataFrame::new(ctx.state(), plan).into_view())
}

/// Settings for `safer scheduler`.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to listen on.
    pub bind: String,
    /// gRPC port clients and executors connect to.
    pub port: u16,
    /// Host name executors and clients use to reach this scheduler.
    pub external_host: Option<String>,
}

/// Settings for `safer executor`.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host.
    pub scheduler_host: String,
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// Address to listen on.
    pub bind: String,
    /// Host name others use to reach this executor (for shuffle reads).
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle data).
    pub flight_port: u16,
    /// gRPC port (tasks).
    pub grpc_port: u16,
    /// Tasks run at once.
    pub slots: Option<usize>,
    /// Memory all tasks together may use, in bytes; spills past it.
    pub memory_bytes: Option<u64>,
    /// Folder for shuffle and spill files.
    pub work_dir: Option<std::path::PathBuf>,
    /// The lake, when it is on object storage: its store is registered so
    /// tasks read the files in place.
    pub lake: Option<String>,
}

/// Run Ballista's scheduler until the process is stopped.
#[cfg(feature = "ballista")]
pub async fn run_scheduler(opts: SchedulerOptions) -> anyhow::Result<()> {
    use ballista_core::extension::SessionConfigExt;
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    use ballista_scheduler::scheduler_process::start_server;
    use datafusion::execution::FunctionRegistry;

    let address: std::net::SocketAddr = format!("{}:{}", opts.bind, opts.port)
        .parse()
        .map_err(|e| anyhow::anyhow!("--bind {} --port {}: {e}", opts.bind, opts.port))?;
    let mut config = SchedulerConfig::default()
        .with_hostname(
            opts.external_host
                .clone()
                .unwrap_or_else(|| opts.bind.clone()),
        )
        .with_port(opts.port)
        .with_override_config_producer(Arc::new(SessionConfig::new_with_ballista))
        .with_override_session_builder(Arc::new(|config: SessionConfig| {
            let mut state = ballista_core::utils::default_session_builder(config)?;
            for f in super::guard::capped(state.scalar_functions()) {
                state.register_udf(Arc::new(f))?;
            }
            Ok(state)
        }));
    config.bind_host = opts.bind.clone();
    let cluster = BallistaCluster::new_from_config(&config).await?;
    tracing::info!(%address, "Ballista scheduler listening");
    start_server(cluster, address, Arc::new(config)).await?;
    Ok(())
}

/// Run one Ballista executor until the process is stopped.
#[cfg(feature = "ballista")]
pub async fn run_executor(opts: ExecutorOptions) -> anyhow::Result<()> {
    use ballista_core::registry::BallistaFunctionRegistry;
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;

    let mut registry = BallistaFunctionRegistry::default();
    for f in super::guard::capped(&registry.scalar_functions) {
        registry
            .scalar_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    let remote = match &opts.lake {
        Some(l) if crate::lake::store::is_url(l) => {
            Some(Arc::new(crate::lake::store::Remote::open(l)?))
        }
        _ => None,
    };
    let work_dir = match &opts.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| anyhow::anyhow!("--work-dir {}: {e}", d.display()))?;
            d.clone()
        }
        None => std::env::temp_dir().join(format!("safer-executor-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work_dir)?;
    let wd = work_dir.clone();
    let runtime_producer: ballista_core::RuntimeProducer = Arc::new(move |_| {
        let rt = RuntimeEnvBuilder::new()
            .with_temp_file_path(wd.clone())
            .build()?;
        if let Some(r) = &remote {
            rt.register_object_store(&r.url, r.store());
        }
        Ok(Arc::new(rt))
    });
    let mut config = ExecutorProcessConfig {
        bind_host: opts.bind.clone(),
        external_host: opts.external_host.clone(),
        port: opts.flight_port,
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler_host.clone(),
        scheduler_port: opts.scheduler_port,
        // Wait for a scheduler that starts after its executors.
        scheduler_connect_timeout_seconds: 60,
        work_dir: Some(work_dir.to_string_lossy().into_owned()),
        memory_pool_size: opts.memory_bytes,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(registry)),
        override_runtime_producer: Some(runtime_producer),
        ..ExecutorProcessConfig::default()
    };
    if let Some(n) = opts.slots {
        config.vcores = n.max(1);
    }
    tracing::info!(
        scheduler = %format!("{}:{}", opts.scheduler_host, opts.scheduler_port),
        flight_port = opts.flight_port,
        grpc_port = opts.grpc_port,
        "Ballista executor starting"
    );
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

/// Without the `ballista` feature there is no scheduler to start.
#[cfg(not(feature = "ballista"))]
pub async fn run_scheduler(_opts: SchedulerOptions) -> anyhow::Result<()> {
    anyhow::bail!("this safer was built without Ballista (cargo feature `ballista`)")
}

/// Without the `ballista` feature there is no executor to start.
#[cfg(not(feature = "ballista"))]
pub async fn run_executor(_opts: ExecutorOptions) -> anyhow::Result<()> {
    anyhow::bail!("this safer was built without Ballista (cargo feature `ballista`)")
}
