"""Edit a picture through `physedit serve` with the official `openai` Python client, unchanged but
for base_url; checks the answer against `physedit edit` with the same seed when asked to.

    python3 -m venv /tmp/venv-openai && /tmp/venv-openai/bin/pip install openai
    physedit serve --listen 127.0.0.1:8080 &       # with --api-key KEY: pass --api-key KEY here too
    /tmp/venv-openai/bin/python tools/serve/openai_edit.py --base-url http://127.0.0.1:8080/v1 \
        --image data/world/test/images/test_000023.png \
        --prompt "Swap the scenery behind the objects for plain peach." -o edited.png \
        [--compare cli.png]   # cli.png from: physedit edit ... --seed 0 -o cli.png
"""
import argparse
import base64
import os
import sys

from openai import OpenAI


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
    ap.add_argument("--image", required=True)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--model", default="gpt-image-1")
    ap.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "unused"),
                    help="one of the server's --api-key values [default: $OPENAI_API_KEY]")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--compare", help="a PNG the answer must equal byte for byte in its pixels")
    a = ap.parse_args()

    client = OpenAI(base_url=a.base_url, api_key=a.api_key)
    with open(a.image, "rb") as f:
        result = client.images.edit(model=a.model, image=f, prompt=a.prompt)
    png = base64.b64decode(result.data[0].b64_json)
    with open(a.output, "wb") as f:
        f.write(png)
    print(f"created={result.created} size={getattr(result, 'size', None)} "
          f"revised_prompt={result.data[0].revised_prompt!r} -> {a.output} ({len(png)} bytes)")
    extra = (result.model_extra or {}).get("physedit") or {}
    plan = extra.get("plan") or {}
    print(f"plan: recipe={plan.get('recipe')} tier={plan.get('tier')} steps={plan.get('steps')}")

    # The error path: the client raises its own exception types on our error shape.
    try:
        with open(a.image, "rb") as f:
            client.images.edit(model=a.model, image=f, prompt=" ")
        print("error: an empty prompt was accepted", file=sys.stderr)
        return 1
    except Exception as e:  # openai.BadRequestError
        print(f"empty prompt -> {type(e).__name__}: {getattr(e, 'status_code', None)}")

    if a.compare:
        try:
            from PIL import Image
            import io
            got = Image.open(io.BytesIO(png)).convert("RGB")
            want = Image.open(a.compare).convert("RGB")
            same = got.size == want.size and got.tobytes() == want.tobytes()
        except ImportError:
            same = open(a.compare, "rb").read() == png
        print("same picture as the CLI's:", same)
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
