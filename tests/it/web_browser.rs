//! The web page in a real browser: Debian's `chromium`, headless, driven through WebDriver
//! (`chromedriver`, started here on a free port) against a real `physedit serve` with the bundled
//! model. A person's whole path (picture, instruction, plan, edit with live progress, before/after,
//! SRM mask, reasoning frames, download, edit again, history), with and without a key, an error
//! case, a phone's width in dark mode and the keyboard alone. Screenshots of each state go to
//! `target/web-screenshots/`.
//!
//! `.ci/run` installs `chromium` and `chromium-driver`; without them these tests fail, naming them.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::serve::{client, decode_png, edit_form, free_port, test_image, test_png, Proc, Server};

const ACTION: &str = "Make the ball roll off the table";
const AGAIN: &str = "Turn the background plain peach";
/// Desktop and phone window sizes (CSS pixels).
const DESKTOP: (u32, u32) = (1280, 2000);
const PHONE: (u32, u32) = (390, 844);

fn shots_dir() -> PathBuf {
    let d = crate::serve::root().join("target/web-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `chromedriver` on a free port, with the browser it drives.
struct Browser {
    _driver: Proc,
    client: Client,
    downloads: tempfile::TempDir,
}

fn need(tool: &str) -> PathBuf {
    let found = ["/usr/bin", "/usr/lib/chromium", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!(
            "{tool} is not installed: the browser tests need Debian's chromium and chromium-driver \
             (apt-get install -y chromium chromium-driver; .ci/run installs them)"
        )
    })
}

impl Browser {
    /// A browser window of `size`; `extra`: more chromium switches.
    async fn start(size: (u32, u32), extra: &[&str]) -> Browser {
        let chromium = need("chromium");
        let driver = need("chromedriver");
        let port = free_port();
        let proc = Proc::spawn(
            "chromedriver",
            Command::new(driver).arg(format!("--port={port}")),
        );
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "chromedriver did not listen on port {port}:\n{}",
                proc.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let downloads = tempfile::tempdir().unwrap();
        let args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-first-run",
        ]
        .iter()
        .chain(extra)
        .map(|a| a.to_string())
        .chain([format!("--window-size={},{}", size.0, size.1)])
        .collect();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                },
            }
        });
        let caps = caps.as_object().unwrap().clone();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("chromium did not start under chromedriver: {e}"));
        client.set_window_size(size.0, size.1).await.unwrap();
        Browser {
            _driver: proc,
            client,
            downloads,
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Loads the page and waits until it has connected to the server (the model named).
    async fn open(&self, base: &str) {
        self.client.goto(base).await.unwrap();
        self.until(
            "document.getElementById('server-status').textContent.startsWith('Model')",
            "the page connecting",
            LONG,
        )
        .await;
    }

    /// Waits until `condition` (a JavaScript expression) is truthy; panics with `what` and the
    /// page's visible errors after `timeout`.
    async fn until(&self, condition: &str, what: &str, timeout: Duration) {
        let t0 = Instant::now();
        loop {
            if self.js(&format!("return !!({condition});")).await == json!(true) {
                return;
            }
            if t0.elapsed() > timeout {
                let errors = self
                    .js("return [...document.querySelectorAll('.error')].map(e => e.id + ': ' + e.textContent).filter(t => !t.endsWith(': ')).join('; ') + ' | progress: ' + document.getElementById('progress-text').textContent;")
                    .await;
                panic!("{what}: not within {timeout:?}; page says {errors}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Presses one key where the focus is (WebDriver key codes: Tab U+E004, Enter U+E007).
    async fn press(&self, key: char) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await.unwrap();
    }

    async fn text(&self, id: &str) -> String {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn click(&self, id: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking #{id}: {e}"));
    }

    async fn type_into(&self, id: &str, text: &str) {
        let e = self.client.find(Locator::Id(id)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Gives the file input `id` a file (what choosing it in the browser's dialog does).
    async fn choose_file(&self, id: &str, path: &Path) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(path.to_str().unwrap())
            .await
            .unwrap();
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
    }

    /// Records every text `#progress-text` shows from now on (the events are faster than polling).
    async fn record_progress(&self) {
        self.js(
            "window.__progress = []; const el = document.getElementById('progress-text');
             new MutationObserver(() => window.__progress.push(el.textContent))
               .observe(el, {childList: true, characterData: true, subtree: true});",
        )
        .await;
    }

    async fn progress_seen(&self) -> Vec<String> {
        serde_json::from_value(self.js("return window.__progress;").await).unwrap()
    }

    /// The picture an `<img>` shows, as RGB (drawn on a canvas; the page's blobs are same-origin).
    async fn img_pixels(&self, id: &str) -> image::RgbImage {
        let v = self
            .js(&format!(
                "const i = document.getElementById('{id}'); const c = document.createElement('canvas');
                 c.width = i.naturalWidth; c.height = i.naturalHeight;
                 const x = c.getContext('2d'); x.drawImage(i, 0, 0);
                 return [c.width, c.height, Array.from(x.getImageData(0, 0, c.width, c.height).data)];"
            ))
            .await;
        let (w, h) = (v[0].as_u64().unwrap() as u32, v[1].as_u64().unwrap() as u32);
        let rgba: Vec<u8> = v[2]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u8)
            .collect();
        image::DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, rgba).unwrap()).to_rgb8()
    }

    /// The file the browser downloaded (waits for it).
    async fn downloaded(&self) -> (String, Vec<u8>) {
        let t0 = Instant::now();
        loop {
            let files: Vec<_> = std::fs::read_dir(self.downloads.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "png"))
                .collect();
            if let Some(p) = files.first() {
                let bytes = std::fs::read(p).unwrap();
                if !bytes.is_empty() {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    return (name, bytes);
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "no download");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

const TAB: char = '\u{E004}';
const ENTER: char = '\u{E007}';
const LONG: Duration = Duration::from_secs(60);

/// The API's own picture for the request the page made (same picture, prompt, steps and seed).
async fn api_picture(
    server: &Server,
    key: Option<&str>,
    prompt: &str,
    seed: &str,
) -> image::RgbImage {
    let mut req = client()
        .post(server.url("/v1/images/edits"))
        .multipart(edit_form(
            test_png(),
            &[("prompt", prompt), ("steps", "3"), ("seed", seed)],
        ));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let v: Value = req.send().await.unwrap().json().await.unwrap();
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(
            v["data"][0]["b64_json"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}")),
        )
        .unwrap();
    decode_png(&png)
}

/// Picture and instruction in, the plan shown; returns the tier the page shows.
async fn picture_and_plan(b: &Browser, prompt: &str) -> String {
    b.choose_file("image", &test_image()).await;
    b.until(
        "document.getElementById('image-info').textContent.includes('×')",
        "the picture's size",
        LONG,
    )
    .await;
    b.type_into("prompt", prompt).await;
    b.until(
        "!document.getElementById('plan-facts').hidden && document.getElementById('plan-tier').textContent",
        "the plan",
        LONG,
    )
    .await;
    b.until(
        "document.getElementById('image-info').textContent.includes('works at')",
        "the working size",
        LONG,
    )
    .await;
    b.text("plan-tier").await
}

/// Sets steps and seed, clicks Edit, and waits for the result.
async fn edit(b: &Browser, seed: &str) -> Vec<String> {
    b.js("document.getElementById('options').open = true;")
        .await;
    b.type_into("steps", "3").await;
    b.type_into("seed", seed).await;
    b.record_progress().await;
    b.click("edit").await;
    b.until(
        "!document.getElementById('result').hidden && document.getElementById('after-img').naturalWidth > 0 && document.getElementById('progress-text').textContent.startsWith('Done')",
        "the result",
        LONG,
    )
    .await;
    b.progress_seen().await
}

#[test]
fn a_persons_whole_path_in_chromium() {
    let server = Server::start(&[]);
    crate::serve::rt().block_on(async {
        let b = Browser::start(DESKTOP, &[]).await;
        b.open(&server.base).await;
        b.shot("01-empty").await;

        let tier = picture_and_plan(&b, ACTION).await;
        let (w, h) = image::image_dimensions(test_image()).unwrap();
        let plan: Value = client()
            .post(server.url("/v1/plan"))
            .json(&json!({"prompt": ACTION, "image_width": w, "image_height": h}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(tier, plan["plan"]["tier"].as_str().unwrap(), "{plan}");
        let frames_shown = b.text("plan-frames").await;
        assert!(
            frames_shown.starts_with(&plan["plan"]["reasoning_frames"].to_string()),
            "{frames_shown} vs {plan}"
        );
        assert!(b.text("plan-flops").await.contains("chronoedit-reasoning"));
        b.shot("02-picture-and-plan").await;

        let seen = edit(&b, "7").await;
        // Live progress: steps counted up to the end, then done.
        assert!(
            seen.iter().any(|t| t.contains("step 3 of 3") || t.contains("Step 3 of 3") || t.starts_with("Decoding")),
            "progress never reached the last step: {seen:?}"
        );
        assert!(seen.last().unwrap().starts_with("Done"), "{seen:?}");
        assert_eq!(
            b.js("return document.getElementById('progress').value;").await.as_f64(),
            Some(1.0)
        );
        b.shot("03-result").await;

        // The result differs from the input and is the API's picture for the same seed.
        let after = b.img_pixels("after-img").await;
        let before = b.img_pixels("before-img").await;
        assert_eq!(before, image::open(test_image()).unwrap().to_rgb8(), "before is the input");
        assert_ne!(after, before, "the edit changed nothing");
        let api = api_picture(&server, None, ACTION, "7").await;
        assert_eq!(after, api, "the page's result is not the API's picture for seed 7");

        // The SRM mask as an overlay.
        b.click("srm-toggle").await;
        b.until(
            "!document.getElementById('srm-img').hidden && document.getElementById('srm-img').naturalWidth > 0",
            "the SRM overlay",
            LONG,
        )
        .await;
        b.shot("04-srm-mask").await;
        b.click("srm-toggle").await;

        // Step through the reasoning frames.
        let first = b.text("frame-caption").await;
        assert!(first.starts_with("Frame 1 of "), "{first}");
        let n: usize = first
            .trim_start_matches("Frame 1 of ")
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(n >= 3, "{first}");
        let mut captions = vec![first];
        for _ in 1..n {
            b.click("frame-next").await;
            captions.push(b.text("frame-caption").await);
        }
        assert!(captions[n - 1].contains(&format!("Frame {n} of {n}")), "{captions:?}");
        assert!(captions[1].contains("reasoning"), "{captions:?}");
        assert_eq!(
            b.js("return document.getElementById('frame-next').disabled;").await,
            json!(true)
        );
        b.js("document.getElementById('frame-slider').value = 1; document.getElementById('frame-slider').dispatchEvent(new Event('input'));").await;
        b.shot("05-reasoning-frame").await;

        // Download: the file is the API's picture.
        b.click("download").await;
        let (name, bytes) = b.downloaded().await;
        assert!(name.starts_with("physedit-edit_"), "{name}");
        assert_eq!(decode_png(&bytes), api, "the downloaded picture");

        // Edit this result further: the output becomes the input.
        b.click("again").await;
        b.until(
            "document.getElementById('image-info').textContent.startsWith('edit-')",
            "the result as the new input",
            LONG,
        )
        .await;
        b.type_into("prompt", AGAIN).await;
        edit(&b, "8").await;
        let before2 = b.img_pixels("before-img").await;
        assert_eq!(before2, api, "the second edit starts from the first one's result");
        let history = b
            .js("return [...document.querySelectorAll('#history li span:first-of-type')].map(s => s.textContent);")
            .await;
        let history: Vec<String> = serde_json::from_value(history).unwrap();
        assert_eq!(history.len(), 2, "{history:?}");
        assert!(history[0].starts_with(AGAIN) && history[1].starts_with(ACTION), "{history:?}");
        b.shot("06-edit-again-and-history").await;
        // The history reopens the first edit from the server.
        b.js("document.querySelectorAll('#history li button')[1].click();")
            .await;
        b.until(
            "document.getElementById('compare').classList.contains('solo') && document.getElementById('after-img').complete",
            "the first edit reopened",
            LONG,
        )
        .await;
        b.until(
            "document.getElementById('download').download.length > 0",
            "the reopened edit",
            LONG,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(b.img_pixels("after-img").await, api, "the reopened first edit");
        b.client.close().await.unwrap();
    });
}

#[test]
fn with_a_key_required_the_page_asks_and_the_api_refuses_without() {
    let server = Server::start(&["--api-key", "sk-browser"]);
    crate::serve::rt().block_on(async {
        let b = Browser::start(DESKTOP, &[]).await;
        b.client.goto(&server.base).await.unwrap();
        b.until(
            "!document.getElementById('key-panel').hidden",
            "the key panel",
            LONG,
        )
        .await;
        // Without the key the plan is refused: nothing is shown but the request for a key.
        assert!(b.text("server-status").await.contains("needs an API key"));
        b.type_into("key", "sk-wrong").await;
        b.js("document.getElementById('key-form').requestSubmit();").await;
        b.until(
            "document.getElementById('err-key').textContent.length > 0",
            "the API's refusal of a wrong key",
            LONG,
        )
        .await;
        let refusal = b.text("err-key").await;
        let api: Value = client()
            .get(server.url("/v1/models"))
            .bearer_auth("sk-wrong")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(refusal, api["error"]["message"].as_str().unwrap());
        b.shot("07-key-refused").await;
        b.type_into("key", "sk-browser").await;
        b.js("document.getElementById('key-form').requestSubmit();").await;
        b.until(
            "document.getElementById('server-status').textContent.startsWith('Model')",
            "the page connecting with the key",
            LONG,
        )
        .await;
        // Kept for the tab only.
        assert_eq!(
            b.js("return [sessionStorage.getItem('physedit.key'), localStorage.getItem('physedit.key')];").await,
            json!(["sk-browser", null])
        );
        picture_and_plan(&b, ACTION).await;
        edit(&b, "7").await;
        let after = b.img_pixels("after-img").await;
        assert_eq!(after, api_picture(&server, Some("sk-browser"), ACTION, "7").await);
        b.shot("08-with-key").await;
        b.client.close().await.unwrap();
    });
}

#[test]
fn a_text_file_as_picture_shows_the_apis_message_next_to_the_picture() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("notes.txt");
    std::fs::write(&txt, "not a picture\n").unwrap();
    crate::serve::rt().block_on(async {
        let b = Browser::start(DESKTOP, &[]).await;
        b.open(&server.base).await;
        b.choose_file("image", &txt).await;
        b.type_into("prompt", ACTION).await;
        b.click("edit").await;
        b.until(
            "document.getElementById('err-image').textContent.length > 0",
            "the API's message next to the picture",
            LONG,
        )
        .await;
        let shown = b.text("err-image").await;
        let form = reqwest::multipart::Form::new()
            .part(
                "image",
                reqwest::multipart::Part::bytes(b"not a picture\n".to_vec()).file_name("notes.txt"),
            )
            .text("prompt", ACTION);
        let api: Value = client()
            .post(server.url("/v1/edits"))
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(shown, api["error"]["message"].as_str().unwrap(), "{api}");
        assert_eq!(api["error"]["param"], "image");
        assert_eq!(
            b.js("return document.getElementById('image').getAttribute('aria-invalid');")
                .await,
            json!("true")
        );
        b.shot("09-error-text-file").await;
        b.client.close().await.unwrap();
    });
}

#[test]
fn at_phone_width_by_keyboard_alone() {
    let server = Server::start(&[]);
    crate::serve::rt().block_on(async {
        let b = Browser::start(PHONE, &["--force-dark-mode"]).await;
        b.open(&server.base).await;
        // Dark mode: the page follows the system's preference.
        assert_eq!(
            b.js("return matchMedia('(prefers-color-scheme: dark)').matches;").await,
            json!(true)
        );
        let bg = b.js("return getComputedStyle(document.body).backgroundColor;").await;
        assert_eq!(bg, json!("rgb(21, 23, 27)"), "the dark background");
        // Nothing wider than the phone.
        let (sw, iw) = {
            let v = b
                .js("return [document.documentElement.scrollWidth, window.innerWidth];")
                .await;
            (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
        };
        assert!(sw <= iw, "the page is {sw} px wide in a {iw} px window");
        // Tab from the top: the focus order reaches every control, in reading order.
        b.js("document.getElementById('options').open = true; document.activeElement.blur();")
            .await;
        let mut order = Vec::new();
        b.press(TAB).await;
        for _ in 0..40 {
            let id = b
                .js("const a = document.activeElement; return a.id || a.tagName.toLowerCase();")
                .await;
            let id = id.as_str().unwrap().to_string();
            if order.contains(&id) {
                break;
            }
            order.push(id);
            b.press(TAB).await;
        }
        let pos = |id: &str| {
            order
                .iter()
                .position(|o| o == id)
                .unwrap_or_else(|| panic!("#{id} is not reachable by Tab: {order:?}"))
        };
        for pair in [
            ("image", "prompt"),
            ("prompt", "recipe"),
            ("recipe", "steps"),
            ("steps", "guidance"),
            ("guidance", "seed"),
            ("seed", "lora"),
            ("lora", "mask-draw"),
            ("mask-draw", "mask-centre"),
            ("mask-centre", "edit"),
            ("edit", "history-clear"),
        ] {
            assert!(pos(pair.0) < pos(pair.1), "{pair:?} out of order: {order:?}");
        }
        for id in ["mask-brush", "mask-clear", "mask-file"] {
            pos(id);
        }
        // The whole edit by keyboard: focus moves by Tab, the file input takes its path as a
        // keyboard user's file dialog would give it, Space and Enter act.
        let tab_to = |id: &'static str| {
            let b = &b;
            async move {
                for _ in 0..40 {
                    let a = b.js("return document.activeElement.id;").await;
                    if a == json!(id) {
                        return;
                    }
                    b.press(TAB).await;
                }
                panic!("Tab never reached #{id}");
            }
        };
        b.js("document.activeElement.blur();").await;
        b.press(TAB).await;
        tab_to("image").await;
        b.client
            .active_element()
            .await
            .unwrap()
            .send_keys(test_image().to_str().unwrap())
            .await
            .unwrap();
        b.until(
            "document.getElementById('image-info').textContent.includes('×')",
            "the picture",
            LONG,
        )
        .await;
        tab_to("prompt").await;
        b.client.active_element().await.unwrap().send_keys(ACTION).await.unwrap();
        b.until("!document.getElementById('plan-facts').hidden", "the plan", LONG).await;
        tab_to("steps").await;
        b.client.active_element().await.unwrap().send_keys("3").await.unwrap();
        // Space on the mask button: the centre third may change.
        tab_to("mask-centre").await;
        b.press(' ').await;
        assert!(b.text("mask-info").await.contains("painted areas"));
        tab_to("edit").await;
        b.record_progress().await;
        b.press(ENTER).await;
        b.until(
            "!document.getElementById('result').hidden && document.getElementById('after-img').naturalWidth > 0 && document.getElementById('progress-text').textContent.startsWith('Done')",
            "the result",
            LONG,
        )
        .await;
        b.shot("10-phone-result").await;
        tab_to("frame-next").await;
        b.press(ENTER).await;
        assert!(b.text("frame-caption").await.starts_with("Frame 2 of"));
        let (sw, iw) = {
            let v = b
                .js("return [document.documentElement.scrollWidth, window.innerWidth];")
                .await;
            (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
        };
        assert!(sw <= iw, "the result is {sw} px wide in a {iw} px window");
        b.js("window.scrollTo(0, 0);").await;
        b.shot("11-phone-top").await;
        b.client.close().await.unwrap();
    });
}
