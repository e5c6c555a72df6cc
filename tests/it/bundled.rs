//! The bundled world model (models/physedit-world) is what `physedit edit` uses without `--model`:
//! it must load through the engine and perform the README's first edit.
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Mean colour of the top third of an image: the backdrop in world scenes (objects rest lower).
fn backdrop_colour(path: &Path) -> [f64; 3] {
    let img = image::open(path).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let mut sum = [0f64; 3];
    let mut n = 0f64;
    for y in 0..h / 3 {
        for x in 0..w {
            let p = img.get_pixel(x, y);
            for c in 0..3 {
                sum[c] += p[c] as f64;
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|c| (a[c] - b[c]).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn readme_edit_with_the_bundled_model_changes_the_backdrop() {
    let suite = root().join("data/world/test");
    let key = "test_000023";
    let prompt = "Swap the scenery behind the objects for plain peach.";
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("edited.png");
    let res = Command::new(env!("CARGO_BIN_EXE_physedit"))
        .args(["edit", "--image"])
        .arg(suite.join("images").join(format!("{key}.png")))
        .args(["--prompt", prompt, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let source = backdrop_colour(&suite.join("images").join(format!("{key}.png")));
    let target = backdrop_colour(&suite.join("targets").join(format!("{key}.png")));
    let edited = backdrop_colour(&out);
    // The edit must move the backdrop from the source's colour to the requested one: the edited
    // backdrop is closer to the target's than to the source's, by a clear margin.
    let (to_target, to_source) = (distance(edited, target), distance(edited, source));
    eprintln!("backdrop: source {source:?} target {target:?} edited {edited:?}");
    assert!(
        to_target * 2.0 < to_source,
        "edited backdrop is {to_target:.1} from the target and {to_source:.1} from the source"
    );
}
