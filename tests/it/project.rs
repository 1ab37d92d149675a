//! A small real project for the service tests: a year of synthetic
//! Lancashire police.uk files and the ONS tables (generated once per test
//! process and copied), six shipped indicators that read only those, the
//! public committee pack and a nightly schedule.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The last month of the generated data.
pub const END_MONTH: (i32, u32) = (2026, 9);

/// Indicators that need only police.uk and ONS data.
pub const QUERIES: [&str; 6] = [
    "anti_social_behaviour/asb_incidents.sql",
    "anti_social_behaviour/asb_rate.sql",
    "overall/total_recorded_crime.sql",
    "overall/total_crime_rate.sql",
    "overall/no_location_crimes.sql",
    "violence/violence_and_sexual_offences.sql",
];

fn template() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("safer-it-template-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let d = dir.clone();
        // On a thread of its own: callers may be inside a tokio runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(safer::demo::generate(&safer::demo::DemoOptions {
                dir: d,
                seed: 5,
                years: 1,
                end_month: chrono::NaiveDate::from_ymd_opt(END_MONTH.0, END_MONTH.1, 1).unwrap(),
                partner_db: false,
            }))
            .expect("demo data generates");
        })
        .join()
        .unwrap();
        dir
    })
}

/// Copy a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// The project file, with `extra` appended (more sections or sources).
pub fn config_text(extra: &str) -> String {
    format!(
        r#"[organisation]
name = "Test County Council"
force = "lancashire"

[[sources]]
name = "police_uk"
kind = "police_uk"
path = "data/police-uk"

[[sources]]
name = "ons_population"
kind = "ons_population"
path = "data/ons/mid_year_population_estimates.csv"

[[sources]]
name = "ons_lsoa_lookup"
kind = "csv"
path = "data/ons/lsoa21_to_lad.csv"
table = "ons_lsoa_lookup"
columns = [
  {{ name = "lsoa_code", source = "LSOA21CD", type = "string", required = true }},
  {{ name = "lsoa_name", source = "LSOA21NM", type = "string" }},
  {{ name = "lad_code", source = "LAD22CD", type = "string", required = true }},
  {{ name = "lad_name", source = "LAD22NM", type = "string" }},
]
{extra}
"#
    )
}

/// A project in `root` with the given output formats.
pub fn make(root: &Path, formats: &[&str], extra_config: &str) -> PathBuf {
    copy_tree(
        &template().join("data/police-uk"),
        &root.join("data/police-uk"),
    );
    copy_tree(&template().join("data/ons"), &root.join("data/ons"));
    std::fs::write(root.join("safer.toml"), config_text(extra_config)).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    copy_tree(&src.join("_views"), &root.join("queries/_views"));
    for q in QUERIES {
        let dest = root.join("queries").join(q);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(src.join(q), dest).unwrap();
    }
    std::fs::create_dir_all(root.join("outputs")).unwrap();
    let formats: Vec<String> = formats.iter().map(|f| format!("\"{f}\"")).collect();
    std::fs::write(
        root.join("outputs/committee-pack.toml"),
        format!(
            "title = \"Test pack\"\naudience = \"public\"\nformats = [{}]\nheadline_area = \"E10000017\"\n",
            formats.join(", ")
        ),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("schedules")).unwrap();
    std::fs::write(
        root.join("schedules/nightly.toml"),
        "cron = \"30 1 * * *\"\ntimezone = \"Europe/London\"\n[retry]\nretries = 0\n",
    )
    .unwrap();
    root.to_path_buf()
}

/// Run the binary in `dir`; (exit code, stdout, stderr).
pub fn safer(args: &[&str], dir: &Path) -> (i32, String, String) {
    safer_env(args, dir, &[])
}

/// Run the binary in `dir` with extra environment variables.
pub fn safer_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_safer"));
    cmd.args(args).current_dir(dir).env_remove("SAFER_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("safer runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The run id from a `Run <id> finished: <status>` line.
pub fn run_id_of(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Run ").and_then(|r| r.split(' ').next()))
        .map(String::from)
}

/// Load the project's config.
pub fn config(root: &Path) -> safer::config::Config {
    safer::config::Config::load(&root.join("safer.toml")).expect("config loads")
}
