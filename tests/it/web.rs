//! The API the web page uses, over HTTP against a real `physedit serve` with the bundled model:
//! `POST /v1/plan` (checked against `physedit cost --prompt`, the same numbers), `GET /v1/recipes`,
//! a job's frames, trajectory GIF and SRM mask, and the page's own files (content types, caching,
//! Content-Security-Policy). The browser tests are in `web_browser.rs`.
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::serve::{
    assert_error_shape, client, decode_png, rt, submit_async, test_image, wait_terminal, Server,
    BIN,
};

const ACTION: &str = "Make the ball roll off the table";

/// `physedit cost` on the bundled model for one prompt, as JSON.
fn cli_cost(prompt: &str, recipe: &str, height: usize, width: usize) -> Value {
    let o = Command::new(BIN)
        .args(["cost", "--model"])
        .arg(crate::serve::root().join("models/physedit-world"))
        .args(["--prompt", prompt, "--recipe", recipe])
        .args([
            "--height",
            &height.to_string(),
            "--width",
            &width.to_string(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn plan_endpoint_gives_the_numbers_physedit_cost_prints() {
    let server = Server::start(&[]);
    let rt = rt();
    let c = client();
    let (w, h) = image::image_dimensions(test_image()).unwrap();
    for (prompt, recipe) in [
        (ACTION, "physedit"),
        ("Turn the background plain peach", "physedit"),
        (ACTION, "chronoedit-short"),
    ] {
        let v: Value = rt.block_on(async {
            let r = c
                .post(server.url("/v1/plan"))
                .json(&json!({"prompt": prompt, "recipe": recipe, "image_width": w, "image_height": h}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json().await.unwrap()
        });
        let (ww, wh) = (
            v["working_size"]["width"].as_u64().unwrap() as usize,
            v["working_size"]["height"].as_u64().unwrap() as usize,
        );
        let cli = cli_cost(prompt, recipe, wh, ww);
        // Same code on both sides, same JSON numbers: exact equality.
        for k in ["plan", "cost", "speedup_vs_reasoning", "speedup_vs_short"] {
            assert_eq!(
                v[k], cli[k],
                "{k} of {prompt:?} ({recipe}): API {v} vs CLI {cli}"
            );
        }
        assert_eq!(
            v["num_frames"].as_u64().unwrap(),
            v["plan"]["reasoning_frames"].as_u64().unwrap() * 4 + 5,
            "{v}"
        );
    }
}

#[test]
fn plan_endpoint_errors_name_the_field() {
    let server = Server::start(&[]);
    let rt = rt();
    let c = client();
    let cases: [(Value, &str, &str); 5] = [
        (
            json!({"prompt": "  "}),
            "prompt",
            "`prompt` is missing or empty",
        ),
        (
            json!({"prompt": "x", "recipe": "fastest"}),
            "recipe",
            "unknown recipe",
        ),
        (
            json!({"prompt": "x", "colour": 1}),
            "colour",
            "unknown field `colour`",
        ),
        (
            json!({"prompt": "x", "image_width": 64}),
            "image_height",
            "give `image_height`",
        ),
        (
            json!({"prompt": "x", "image_width": 64000, "image_height": 10}),
            "image_width",
            "aspect",
        ),
    ];
    rt.block_on(async {
        for (body, param, words) in cases {
            let r = c
                .post(server.url("/v1/plan"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_client_error(), "{body}: {}", r.status());
            let v: Value = r.json().await.unwrap();
            let msg = assert_error_shape(&v);
            assert_eq!(v["error"]["param"], param, "{body}: {v}");
            assert!(msg.contains(words), "{body}: {msg}");
        }
        let r = c
            .post(server.url("/v1/plan"))
            .body("prompt=x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_json", "{v}");
    });
}

#[test]
fn recipes_list_every_recipe_with_a_line() {
    let server = Server::start(&[]);
    let v: Value = rt().block_on(async {
        client()
            .get(server.url("/v1/recipes"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let data = v["data"].as_array().unwrap();
    let ids: Vec<&str> = data.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 11, "{ids:?}");
    for id in [
        "physedit",
        "chronoedit-reasoning",
        "comfy-template",
        "no-reasoning",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for r in data {
        let d = r["description"].as_str().unwrap();
        assert!(d.len() > 10 && !d.contains('\n'), "{r}");
    }
    let defaults: Vec<_> = data.iter().filter(|r| r["default"] == true).collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["id"], "physedit");
}

#[test]
fn a_jobs_frames_trajectory_and_srm_mask() {
    let server = Server::start(&[]);
    let rt = rt();
    let c = client();
    rt.block_on(async {
        let r = submit_async(
            &c,
            &server,
            &[("prompt", ACTION), ("steps", "3"), ("seed", "5")],
        )
        .await;
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        // Before it has finished the artifacts are refused (or the job is already done).
        let early = c
            .get(server.url(&format!("/v1/edits/{id}/frames")))
            .send()
            .await
            .unwrap();
        assert!(
            [200, 409].contains(&early.status().as_u16()),
            "{}",
            early.status()
        );
        let done = wait_terminal(&c, &server, &id, Duration::from_secs(120)).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let pic = &done["result"]["pictures"][0];
        assert_eq!(
            pic["plan"]["srm"], true,
            "this instruction's plan runs the SRM: {pic}"
        );
        let get = |path: String| {
            let c = c.clone();
            let url = server.url(&path);
            async move { c.get(url).send().await.unwrap() }
        };
        let list: Value = get(format!("/v1/edits/{id}/frames"))
            .await
            .json()
            .await
            .unwrap();
        let n = list["count"].as_u64().unwrap() as usize;
        assert!(n >= 3, "input, reasoning frames, output: {list}");
        let (h, w) = (
            pic["height"].as_u64().unwrap() as u32,
            pic["width"].as_u64().unwrap() as u32,
        );
        let mut frames = Vec::new();
        for k in 0..n {
            let r = get(format!("/v1/edits/{id}/frames/{k}")).await;
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "image/png");
            let f = decode_png(&r.bytes().await.unwrap());
            assert_eq!(f.dimensions(), (w, h), "frame {k}");
            frames.push(f);
        }
        // The last frame is the edited picture at the working size (the bundled model works at its
        // native size and answers at the input's; frames are at the working size).
        let picture = decode_png(
            &get(format!("/v1/edits/{id}/image"))
                .await
                .bytes()
                .await
                .unwrap(),
        );
        let resized = image::imageops::resize(
            &frames[n - 1],
            picture.width(),
            picture.height(),
            image::imageops::FilterType::CatmullRom,
        );
        if picture.dimensions() == (w, h) {
            assert_eq!(frames[n - 1], picture, "the last frame is the picture");
        } else {
            assert_eq!(resized.dimensions(), picture.dimensions());
        }
        assert_ne!(frames[0], frames[n - 1], "the trajectory does not move");
        let r = get(format!("/v1/edits/{id}/frames/{n}")).await;
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["param"], "index", "{v}");

        let r = get(format!("/v1/edits/{id}/trajectory.gif")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/gif");
        let gif = r.bytes().await.unwrap();
        let dec = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(gif.to_vec())).unwrap();
        use image::AnimationDecoder;
        assert_eq!(dec.into_frames().count(), n);

        let r = get(format!("/v1/edits/{id}/srm-mask")).await;
        assert_eq!(r.status(), 200);
        let mask = decode_png(&r.bytes().await.unwrap());
        assert_eq!(mask.dimensions(), (w, h));

        // A plan without reasoning frames has no SRM mask, and says so.
        let r = submit_async(
            &c,
            &server,
            &[
                ("prompt", ACTION),
                ("steps", "2"),
                ("recipe", "no-reasoning"),
            ],
        )
        .await;
        let id2 = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let done = wait_terminal(&c, &server, &id2, Duration::from_secs(120)).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let r = get(format!("/v1/edits/{id2}/srm-mask")).await;
        assert_eq!(r.status(), 404);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "no_srm_mask", "{v}");
        // Another job's id that does not exist.
        let r = get("/v1/edits/edit_00000000000000000000000000000000/frames".into()).await;
        assert_eq!(r.status(), 404);
    });
}

#[test]
fn the_page_and_its_assets_carry_types_caching_and_csp() {
    let server = Server::start(&["--api-key", "sk-web-test"]);
    let rt = rt();
    let c = client();
    rt.block_on(async {
        for (path, ty) in [
            ("/", "text/html; charset=utf-8"),
            ("/assets/app.js", "text/javascript; charset=utf-8"),
            ("/assets/api.js", "text/javascript; charset=utf-8"),
            ("/assets/style.css", "text/css; charset=utf-8"),
            ("/assets/icon.svg", "image/svg+xml"),
        ] {
            // The page is public (it holds no secret); the API behind it needs the key.
            let r = c.get(server.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            let h = r.headers().clone();
            assert_eq!(h["content-type"], ty, "{path}");
            assert_eq!(h["cache-control"], "no-cache", "{path}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.starts_with("default-src 'self'"), "{csp}");
            assert!(!csp.contains("unsafe"), "{csp}");
            let etag = h["etag"].to_str().unwrap().to_string();
            let body = r.bytes().await.unwrap();
            assert!(!body.is_empty());
            let r = c
                .get(server.url(path))
                .header("if-none-match", &etag)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 304, "{path} revalidated with its ETag");
        }
        let html = c
            .get(server.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // No inline script or style, nothing from another origin.
        assert!(
            !html.contains("<script>") && !html.contains("style=\""),
            "inline code"
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "another origin"
        );
        let r = c
            .get(server.url("/assets/nothing.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = c
            .get(server.url("/assets/index.html"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        for path in ["/v1/recipes", "/v1/models"] {
            let r = c.get(server.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 401, "{path} without the key");
        }
        let r = c
            .post(server.url("/v1/plan"))
            .json(&json!({"prompt": ACTION}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "/v1/plan without the key");
        let r = c
            .post(server.url("/v1/plan"))
            .bearer_auth("sk-web-test")
            .json(&json!({"prompt": ACTION}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "/v1/plan with the key");
    });
}

#[test]
fn plan_requests_count_against_the_rate_limit() {
    let server = Server::start(&["--rate-limit", "2", "--rate-burst", "2"]);
    let rt = rt();
    let c = client();
    let statuses: Vec<u16> = rt.block_on(async {
        let mut out = Vec::new();
        for _ in 0..6 {
            let r = c
                .post(server.url("/v1/plan"))
                .json(&json!({"prompt": ACTION}))
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        out
    });
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[test]
fn a_queued_job_tells_its_place_in_the_queue() {
    let server = Server::start(&[]);
    let rt = rt();
    let c = client();
    rt.block_on(async {
        let mut ids = Vec::new();
        for seed in ["1", "2", "3"] {
            let r = submit_async(
                &c,
                &server,
                &[("prompt", ACTION), ("steps", "40"), ("seed", seed)],
            )
            .await;
            assert_eq!(r.status(), 202);
            ids.push(
                r.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let mut places = Vec::new();
        for id in &ids {
            let v: Value = c
                .get(server.url(&format!("/v1/edits/{id}")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            places.push((
                v["status"].as_str().unwrap().to_string(),
                v["queue_position"].as_u64(),
            ));
        }
        // One worker: the last job waits behind at least one other, and a later job is further back.
        assert_eq!(places[2].0, "queued", "{places:?}");
        let last = places[2].1.expect("a queued job has a place");
        assert!(last >= 1, "{places:?}");
        if let ("queued", Some(p)) = (places[1].0.as_str(), places[1].1) {
            assert!(p < last, "{places:?}");
        }
        for (st, p) in &places {
            assert_eq!(st == "queued", p.is_some(), "{places:?}");
        }
        for id in &ids {
            c.delete(server.url(&format!("/v1/edits/{id}")))
                .send()
                .await
                .unwrap();
        }
    });
}
