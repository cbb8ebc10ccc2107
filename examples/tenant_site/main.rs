//! `cargo run --example tenant_site`: Gatehouse with a site's own routes
//! and token claims (see `site.rs`), configured like Gatehouse itself
//! (`Rocket.toml`, `ROCKET_*`).

mod site;

#[rocket::main]
async fn main() -> Result<(), String> {
    let figment = gatehouse::config::with_defaults(rocket::Config::figment());
    let figment =
        gatehouse::config::with_persistent_secret_key(figment).map_err(|e| e.to_string())?;
    site::extend(gatehouse::rocket(figment))
        .launch()
        .await
        .map(|_| ())
        .map_err(|e| e.pretty_print().to_owned())
}
