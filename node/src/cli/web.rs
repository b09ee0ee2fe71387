//! `swapmesh open` and `swapmesh web-sessions revoke`: the web page's sign-in
//! link, and signing every browser out.

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use super::args::{ClientArgs, OpenArgs};
use super::client;
use super::text::print_json;
use crate::api::json::{LoginLinkInput, LoginLinkJson, RevokedJson};
use crate::data_dir::DataDir;

/// `open`: asks the node for a one-time link, prints it (and its QR code with
/// `--qr`) and, unless `--print`, hands it to the system's browser opener.
pub(super) fn open(dir: &DataDir, args: &OpenArgs) -> anyhow::Result<()> {
    let link: LoginLinkJson = client(dir, &args.client)?.post(
        "/login-links",
        &LoginLinkInput {
            host: args.host.clone(),
        },
    )?;
    if args.client.json {
        print_json(&link);
        return Ok(());
    }
    println!("{}", link.url);
    println!(
        "(one use, valid for {} min; `swapmesh web-sessions revoke` signs every browser out)",
        link.expires_in_secs.div_ceil(60)
    );
    if args.qr {
        let code = QrCode::new(link.url.as_bytes())?;
        println!("{}", code.render::<Dense1x2>().quiet_zone(true).build());
    }
    if !args.print && !start_browser(&link.url) {
        println!("(no browser could be started here: open the link above)");
    }
    Ok(())
}

/// Starts the system's opener on `url`; `false` if there is none.
fn start_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// `web-sessions revoke`.
pub(super) fn revoke(dir: &DataDir, args: &ClientArgs) -> anyhow::Result<()> {
    let revoked: RevokedJson = client(dir, args)?.delete("/web-sessions")?;
    if args.json {
        print_json(&revoked);
    } else {
        println!(
            "{} web session{} ended; sign in again with `swapmesh open`",
            revoked.revoked,
            if revoked.revoked == 1 { "" } else { "s" }
        );
    }
    Ok(())
}
