"""`top_activations`: for every channel of every requested layer, the k images that excite it most.

The "top-9 per filter" grids (Zeiler & Fergus 2014, Fig. 2): run a dataset through the model
once and keep, per channel, the k images whose strongest spatial response is largest (one hit per image,
at its arg-max position). `ActivationIndex.crops` then cuts out the input patch each hit's unit can see,
using `receptive_field`: the deeper the layer, the larger the patch.

Streaming: a forward hook on each layer reduces the batch's map (B, C, H, W) to a per-image maximum and
its position (B, C) and merges it into the running (C, k) best on the model's device, so memory is
O(layers x channels x k) whatever the dataset size. Ties are broken by the lower image index (a stable
sort of [running best, batch] keeps that order), which makes the result independent of the batch size.
"""

from __future__ import annotations

import contextlib
import functools
import html
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from fourlens._progress import shown
from fourlens.errors import BadInputError
from fourlens.vision._trace import StopForward
from fourlens.vision.attribution._common import model_device, resolve_layer
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.receptive_field import ReceptiveField, receptive_field
from fourlens.vision.image_folder import ImageFolder


class Hit(NamedTuple):
    """One image's strongest response of a channel: the unit at (y, x) of the layer's map."""

    image_index: int
    y: int
    x: int
    value: float


@dataclass(frozen=True, eq=False)
class LayerTop:
    """The top-k hits of every channel of one layer; tensors are (channels, k), strongest first.

    `field` (the layer's `ReceptiveField`, None for features (n, C)) is computed on first use from the
    model's architecture: for branching nets the field is measured by gradients on growing inputs, which
    can take as long as the dataset pass (seconds at 224 px), and many searches only need the hits.
    """

    layer: str
    values: torch.Tensor
    image_index: torch.Tensor
    y: torch.Tensor
    x: torch.Tensor
    field_source: Callable[[], ReceptiveField | None] | None = dc_field(default=None, repr=False)

    @cached_property
    def field(self) -> ReceptiveField | None:
        return None if self.field_source is None else self.field_source()

    @property
    def channels(self) -> int:
        return int(self.values.shape[0])

    def top(self, channel: int) -> list[Hit]:
        """The hits of `channel`, strongest first."""
        if not 0 <= channel < self.channels:
            raise BadInputError(f"layer {self.layer!r} has channels 0..{self.channels - 1}; got {channel}")
        return [Hit(int(i), int(y), int(x), float(v)) for i, y, x, v in
                zip(self.image_index[channel], self.y[channel], self.x[channel], self.values[channel], strict=True)]

    def to_dict(self) -> dict:
        return {"layer": self.layer, "values": self.values.tolist(), "image_index": self.image_index.tolist(),
                "y": self.y.tolist(), "x": self.x.tolist(),
                "field": None if self.field is None else self.field.to_dict()}


@dataclass(frozen=True, eq=False)
class ActivationIndex:
    """Per requested layer (by `named_modules()` name), the top-k images of every channel."""

    layers: dict[str, LayerTop]
    k: int
    n_images: int
    image_shape: tuple[int, ...] = dc_field(default=())

    def __getitem__(self, layer: str) -> LayerTop:
        if layer not in self.layers:
            raise BadInputError(f"the index has no layer {layer!r}; it holds {', '.join(self.layers)}")
        return self.layers[layer]

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def crops(self, layer: str, channel: int, images: Any) -> list[torch.Tensor]:
        """The input patches (C, h, w) that fired `channel` of `layer`, strongest first.

        `images` is the dataset the index was built from, indexable by image number (a tensor
        (N, C, H, W), a list of (C, H, W) tensors, or an object with `.images`). Each patch is the
        receptive field of the hit's unit, clipped to the image (so units near the border give smaller
        patches).
        """
        entry = self[layer]
        if entry.field is None:
            raise BadInputError(f"layer {layer!r} has no spatial receptive field (not a conv/pool map); "
                                "crops exist for spatial layers only")
        images = getattr(images, "images", images)
        out = []
        for hit in entry.top(channel):
            try:
                image = images[hit.image_index]
            except (IndexError, TypeError) as exc:
                raise BadInputError(f"images[{hit.image_index}] failed ({exc}); pass the dataset the index was "
                                    f"built from ({self.n_images} images), indexable by image number") from exc
            if not isinstance(image, torch.Tensor) or image.ndim != 3:
                raise BadInputError(f"images[{hit.image_index}] is not an image tensor (C, H, W)")
            (r0, r1), (c0, c1) = entry.field.box(hit.y, hit.x, clip_to=tuple(image.shape[1:]))
            out.append(image[:, r0:r1, c0:c1])
        return out

    def to_dict(self) -> dict:
        return {"k": self.k, "n_images": self.n_images, "image_shape": list(self.image_shape),
                "layers": {name: top.to_dict() for name, top in self.layers.items()}}

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{top.channels}</td><td>"
                       f"{_field_text(top)}</td></tr>" for name, top in self.layers.items())
        return (f"<div><b>top-{self.k} activations</b> over {self.n_images} images<table><tr><th>layer</th>"
                f"<th>channels</th><th>receptive field</th></tr>{rows}</table></div>")


def _field_text(top: LayerTop) -> str:
    if top.field_source is None:
        return "-"
    if "field" not in top.__dict__:  # not computed yet: a notebook preview should not start it
        return "(computed on first use)"
    return str(top.field.size)


class _Running:
    """The running best of one layer, on the model's device: values/image/position, each (C, <= k).

    Per batch the hook makes one pass over the map, an `amax` over the flattened positions (a vectorised
    reduction; a max *with* indices over the whole map costs ~10x more on the CPU), giving the per-image
    values (C, B). These merge into the running (C, k) by a stable sort of the (C, k + B) candidates,
    and the arg-max position is looked up only for the winners (their maps copied out and scanned). On
    the CPU only the winners that come from this batch are looked up (picked with `nonzero`; after the
    first batches few images enter the top-k, about k/t per channel at batch t); on an accelerator that
    would wait for the device, so there all (C, k) winners are looked up with static shapes (k/B of the
    batch's maps). Nothing calls `.item()`.
    """

    def __init__(self, name: str, k: int, static: bool) -> None:
        self.name, self.k, self.static = name, k, static
        self.values: torch.Tensor | None = None
        self.where: torch.Tensor | None = None  # (C, k) image * H*W + position: one tensor, fewer kernels
        self.shape: tuple[int, ...] | None = None
        self.channel_row: torch.Tensor | None = None

    def update(self, out: Any, offset: int) -> None:
        if not isinstance(out, torch.Tensor) or out.ndim not in (2, 4):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise BadInputError(f"layer {self.name!r} returns {shape}; top_activations needs a map (n, C, H, W) "
                                "or features (n, C)")
        b, c = out.shape[:2]
        if self.shape is None:
            self.shape = tuple(out.shape[1:])
            self.channel_row = torch.arange(c, device=out.device).unsqueeze(1)  # (C, 1)
        elif tuple(out.shape[1:]) != self.shape:
            raise BadInputError(f"layer {self.name!r} gave {tuple(out.shape[1:])} after {self.shape} in earlier "
                                "batches; give images of one size (ImageFolder(path, size=N) resizes)")
        area = out[0, 0].numel()
        maps = out.detach().reshape(b * c, area)  # (B*C, H*W), a view for contiguous maps; features -> (B*C, 1)
        best = maps.amax(dim=1).view(b, c).T  # (C, B): per image its strongest unit's value
        held = 0 if self.values is None else self.values.shape[1]
        values = best if self.values is None else torch.cat([self.values, best], dim=1)  # (C, held + B)
        # A stable descending sort keeps equal values in image order (running entries are earlier images),
        # so ties never depend on batching. NaN sorts above every number, so a NaN image stays in the top
        # and is reported at the end without a per-batch check.
        order = torch.sort(values, dim=1, descending=True, stable=True).indices[:, :self.k]  # (C, k')
        local = (order - held).clamp(min=0)  # (C, k'): for winners from this batch, their image in it
        row = local * c + self.channel_row  # (C, k'): their index in `maps`
        base = (local + offset) * area  # (C, k'): their code without the position

        def locate(rows: torch.Tensor) -> torch.Tensor:
            """Flat position y * W + x of the first maximum of the given maps: (F,) -> (F,)."""
            # Copies F maps (F, H*W), not the batch. Advanced indexing, not index_select: index_select of a few
            # large rows can stall by orders of magnitude with several threads on a busy machine.
            return maps[rows].argmax(dim=1)

        if self.values is None:
            where = base + locate(row.flatten()).view_as(row)
        else:
            where = self.where.gather(1, order.clamp(max=held - 1))  # (C, k'), fresh entries replaced below
            fresh = order >= held  # (C, k'): the winners that come from this batch
            if self.static:
                where = torch.where(fresh, base + locate(row.flatten()).view_as(row), where)
            else:
                which = fresh.flatten().nonzero().squeeze(1)  # (F,) flat indices of the fresh winners
                where.view(-1)[which] = base.view(-1)[which] + locate(row.view(-1)[which])
        self.values, self.where = values.gather(1, order), where

    def result(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """values, image index, y, x: each (C, k) on the CPU."""
        assert self.values is not None and self.where is not None and self.shape is not None
        area = math.prod(self.shape[1:])
        width = self.shape[2] if len(self.shape) == 3 else 1
        where = self.where.cpu()
        pos = where % area
        return self.values.cpu(), where // area, pos // width, pos % width


def _as_batch(item: Any) -> torch.Tensor:
    item = getattr(item, "images", item)
    if isinstance(item, (tuple, list)) and item and isinstance(item[0], torch.Tensor):
        item = item[0]  # (images, labels) from a DataLoader
    if not isinstance(item, torch.Tensor) or item.ndim not in (3, 4):
        what = tuple(item.shape) if isinstance(item, torch.Tensor) else type(item).__name__
        raise BadInputError(f"each item of images must be an image (C, H, W) or a batch (n, C, H, W) tensor, "
                            f"or (images, labels); got {what}")
    if not item.is_floating_point():
        raise BadInputError(f"images must be floating point (e.g. x.float() / 255); got dtype {item.dtype}")
    return item


def _batches(images: Any, batch_size: int) -> Iterator[torch.Tensor]:
    """Batches (n, C, H, W): a tensor is cut into batch_size pieces; an iterable's batches pass as they are
    and its single images are grouped into batches of batch_size."""
    images = getattr(images, "images", images)
    if isinstance(images, ImageFolder):
        yield from images.batches(batch_size)
        return
    if isinstance(images, torch.Tensor):
        images = _as_batch(images)
        if images.ndim == 3:
            images = images.unsqueeze(0)
        for start in range(0, images.shape[0], batch_size):
            yield images[start:start + batch_size]
        return
    if not isinstance(images, Iterable):
        raise TypeError(f"images must be a tensor (N, C, H, W) or an iterable of batches; got {type(images).__name__}")
    singles: list[torch.Tensor] = []
    for item in images:
        batch = _as_batch(item)
        if batch.ndim == 3:
            singles.append(batch)
            if len(singles) == batch_size:
                yield torch.stack(singles)
                singles = []
            continue
        if singles:
            yield torch.stack(singles)
            singles = []
        yield batch
    if singles:
        yield torch.stack(singles)


def top_activations(model: nn.Module, images: torch.Tensor | str | Path | Iterable, layers: str | nn.Module |
                    Sequence[str | nn.Module], k: int = 9, batch_size: int = 64,
                    progress: bool = True) -> ActivationIndex:
    """One pass over `images`, keeping for every channel of every layer the k images it responds to most.

    `images`: a tensor (N, C, H, W), a folder (a path, or an `ImageFolder` to resize and normalize;
    read in batches, never whole), or any iterable of batches (n, C, H, W), single images (C, H, W) or
    (images, labels) pairs; image numbers count in iteration order (file-name order for a folder).
    `layers`: `named_modules()` names or the modules. An image's score for a channel is the maximum of
    that channel's map over positions; hits are `(image_index, y, x, value)`, strongest first. The model
    runs in eval mode without gradients and is left exactly as found. `progress` shows a progress bar.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise BadInputError(f"k must be a positive integer; got {k!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise BadInputError(f"batch_size must be a positive integer; got {batch_size!r}")
    if isinstance(layers, (str, nn.Module)):
        layers = [layers]
    resolved = dict(resolve_layer(model, layer) for layer in layers)
    if not resolved:
        raise BadInputError("give at least one layer (a model.named_modules() name or the module)")
    if isinstance(images, (str, Path)):
        images = ImageFolder(images, size=None)  # images of one size; ImageFolder(path, size=N) resizes
    total = getattr(images, "images", images)
    sized = (total.shape[0] if isinstance(total, torch.Tensor) and total.ndim == 4 else
             len(total) if isinstance(total, ImageFolder) else None)
    if sized is not None and k > sized:
        raise BadInputError(f"k={k} but the dataset has only {sized} images; pass k <= {sized}")

    device = model_device(model)
    static = device.type != "cpu"  # data-dependent shapes would wait for an accelerator
    running = {name: _Running(name, k, static) for name in resolved}
    fired: set[str] = set()
    state = {"offset": 0}
    handles = []

    def hook_for(name: str):
        def hook(_module: nn.Module, _inputs: tuple, output: Any) -> None:
            if name not in fired:  # a module called twice in one forward counts its first call
                fired.add(name)
                running[name].update(output, state["offset"])
            if len(fired) == len(running):
                raise StopForward
        return hook

    image_shape: tuple[int, ...] = ()
    with untouched(model), torch.no_grad():
        model.eval()  # BatchNorm running statistics and no dropout; untouched() restores every mode
        try:
            for name, module in resolved.items():
                handles.append(module.register_forward_hook(hook_for(name)))
            batches: Iterable[torch.Tensor] = _batches(images, batch_size)
            if progress:
                count = None if sized is None else -(-sized // batch_size)
                batches = shown(batches, count, "top activations")
            for batch in batches:
                if not image_shape:
                    image_shape = tuple(batch.shape[1:])
                fired.clear()
                try:
                    with contextlib.suppress(StopForward):
                        model(batch.to(device))
                except RuntimeError as exc:
                    raise BadInputError(f"the model failed on the batch of images {state['offset']}.."
                                        f"{state['offset'] + batch.shape[0] - 1} with shape {tuple(batch.shape)} "
                                        f"({exc}); pass images shaped and typed as the model expects") from exc
                missing = [n for n in running if n not in fired]
                if missing:
                    raise BadInputError(f"layer(s) {', '.join(map(repr, missing))} never ran in the forward pass "
                                        "(are they used in forward()?)")
                state["offset"] += batch.shape[0]
        finally:
            for handle in handles:
                handle.remove()
    n = state["offset"]
    if n == 0:
        raise BadInputError("images holds no images")
    if k > n:
        raise BadInputError(f"k={k} but the dataset has only {n} images; pass k <= {n}")
    result = {}
    for name, run in running.items():
        if bool(torch.isnan(run.values).any()):
            raise BadInputError(f"layer {name!r} produced NaN activations; check the inputs and weights")
        values, image, y, x = run.result()
        source = None  # features (n, C) have no field: their hits are valid, crops are not
        if run.shape is not None and len(run.shape) == 3:
            source = functools.partial(receptive_field, model, name, input_shape=(1, *image_shape))
        result[name] = LayerTop(name, values, image, y, x, source)
    return ActivationIndex(result, k, n, image_shape)
