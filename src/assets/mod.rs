//! Templates and static files, compiled into the binary so that a copy of
//! `gatehouse` alone serves every page. A site that restyles Gatehouse sets
//! `template_dir` and/or `static_dir`: files there replace the embedded ones
//! of the same name (and may add new ones). Both are read once, at start.
//!
//! Templates are compiled into Tera at start, named by their path without
//! `.tera` (`accounts/login.html`), so Tera escapes them as HTML: once as
//! [`Templates`], which renders Gatehouse's own pages, and once into
//! rocket_dyn_templates' `Template` fairing for a site's own routes (its
//! own templates in `template_dir` are named the same way:
//! `Template::render("mine.html", …)`). Static files are served from
//! memory at `/static/<name>.<hash>.<ext>` (the first 16 hex digits of
//! their SHA-256) with a year-long immutable cache; templates link to that
//! URL through the `static_url(path=…)` function. The plain name is still
//! served, with a short cache, for links that predate the hash.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket::http::{ContentType, Header};
use rocket::response::{self, Responder, Response};
use rocket::{Request, State};
use rocket_dyn_templates::Template;
use rocket_dyn_templates::tera::{self, Tera};
use sha2::Digest as _;

use rendered::RenderedPages;

mod html;
mod rendered;

#[derive(rust_embed::Embed)]
#[folder = "templates/"]
struct EmbeddedTemplates;

#[derive(rust_embed::Embed)]
#[folder = "static/"]
struct EmbeddedStatic;

/// How long a browser may keep a file whose URL carries its hash.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// How long it may keep one asked for by its plain (or an old hash's) name.
const SHORT: &str = "public, max-age=3600";

/// The static files being served, by their path under `/static/`.
pub struct StaticFiles {
    files: HashMap<String, StaticFile>,
}

struct StaticFile {
    body: Vec<u8>,
    content_type: ContentType,
    /// `/static/css/gatehouse.0123456789abcdef.css`
    url: String,
}

impl StaticFiles {
    /// The embedded files, with those under `dir` (when given) in their place.
    pub fn load(dir: Option<&Path>) -> std::io::Result<StaticFiles> {
        let mut sources: BTreeMap<String, Vec<u8>> = EmbeddedStatic::iter()
            .filter_map(|name| {
                let file = EmbeddedStatic::get(&name)?;
                Some((name.into_owned(), file.data.into_owned()))
            })
            .collect();
        if let Some(dir) = dir {
            for (name, path) in files_under(dir)? {
                sources.insert(name, std::fs::read(path)?);
            }
        }
        let files = sources
            .into_iter()
            .map(|(name, body)| {
                let hash = hex16(&sha2::Sha256::digest(&body));
                let extension = Path::new(&name).extension().and_then(|e| e.to_str());
                let content_type = extension
                    .and_then(ContentType::from_extension)
                    .unwrap_or(ContentType::Binary);
                let url = format!("/static/{}", hashed_name(&name, &hash));
                let file = StaticFile {
                    body,
                    content_type,
                    url,
                };
                (name, file)
            })
            .collect();
        Ok(StaticFiles { files })
    }

    /// The URL a page should link to for `path` (e.g. `css/gatehouse.css`).
    pub fn url(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(|file| file.url.as_str())
    }

    /// The file at `path`, and whether the URL named its current content.
    fn find(&self, path: &str) -> Option<(&StaticFile, bool)> {
        if let Some(file) = self.files.get(path) {
            return Some((file, false));
        }
        let (plain, hash) = unhashed_name(path)?;
        let file = self.files.get(&plain)?;
        Some((
            file,
            file.url.strip_prefix("/static/") == Some(path) && !hash.is_empty(),
        ))
    }
}

/// `css/gatehouse.css` → `css/gatehouse.<hash>.css`.
fn hashed_name(name: &str, hash: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.ends_with('/') && !stem.is_empty() => {
            format!("{stem}.{hash}.{extension}")
        }
        _ => format!("{name}.{hash}"),
    }
}

/// `css/gatehouse.<hash>.css` → (`css/gatehouse.css`, `<hash>`).
fn unhashed_name(path: &str) -> Option<(String, &str)> {
    let (rest, extension) = path.rsplit_once('.')?;
    let (stem, hash) = rest.rsplit_once('.')?;
    hash.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| (format!("{stem}.{extension}"), hash))
}

fn hex16(digest: &[u8]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file under `dir`, by its `/`-separated path relative to it.
fn files_under(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push((name, path));
            }
        }
    }
    Ok(found)
}

/// The templates by Tera name: the embedded ones, with those under `dir`
/// (when given) in their place.
fn template_sources(dir: Option<&Path>) -> std::io::Result<BTreeMap<String, String>> {
    let mut sources: BTreeMap<String, String> = EmbeddedTemplates::iter()
        .filter_map(|path| {
            let name = path.strip_suffix(".tera")?.to_owned();
            let file = EmbeddedTemplates::get(&path)?;
            Some((name, String::from_utf8_lossy(&file.data).into_owned()))
        })
        .collect();
    if let Some(dir) = dir {
        for (path, file) in files_under(dir)? {
            if let Some(name) = path.strip_suffix(".tera") {
                sources.insert(name.to_owned(), std::fs::read_to_string(file)?);
            }
        }
    }
    Ok(sources)
}

/// The name a handler's template (`accounts/login`) has in Tera.
fn template_name(template: &str) -> String {
    format!("{template}.html")
}

/// `static_url(path="css/gatehouse.css")` in templates.
struct StaticUrl(Arc<StaticFiles>);

impl tera::Function for StaticUrl {
    fn call(&self, args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        let path = args
            .get("path")
            .and_then(tera::Value::as_str)
            .ok_or_else(|| tera::Error::msg("static_url needs path=\"…\""))?;
        self.0
            .url(path)
            .map(tera::Value::from)
            .ok_or_else(|| tera::Error::msg(format!("no static file `{path}`")))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// Loads the static files and compiles the templates at ignite. A
/// `template_dir` or `static_dir` that cannot be read stops the launch
/// with one line naming the key.
pub fn fairing() -> AdHoc {
    AdHoc::try_on_ignite("Embedded templates and static files", |rocket| async move {
        let dir = |key: &str| {
            rocket
                .figment()
                .extract_inner::<rocket::figment::value::magic::RelativePathBuf>(key)
                .ok()
                .map(|path| path.relative())
        };
        let (template_dir, static_dir) = (dir("template_dir"), dir("static_dir"));
        let loaded = StaticFiles::load(static_dir.as_deref())
            .map_err(|e| format!("configuration error: `static_dir`: {e}"))
            .and_then(|files| {
                template_sources(template_dir.as_deref())
                    .map(|_| files)
                    .map_err(|e| format!("configuration error: `template_dir`: {e}"))
            })
            .and_then(|files| Ok((files, templates_root()?)));
        let (files, root) = match loaded {
            Ok(loaded) => loaded,
            Err(message) => {
                tracing::error!("{message}");
                return Err(rocket);
            }
        };
        let files = Arc::new(files);
        let mut tera = Tera::default();
        let pure = match compile(&mut tera, template_dir.as_deref(), &files) {
            Ok(pure) => pure,
            Err(e) => {
                tracing::error!("templates: {e:?}");
                return Err(rocket);
            }
        };
        if !pure {
            tracing::info!(
                "a template calls now(), get_random() or get_env(): no page is rendered from memory"
            );
        }
        let for_sites = files.clone();
        let figment = rocket.figment().clone().merge(("template_dir", root));
        Ok(rocket
            .configure(figment)
            .manage(files)
            .manage(Templates {
                tera,
                rendered: pure.then(RenderedPages::default),
            })
            .attach(Template::try_custom(move |engines| {
                compile(&mut engines.tera, template_dir.as_deref(), &for_sites)?;
                Ok(())
            })))
    })
}

/// Gatehouse's templates, compiled into Tera once at ignite, for its own
/// pages (`web::page`): rendering straight from a JSON context spares the
/// two conversions of it that rocket_dyn_templates' `Template` makes. The
/// `Template` fairing holds the same templates for a site's own routes.
pub struct Templates {
    tera: Tera,
    /// None when a template is impure (see `rendered`).
    rendered: Option<RenderedPages>,
}

impl Templates {
    /// `template` (`accounts/login`) rendered with `context`, a JSON object.
    pub fn render(&self, template: &str, context: serde_json::Value) -> tera::Result<String> {
        let context = tera::Context::from_value(context)?;
        self.tera.render(&template_name(template), &context)
    }

    /// [`render`](Self::render), answered from the pages rendered before
    /// when this one was, with this very context. For pages that show no
    /// secret: what is kept stays in memory until the memo fills.
    pub fn render_again(
        &self,
        template: &'static str,
        context: serde_json::Value,
    ) -> tera::Result<String> {
        let Some(rendered) = &self.rendered else {
            return self.render(template, context);
        };
        let key = match rendered.get(template, serde_json::to_vec(&context)?) {
            Ok(html) => return Ok(html),
            Err(key) => key,
        };
        let html = self.render(template, context)?;
        rendered.keep(key, &html);
        Ok(html)
    }
}

/// Adds the templates (embedded, or from `template_dir`) and the template
/// functions to `tera`; whether the templates are pure (`rendered`).
fn compile(
    tera: &mut Tera,
    template_dir: Option<&Path>,
    files: &Arc<StaticFiles>,
) -> Result<bool, Box<dyn std::error::Error>> {
    let sources = template_sources(template_dir)?;
    let pure = rendered::all_pure(sources.values().map(String::as_str));
    tera.add_raw_templates(sources)?;
    tera.register_function("static_url", StaticUrl(files.clone()));
    html::register(tera);
    Ok(pure)
}

/// What rocket_dyn_templates scans for template files, which must exist:
/// the binary itself, a file, so that it finds none and every template
/// (embedded, or from `template_dir`) is named here, with `.html`.
fn templates_root() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find the gatehouse executable: {e}"))
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![static_file]
}

/// A static file, from memory.
struct Asset<'r> {
    file: &'r StaticFile,
    cache: &'static str,
}

impl<'r> Responder<'r, 'r> for Asset<'r> {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'r> {
        Response::build()
            .header(self.file.content_type.clone())
            .header(Header::new("Cache-Control", self.cache))
            .sized_body(self.file.body.len(), std::io::Cursor::new(&self.file.body))
            .ok()
    }
}

#[rocket::get("/static/<path..>")]
fn static_file<'r>(path: PathBuf, files: &'r State<Arc<StaticFiles>>) -> Option<Asset<'r>> {
    let path = path.to_str()?;
    let (file, current) = files.find(path)?;
    let cache = if current { IMMUTABLE } else { SHORT };
    Some(Asset { file, cache })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_their_extension_and_come_apart_again() {
        assert_eq!(
            hashed_name("css/gatehouse.css", "0123456789abcdef"),
            "css/gatehouse.0123456789abcdef.css"
        );
        assert_eq!(
            unhashed_name("css/gatehouse.0123456789abcdef.css"),
            Some(("css/gatehouse.css".to_owned(), "0123456789abcdef"))
        );
        assert_eq!(unhashed_name("css/gatehouse.css"), None);
    }

    #[test]
    fn every_page_template_and_the_stylesheet_are_embedded() {
        let sources = template_sources(None).unwrap();
        assert!(sources.contains_key("base.html"));
        assert!(sources.contains_key("accounts/login.html"));
        let files = StaticFiles::load(None).unwrap();
        let url = files.url("css/gatehouse.css").unwrap();
        let (file, current) = files.find(url.trim_start_matches("/static/")).unwrap();
        assert!(current);
        assert_eq!(file.content_type, ContentType::CSS);
    }
}
