"""The official `openai` Python client against `physedit serve` started with API keys: an edit with
the key works, none or a wrong key is refused (AuthenticationError, 401), and another key cannot
fetch the job. tests/it/serve_edge.rs runs it when Python has the `openai` package.

    physedit serve --api-key sk-alice-0123456789 --api-key sk-bob-9876543210 &
    python3 tools/serve/openai_keys.py --base-url http://127.0.0.1:8080/v1 \
        --key sk-alice-0123456789 --other-key sk-bob-9876543210 \
        --image data/world/test/images/test_000023.png --prompt "Make the ball red"
"""
import argparse
import sys
import urllib.error
import urllib.request

import openai
from openai import OpenAI


def edit(client, a):
    with open(a.image, "rb") as f:
        return client.images.edit(model="gpt-image-1", image=f, prompt=a.prompt,
                                  extra_body={"steps": "2"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--other-key", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--prompt", required=True)
    a = ap.parse_args()

    result = edit(OpenAI(base_url=a.base_url, api_key=a.key, max_retries=0), a)
    job = (result.model_extra or {})["physedit"]["id"]
    assert result.data[0].b64_json, "no picture"
    print("with the key: ok", job)

    # The client refuses to start without a key; an empty Authorization is sent as none.
    for label, key in [("without a key", ""), ("with a wrong key", "sk-wrong-00000000")]:
        client = OpenAI(base_url=a.base_url, api_key=key or "unset", max_retries=0,
                        default_headers={"Authorization": ""} if not key else None)
        try:
            edit(client, a)
            print(f"{label}: accepted", file=sys.stderr)
            return 1
        except openai.AuthenticationError as e:
            print(f"{label}: AuthenticationError {e.status_code}")

    # The job's status: another key sees nothing; the owner sees it.
    url = f"{a.base_url}/edits/{job}"
    for label, key in [("another key on the job", a.other_key), ("the owner on the job", a.key)]:
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(req) as r:
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        print(f"{label}: {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
