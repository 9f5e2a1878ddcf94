//! `seed`: a tenant, a profile, the hosted files a booting phone fetches, and N devices,
//! through the API (idempotent: a second run changes nothing). With `--nginx-root` it also
//! writes the same answers as static files for nginx, for the side-by-side comparison.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use signpost_domain::{SettingsFormat, render_settings};

use crate::api::Api;
use crate::fleet::FleetArgs;
use crate::http::Target;
use crate::register::{self, RegisterArgs};

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub register: RegisterArgs,
    /// The profile's setting server: `hosted` (Signpost serves the files below) or a URL.
    #[arg(long, default_value = "hosted")]
    pub setting_server: String,
    /// Also upload `{phone_type}-{MAC}.htm` (what a booting phone asks for second) for the
    /// first N devices; `boot-storm --phones N` needs them.
    #[arg(long, default_value_t = 0)]
    pub mac_files: u64,
    /// Uploads in flight for `--mac-files`.
    #[arg(long, default_value_t = 16)]
    pub upload_concurrency: u64,
    /// Write nginx's static copy of the same answers under this directory.
    #[arg(long, requires = "nginx_url")]
    pub nginx_root: Option<PathBuf>,
    /// Where that nginx is reached (its redirect answers point there).
    #[arg(long)]
    pub nginx_url: Option<String>,
}

/// The shared settings file: a template, so each phone gets its own MAC and its own hosted
/// base in the firmware URL.
pub fn general_settings(phone_type: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings>\n\
         <firmware_status perm=\"RW\">{{hosted_url}}firmware/{phone_type}-fw.xml</firmware_status>\n\
         <firmware_interval perm=\"RW\">1440</firmware_interval>\n\
         <user_realname idx=\"1\" perm=\"RW\">Phone {{mac}}</user_realname>\n\
         </phone-settings></settings>\n"
    )
}

/// The firmware status file: names the image for the phone's model.
pub fn firmware_status(phone_type: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<firmware-settings>\
         <firmware perm=\"\">{{hosted_url}}firmware/{phone_type}-10.1.54.13-SIP-r.bin</firmware>\
         </firmware-settings>\n"
    )
}

/// One phone's own settings file.
pub fn phone_settings(mac: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings>\n\
         <user_name idx=\"1\" perm=\"RW\">{mac}</user_name>\n\
         <user_host idx=\"1\" perm=\"RW\">pbx.bench.example</user_host>\n\
         </phone-settings></settings>\n"
    )
}

pub async fn run(target: &Target, args: &SeedArgs) -> anyhow::Result<()> {
    let tenant = &args.register.api.tenant;
    let fleet = &args.register.fleet;
    let mut api = Api::connect(target, &args.register.api).await?;
    api.put_json(
        &format!("/v1/tenants/{tenant}"),
        &json!({"display_name": "Load generator", "status": "active"}),
    )
    .await?;
    api.put_json(
        &format!(
            "/v1/tenants/{tenant}/profiles/{}",
            args.register.api.profile
        ),
        &json!({"setting_server": args.setting_server}),
    )
    .await?;
    if args.setting_server == "hosted" {
        let t = &fleet.phone_type;
        upload(
            &mut api,
            tenant,
            &format!("{t}.htm"),
            &general_settings(t),
            true,
        )
        .await?;
        let firmware = format!("firmware/{t}-fw.xml");
        upload(&mut api, tenant, &firmware, &firmware_status(t), true).await?;
    }
    let started = Instant::now();
    let report = register::run(target, "seed", &args.register).await?;
    anyhow::ensure!(
        report.errors == 0,
        "registration failed:\n{}",
        report.table()
    );
    eprintln!(
        "seed: {} devices registered in {:.1} s ({:.0} devices/s)",
        fleet.devices,
        started.elapsed().as_secs_f64(),
        report.units_per_s
    );
    if args.mac_files > 0 {
        let started = Instant::now();
        upload_phone_files(target, args).await?;
        eprintln!(
            "seed: {} phone files uploaded in {:.1} s",
            args.mac_files.min(fleet.devices),
            started.elapsed().as_secs_f64()
        );
    }
    if let (Some(root), Some(url)) = (&args.nginx_root, &args.nginx_url) {
        write_nginx_tree(root, url, fleet)?;
        eprintln!("seed: nginx tree written under {}", root.display());
    }
    Ok(())
}

async fn upload(
    api: &mut Api,
    tenant: &str,
    path: &str,
    body: &str,
    template: bool,
) -> anyhow::Result<()> {
    let query = if template { "?template=true" } else { "" };
    api.expect(
        "PUT",
        &format!("/v1/tenants/{tenant}/files/{path}{query}"),
        Some(("text/xml", body.as_bytes())),
        &[200, 201],
    )
    .await?;
    Ok(())
}

async fn upload_phone_files(target: &Target, args: &SeedArgs) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.upload_concurrency.max(1) {
        let mut api = Api::connect(target, &args.register.api).await?;
        let (next, args) = (next.clone(), args.clone());
        workers.push(tokio::spawn(async move {
            let fleet = &args.register.fleet;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= fleet.devices.min(args.mac_files) {
                    return Ok::<_, anyhow::Error>(());
                }
                let mac = fleet.registered(i).to_string();
                let path = format!("{}-{mac}.htm", fleet.phone_type);
                upload(
                    &mut api,
                    &args.register.api.tenant,
                    &path,
                    &phone_settings(&mac),
                    false,
                )
                .await?;
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// nginx's copy: `redirect/{MAC}.txt|.xml` (the answer for each registered MAC, rendered by
/// the same code as Signpost's), `empty.txt|.xml`, and `files/` (the setting server: the
/// shared files with `{hosted_url}` pointing back at nginx, and one file per phone).
pub fn write_nginx_tree(root: &Path, nginx_url: &str, fleet: &FleetArgs) -> anyhow::Result<()> {
    let base = format!("{}/files/", nginx_url.trim_end_matches('/'));
    let redirect = root.join("redirect");
    let files = root.join("files");
    for dir in [&redirect, &files, &files.join("firmware")] {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    for format in [SettingsFormat::Text, SettingsFormat::Xml] {
        write(
            &root.join(format!("empty.{}", ext(format))),
            format.empty_document(),
        )?;
    }
    let t = &fleet.phone_type;
    let general = general_settings(t)
        .replace("{hosted_url}", &base)
        .replace("{mac}", "000000000000");
    write(&files.join(format!("{t}.htm")), &general)?;
    write(
        &files.join(format!("firmware/{t}-fw.xml")),
        &firmware_status(t).replace("{hosted_url}", &base),
    )?;
    let text = render_settings(SettingsFormat::Text, &base, &[]);
    let xml = render_settings(SettingsFormat::Xml, &base, &[]);
    for i in 0..fleet.devices {
        let mac = fleet.registered(i).to_string();
        write(&redirect.join(format!("{mac}.txt")), &text)?;
        write(&redirect.join(format!("{mac}.xml")), &xml)?;
        write(&files.join(format!("{t}-{mac}.htm")), &phone_settings(&mac))?;
    }
    Ok(())
}

fn ext(format: SettingsFormat) -> &'static str {
    match format {
        SettingsFormat::Text => "txt",
        SettingsFormat::Xml => "xml",
    }
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("write {}", path.display()))
}
