//! A lake on object storage: `lake = "s3://bucket/path"` or
//! `"az://container/path"` (also `abfs://`, `abfss://`, `azure://`).
//!
//! The Delta log and the data files live in the bucket; credentials come
//! from the environment only (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`;
//! `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`,
//! `AZURE_STORAGE_SAS_KEY`, `AZURE_STORAGE_USE_EMULATOR`, ...), are passed
//! to the store and to delta-rs, and are never logged: errors name the URL,
//! which holds none. Object stores have no atomic rename, so every commit is
//! a conditional put of the next log entry (If-None-Match): of two writers
//! one wins and the other is told, as on local disk.
//!
//! Parquet files are written to a local cache folder first (the same
//! streaming writer as on disk) and uploaded in parts; files a landing must
//! read back (to carry old rows into a rewritten partition) are fetched into
//! the same cache. Data files are never changed once written, so a cached
//! copy is always good.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use super::Error;
use super::delta::block_on;

/// URL schemes that name object storage.
const SCHEMES: [&str; 5] = ["s3://", "az://", "abfs://", "abfss://", "azure://"];

/// Whether a configured lake location is an object-store URL.
pub fn is_url(location: &str) -> bool {
    SCHEMES.iter().any(|s| location.starts_with(s))
}

/// A lake root in a bucket or container.
pub struct Remote {
    /// The root URL, ending in `/`.
    pub url: url::Url,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// Options for delta-rs (from the environment; secrets included, so
    /// never printed).
    options: HashMap<String, String>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the options: they hold credentials.
        write!(f, "Remote({})", self.url)
    }
}

/// Environment variables that configure object stores, as store options
/// (lower-cased keys, as `object_store` and delta-rs read them).
fn options_from_env() -> HashMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("AZURE_"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

fn store_err(url: &url::Url, e: impl std::fmt::Display) -> Error {
    Error::Store {
        url: url.to_string(),
        message: e.to_string(),
    }
}

impl Remote {
    /// Connect to the lake at `location` with credentials from the
    /// environment. Nothing is contacted until the first read or write.
    pub fn open(location: &str) -> Result<Remote, Error> {
        let mut text = location.trim().to_string();
        if !text.ends_with('/') {
            text.push('/');
        }
        let url = url::Url::parse(&text).map_err(|e| Error::Store {
            url: location.to_string(),
            message: format!("not a valid URL: {e}"),
        })?;
        let options = options_from_env();
        let (store, prefix) =
            object_store::parse_url_opts(&url, options.clone()).map_err(|e| store_err(&url, e))?;
        Ok(Remote {
            url,
            store: Arc::from(store),
            prefix,
            options,
        })
    }

    /// The store, for registering with DataFusion.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// Options for delta-rs.
    pub fn options(&self) -> &HashMap<String, String> {
        &self.options
    }

    /// The URL of one table, ending in `/`.
    pub fn table_url(&self, dataset: &str) -> Result<url::Url, Error> {
        self.url
            .join(&format!("{dataset}/"))
            .map_err(|e| store_err(&self.url, e))
    }

    /// The store path of a file of a table.
    fn object(&self, dataset: &str, rel: &str) -> ObjectPath {
        let mut parts: Vec<String> = self
            .prefix
            .parts()
            .map(|p| p.as_ref().to_string())
            .collect();
        parts.push(dataset.to_string());
        parts.extend(rel.split('/').filter(|p| !p.is_empty()).map(str::to_string));
        ObjectPath::from_iter(parts)
    }

    /// Upload a local file as a table's `rel`, in parts, then check its size.
    pub fn upload(&self, local: &Path, dataset: &str, rel: &str) -> Result<(), Error> {
        let path = self.object(dataset, rel);
        block_on(async {
            use tokio::io::AsyncReadExt;
            let mut file = tokio::fs::File::open(local)
                .await
                .map_err(|source| Error::Io {
                    path: local.to_path_buf(),
                    source,
                })?;
            let upload = self
                .store
                .put_multipart(&path)
                .await
                .map_err(|e| store_err(&self.url, e))?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, 8 * 1024 * 1024);
            let mut buf = vec![0u8; 1024 * 1024];
            loop {
                let n = file.read(&mut buf).await.map_err(|source| Error::Io {
                    path: local.to_path_buf(),
                    source,
                })?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(4)
                    .await
                    .map_err(|e| store_err(&self.url, e))?;
                w.write(&buf[..n]);
            }
            w.finish().await.map_err(|e| store_err(&self.url, e))?;
            Ok(())
        })
    }

    /// Fetch a table's `rel` into `local` (via a temp name, so a cut
    /// download is never taken for the file).
    pub fn download(&self, dataset: &str, rel: &str, local: &Path) -> Result<(), Error> {
        let path = self.object(dataset, rel);
        if let Some(dir) = local.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let tmp = local.with_extension(format!("download.{}.tmp", super::unique_suffix()));
        block_on(async {
            use tokio::io::AsyncWriteExt;
            let got = self
                .store
                .get(&path)
                .await
                .map_err(|e| store_err(&self.url, e))?;
            let mut stream = got.into_stream();
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|source| Error::Io {
                    path: tmp.clone(),
                    source,
                })?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| store_err(&self.url, e))?;
                file.write_all(&chunk).await.map_err(|source| Error::Io {
                    path: tmp.clone(),
                    source,
                })?;
            }
            file.flush().await.map_err(|source| Error::Io {
                path: tmp.clone(),
                source,
            })?;
            Ok::<_, Error>(())
        })?;
        std::fs::rename(&tmp, local).map_err(|source| Error::Io {
            path: local.to_path_buf(),
            source,
        })
    }

    /// Delete a table's `rel` (a file a refused landing uploaded).
    pub fn delete(&self, dataset: &str, rel: &str) -> Result<(), Error> {
        let path = self.object(dataset, rel);
        block_on(async { self.store.delete(&path).await }).map_err(|e| store_err(&self.url, e))
    }

    /// Whether a table has a Delta log with a commit or checkpoint in it
    /// (an abandoned first commit's temp file does not count).
    pub fn is_table(&self, dataset: &str) -> Result<bool, Error> {
        let log = self.object(dataset, super::delta::LOG_DIR);
        block_on(async {
            let mut list = self.store.list(Some(&log));
            while let Some(item) = list.next().await {
                let meta = item.map_err(|e| store_err(&self.url, e))?;
                if super::delta::is_log_entry(meta.location.filename().unwrap_or_default()) {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// Names of the folders under the root that hold a Delta table.
    pub fn table_names(&self) -> Result<Vec<String>, Error> {
        let listed = block_on(async { self.store.list_with_delimiter(Some(&self.prefix)).await })
            .map_err(|e| store_err(&self.url, e))?;
        let mut out = Vec::new();
        for p in listed.common_prefixes {
            let Some(name) = p.filename() else { continue };
            if self.is_table(name)? {
                out.push(name.to_string());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The local cache folder for a remote lake: `SAFER_LAKE_CACHE`, else a
/// folder in the system temp directory named for the URL.
pub fn cache_dir(location: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("SAFER_LAKE_CACHE") {
        return PathBuf::from(dir);
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(location.trim_end_matches('/').as_bytes());
    std::env::temp_dir().join(format!("safer-lake-{}", &hex::encode(digest)[..16]))
}
