"""Writes tests/fixtures/hub_layout/layout.json: the hub cache that huggingface_hub's
snapshot_download writes for the tiny pipeline (tests/fixtures/tiny_a/pipeline) served by a loopback
hub, as a sorted list of entries, which tests/it/hub.rs compares with the caches PhysEdit writes and
reads.

The loopback hub answers as huggingface.co does: `GET /api/models/{repo}/revision/{rev}` (sha,
siblings), `GET /api/models/{repo}/tree/{rev}` (the tree listing huggingface_hub >= 1.x asks for),
`HEAD|GET /{repo}/resolve/{commit}/{path}`: regular files answered directly with the git blob sha1 as
ETag; LFS files (*.safetensors) with a 302 to a CDN (another origin, as on huggingface.co), the
sha256 as X-Linked-Etag and the size as X-Linked-Size. tests/it/hub.rs serves the same files under
the same rules.

Entries: `blobs/<etag> <size>`, `refs/<rev> = <commit>`, `snapshots/<commit>/<path> -> <target>`;
the tree listing cache (`trees/`), `.no_exist/` and the lock folder are left out (PhysEdit writes
none of them; huggingface_hub does not need them to read a snapshot).

Usage: /work/venv-ref/bin/python tools/reference/hub_layout.py [--physedit target/debug/physedit]

With --physedit, also checks that the two share one cache (nothing is written then): PhysEdit fetches
the pipeline from the same loopback hub into a fresh cache, which diffusers then loads offline
(`ChronoEditPipeline.from_pretrained(repo, local_files_only=True)`); and PhysEdit edits offline from
the cache huggingface_hub wrote.
"""
import argparse
import subprocess
import hashlib
import http.server
import json
import os
import pathlib
import sys
import tempfile
import threading
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "tests" / "fixtures" / "tiny_a" / "pipeline"
OUT = ROOT / "tests" / "fixtures" / "hub_layout" / "layout.json"
REPO = "physedit-test/tiny-pipeline"
COMMIT = "5e1f0c3a9b7d2e4f6a8c0b1d3e5f7a9c2b4d6e8f"


def is_lfs(path):
    return path.endswith(".safetensors")


def blob_name(path, data):
    if is_lfs(path):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def repo_files():
    files = {}
    for p in sorted(PIPELINE.rglob("*")):
        if p.is_file():
            files[p.relative_to(PIPELINE).as_posix()] = p.read_bytes()
    return files


FILES = repo_files()
CDN_PORT = [0]


class Hub(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, code, headers, body=b""):
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json(self, value):
        body = json.dumps(value).encode()
        self.send(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        api = f"/api/models/{REPO}/"
        if path.startswith(api + "revision/"):
            return self.json({
                "id": REPO,
                "sha": COMMIT,
                "private": False,
                "siblings": [{"rfilename": f} for f in FILES],
            })
        if path.startswith(api + "tree/"):
            items = []
            for f, data in FILES.items():
                item = {"type": "file", "path": f, "size": len(data), "oid": blob_name("x", data)}
                if is_lfs(f):
                    item["lfs"] = {"oid": blob_name(f, data), "size": len(data), "pointerSize": 134}
                items.append(item)
            return self.json(items)
        resolve = f"/{REPO}/resolve/{COMMIT}/"
        if path.startswith(resolve):
            f = urllib.parse.unquote(path[len(resolve):])
            data = FILES[f]
            etag = blob_name(f, data)
            if is_lfs(f):
                return self.send(302, {
                    "Location": f"http://127.0.0.1:{CDN_PORT[0]}/cdn/{etag}",
                    "X-Repo-Commit": COMMIT,
                    "X-Linked-Etag": f'"{etag}"',
                    "X-Linked-Size": str(len(data)),
                    "ETag": '"redirect-etag"',
                    "Content-Length": "0",
                })
            return self.send(200, {
                "X-Repo-Commit": COMMIT,
                "ETag": f'"{etag}"',
                "Content-Length": str(len(data)),
            }, data)
        if path.startswith("/cdn/"):
            etag = path[len("/cdn/"):]
            data = next(d for f, d in FILES.items() if blob_name(f, d) == etag)
            return self.send(200, {"Content-Length": str(len(data)), "ETag": '"cdn"'}, data)
        self.send(404, {"X-Error-Code": "EntryNotFound", "Content-Length": "0"})


def layout(repo_dir):
    entries = []
    for dirpath, dirnames, filenames in os.walk(repo_dir):
        rel_dir = pathlib.Path(dirpath).relative_to(repo_dir)
        dirnames[:] = [d for d in dirnames if str(rel_dir / d) not in ("trees", ".no_exist")]
        for name in filenames:
            p = pathlib.Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            if p.is_symlink():
                entries.append(f"{rel} -> {os.readlink(p)}")
            elif rel.startswith("refs/"):
                entries.append(f"{rel} = {p.read_text()}")
            else:
                entries.append(f"{rel} {p.stat().st_size}")
    return sorted(entries)


def physedit_edit(binary, cache, endpoint, offline):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HUB_CACHE=cache, HF_HOME=os.path.join(cache, "home"), HF_ENDPOINT=endpoint)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    out = os.path.join(cache, "out.png")
    subprocess.run(
        [binary, "edit", "--model", REPO, "--image", str(PIPELINE.parent / "input.png"),
         "--prompt", "Turn the red apple into a yellow banana.", "--steps", "2", "--height", "32",
         "--width", "48", "--num-frames", "5", "-o", out],
        env=env, check=True)


def check_sharing(binary, endpoint, python_cache):
    physedit_edit(binary, python_cache, endpoint, offline=True)
    print("PhysEdit edited offline from the cache huggingface_hub wrote")
    with tempfile.TemporaryDirectory() as cache:
        physedit_edit(binary, cache, endpoint, offline=False)
        code = (
            "import diffusers;"
            f"p = diffusers.ChronoEditPipeline.from_pretrained('{REPO}', local_files_only=True);"
            "print(type(p).__name__, sorted(p.components))"
        )
        env = dict(os.environ, HF_HUB_CACHE=cache, HF_HUB_OFFLINE="1")
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        print("diffusers loaded offline the pipeline PhysEdit fetched")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--physedit", help="check cache sharing with this physedit binary")
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    cdn = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    CDN_PORT[0] = cdn.server_address[1]
    for s in (server, cdn):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{server.server_address[1]}"
        os.environ["HF_HUB_CACHE"] = cache
        os.environ["HF_HUB_DISABLE_XET"] = "1"
        os.environ.pop("HF_TOKEN", None)
        import huggingface_hub

        snapshot = huggingface_hub.snapshot_download(REPO, revision="main")
        repo_dir = pathlib.Path(cache) / ("models--" + REPO.replace("/", "--"))
        assert pathlib.Path(snapshot) == repo_dir / "snapshots" / COMMIT, snapshot
        for f, data in FILES.items():
            assert (pathlib.Path(snapshot) / f).read_bytes() == data, f
        if args.physedit:
            check_sharing(args.physedit, os.environ["HF_ENDPOINT"], cache)
            server.shutdown()
            cdn.shutdown()
            return
        result = {
            "made_by": f"huggingface_hub {huggingface_hub.__version__} snapshot_download",
            "repo": REPO,
            "commit": COMMIT,
            "revision": "main",
            "entries": layout(repo_dir),
        }
    server.shutdown()
    cdn.shutdown()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT} ({len(result['entries'])} entries)")


if __name__ == "__main__":
    main()
