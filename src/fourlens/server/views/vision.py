"""The vision playground: pick a zoo image or upload one, pick attribution methods, see the maps; a
channel's top-9 crops (with their deconvnet reconstructions) and its deconvnet projection of the image."""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from typing import Any

from fourlens.errors import BadInputError
from fourlens.server import vision_calls
from fourlens.server.jobs import Progress
from fourlens.server.state import Dashboard, NotFoundError

MAX_UPLOADS = 32
MAX_METHODS = 6
IMAGE_ID = re.compile(r"(g\d{1,3}|u[0-9a-f]{16})")


class Playground:
    """The playground's images: the fixed zoo gallery and the last `MAX_UPLOADS` uploads (memory only)."""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self._uploads: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def model(self) -> Any:
        return self.dash.cached_object(("vision-model",), vision_calls.model)

    def gallery(self) -> Any:
        return self.dash.cached_object(("vision-gallery",), vision_calls.gallery)

    def setup(self, progress: Progress) -> dict:
        progress.say("loading the zoo model (trained on first use, then cached)")
        net = self.model()
        return {"methods": vision_calls.methods(), "default_methods": list(vision_calls.DEFAULT_METHODS),
                "classes": vision_calls.classes(), "layers": vision_calls.layers(net),
                "gallery": int(self.gallery().shape[0])}

    def add_upload(self, data: bytes, content_type: str) -> str:
        image = vision_calls.decode_upload(data, content_type)
        upload_id = "u" + secrets.token_hex(8)
        with self._lock:
            self._uploads[upload_id] = image
            while len(self._uploads) > MAX_UPLOADS:
                self._uploads.popitem(last=False)
        return upload_id

    def image(self, image_id: str) -> Any:
        """(1, 3, H, W) for a gallery id (g0, g1, ...) or an upload id."""
        if not IMAGE_ID.fullmatch(image_id):
            raise BadInputError(f"image must be a gallery image (g0-g{vision_calls.GALLERY_SIZE - 1}) or an "
                                f"upload id; got {image_id[:40]!r}")
        if image_id.startswith("g"):
            number = int(image_id[1:])
            gallery = self.gallery()
            if number >= gallery.shape[0]:
                raise NotFoundError(f"the gallery has images g0-g{gallery.shape[0] - 1}; got {image_id}")
            return gallery[number:number + 1]
        with self._lock:
            found = self._uploads.get(image_id)
        if found is None:
            raise NotFoundError(f"no upload {image_id} (uploads are kept in memory, the last {MAX_UPLOADS})")
        return found

    def png(self, image_id: str) -> str:
        return vision_calls.png_base64(vision_calls.picture(self.image(image_id)[0]))

    def explain(self, image_id: str, methods: list[str]) -> dict:
        known = vision_calls.methods()
        unknown = [m for m in methods if m not in known]
        if unknown or not methods:
            raise BadInputError(f"unknown method(s) {', '.join(unknown) or '(none given)'}; choose from "
                                f"{', '.join(known)}")
        if len(methods) > MAX_METHODS:
            raise BadInputError(f"pick at most {MAX_METHODS} methods at once; got {len(methods)}")
        return {"image": image_id, **vision_calls.explain(self.model(), self.image(image_id), methods)}

    def _layer(self, layer: str, channel: int) -> None:
        found = {entry["name"]: entry["channels"] for entry in vision_calls.layers(self.model())}
        if layer not in found:
            raise NotFoundError(f"no conv layer {layer!r}; the model's conv layers: {', '.join(found)}")
        if not 0 <= channel < found[layer]:
            raise BadInputError(f"layer {layer} has channels 0-{found[layer] - 1}; got {channel}")

    def top_nine(self, layer: str, channel: int) -> dict:
        self._layer(layer, channel)
        net = self.model()
        images = self.dash.cached_object(("vision-index-images",), vision_calls.index_images)
        index = self.dash.cached_object(("vision-index",), lambda: vision_calls.activation_index(net, images))
        return {"layer": layer, "channel": channel, "png": vision_calls.top_nine(index, layer, channel, images, net)}

    def deconvnet(self, image_id: str, layer: str, channel: int) -> dict:
        self._layer(layer, channel)
        return {"image": image_id, "layer": layer, "channel": channel,
                "png": vision_calls.deconvnet(self.model(), self.image(image_id), layer, channel)}
