"""The vision playground's API: zoo images and uploads, maps per method, a channel's top-9 and deconvnet
reconstruction; uploads limited in size and type, never unpickled."""

from __future__ import annotations

import base64
import io
import pickle

import pytest
from PIL import Image


def png(size: int = 80, colour: tuple = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def decoded(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_setup_lists_methods_layers_and_gallery(client):
    body = client.get("/api/vision").json()
    assert body["status"] == "ready"
    assert {"saliency", "integrated_gradients", "grad_cam", "occlusion"} <= set(body["methods"])
    assert body["classes"] == ["zebra", "leopard", "giraffe", "frog"]
    assert [layer["name"] for layer in body["layers"]] == ["features.0", "features.3", "features.6", "features.9"]
    assert body["gallery"] == 24
    image = client.get("/api/vision/image?image=g3")
    assert image.headers["content-type"] == "image/png" and Image.open(io.BytesIO(image.content)).size == (64, 64)


def test_explain_a_gallery_image(client):
    body = client.get("/api/vision/explain?image=g0&methods=saliency,grad_cam").json()
    assert [m["method"] for m in body["maps"]] == ["saliency", "grad_cam"]
    assert body["class"] in body["probabilities"] and abs(sum(body["probabilities"].values()) - 1) < 1e-5
    assert all(decoded(m["png"]).size == (64, 64) for m in body["maps"])


def test_upload_then_explain_top_nine_and_deconvnet(client):
    upload = client.post("/api/vision/upload", content=png(), headers={"Content-Type": "image/png"})
    assert upload.status_code == 200
    image = upload.json()["image"]
    assert image.startswith("u") and len(image) == 17
    maps = client.get(f"/api/vision/explain?image={image}&methods=integrated_gradients").json()["maps"]
    assert decoded(maps[0]["png"]).size == (64, 64)
    top = client.get("/api/vision/top?layer=features.6&channel=3").json()
    assert decoded(top["png"]).width > 200
    deconv = client.get(f"/api/vision/deconv?image={image}&layer=features.3&channel=2").json()
    assert decoded(deconv["png"]).size == (64, 64)


@pytest.mark.parametrize("content, kind, words", [
    (b"GIF89a...", "image/gif", "PNG or JPEG"),
    (b"\x89PNG\r\n\x1a\nthis is not really a png", "image/png", "could not be decoded"),
    (pickle.dumps({"evil": True}), "image/png", "first bytes do not match"),
    (b"\xff\xd8\xff\xe0 truncated", "image/jpeg", "could not be decoded"),
    (b"", "image/png", "empty"),
])
def test_bad_uploads(client, content, kind, words):
    response = client.post("/api/vision/upload", content=content, headers={"Content-Type": kind})
    assert response.status_code == 400 and words in response.json()["error"]


def test_oversized_upload_is_413(client):
    response = client.post("/api/vision/upload", content=b"\x89PNG\r\n\x1a\n" + b"0" * (4 * 1024 * 1024),
                           headers={"Content-Type": "image/png"})
    assert response.status_code == 413 and "at most 4,194,304" in response.json()["error"]


@pytest.mark.parametrize("query, status, words", [
    ("/api/vision/explain?image=g0&methods=saliency,rm -rf", 400, "unknown method"),
    ("/api/vision/explain?image=../../etc/passwd&methods=saliency", 400, "gallery image"),
    ("/api/vision/explain?image=g99&methods=saliency", 404, "g0-g23"),
    ("/api/vision/explain?image=u0123456789abcdef&methods=saliency", 404, "no upload"),
    ("/api/vision/top?layer=features.1&channel=0", 404, "no conv layer"),
    ("/api/vision/top?layer=features.0&channel=8", 400, "channels 0-7"),
    ("/api/vision/top?layer=features.0&channel=-1", 422, "malformed parameters"),
    ("/api/vision/image?image=/etc/passwd", 400, "gallery image"),
])
def test_bad_vision_parameters(client, query, status, words):
    response = client.get(query)
    assert response.status_code == status and words in response.json()["error"]
