"""Hugging Face checkpoints into Delocate's modules (issue 28): a Hub id or a local folder, read the way
`from_pretrained` reads it (`config.json`, then `model.safetensors`, else `pytorch_model.bin`, sharded or not).

```python
from delocate_hf.pretrained.hub_checkpoints import init_mapping_from_resnet, init_recovery_from_videomae

report = init_recovery_from_videomae(recovery_model, "MCG-NJU/videomae-base")       # stage 1 (or stage 1b)
print(report.summary())
report = init_mapping_from_resnet(localizer.localizer.mapping, "microsoft/resnet-18")  # stage 2
```

* `init_recovery_from_videomae`: a `VideoMAEForPreTraining`, `VideoMAEModel` or `VideoMAEForVideoClassification`
  checkpoint into the `VideoMAEModel` encoder of a `DelocateForMaskedRecovery` (and its decoder side where the
  decoder matches) or of a `DelocateForVideoClassification`.
* `init_mapping_from_resnet`: a `ResNetModel` / `ResNetForImageClassification` checkpoint into the truncated
  `ResNetModel` backbone of the mapping module (stem and the `mapping_num_stages` stages it uses).

Every loader checks the checkpoint's `config.json` against the model before reading any weights, and raises a one-line
`ValueError` naming the flag on an architecture mismatch. A missing folder is a `FileNotFoundError`, a Hub id that
cannot be had (not cached while offline, no such repository) an `OSError`, each one line naming the flag.
"""

import json
import re
from pathlib import Path

import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
)
from huggingface_hub.repocard import metadata_load
from transformers import ResNetConfig, ResNetModel, VideoMAEConfig, VideoMAEModel
from transformers.modeling_utils import load_state_dict
from transformers.utils import (
    CONFIG_NAME,
    SAFE_WEIGHTS_INDEX_NAME,
    SAFE_WEIGHTS_NAME,
    WEIGHTS_INDEX_NAME,
    WEIGHTS_NAME,
)

from .report import InitReport

# Weight files in the order `from_pretrained` prefers them.
WEIGHT_FILES = (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME)

# Settings of the VideoMAE encoder that fix its tensors' shapes or what they compute: they must match the model's.
VIDEOMAE_ENCODER_FIELDS = ("num_channels", "patch_size", "tubelet_size", "hidden_size", "num_hidden_layers",
                           "num_attention_heads", "intermediate_size", "hidden_act", "qv_bias")
# Settings of the VideoMAE decoder: the decoder side (`encoder_to_decoder`, `mask_token`, `decoder.*`) loads only when
# they all match (`norm_pix_loss` decides what its head predicts: per-patch normalised pixels or raw ones).
VIDEOMAE_DECODER_FIELDS = ("decoder_hidden_size", "decoder_num_hidden_layers", "decoder_num_attention_heads",
                           "decoder_intermediate_size", "norm_pix_loss")
# Model state names a VideoMAE checkpoint can initialise (a detector's localizer / recovery parts are not touched).
VIDEOMAE_TARGET_PREFIXES = ("videomae.", "encoder_to_decoder.", "mask_token", "decoder.", "fc_norm.", "classifier.")
DECODER_SIDE_PREFIXES = ("encoder_to_decoder.", "mask_token", "decoder.")
# Settings of the ResNet stem and stages that must match the mapping module's backbone.
RESNET_FIELDS = ("num_channels", "embedding_size", "layer_type", "hidden_act", "downsample_in_first_stage")


# ---------------------------------------------------------------------------------------------------------------
# Where a checkpoint's files are
# ---------------------------------------------------------------------------------------------------------------


def looks_like_path(source: str) -> bool:
    """Whether `source` is meant as a folder rather than a Hub id (`name` or `org/name`): it starts with `/`, `.` or
    `~`, holds a backslash, more than one `/`, or ends with `/`."""
    return source.startswith(("/", ".", "~")) or "\\" in source or source.count("/") > 1 or source.endswith("/")


class CheckpointFiles:
    """The files of one checkpoint, named as the user gave it (`flag source` starts every error).

    A local folder is read as it is; anything else is a Hub id read through `huggingface_hub` (`hf_hub_download`,
    into and from its cache: `HF_HUB_CACHE`, or `cache_dir`), which works offline (`HF_HUB_OFFLINE=1`) from what
    the cache holds.
    """

    def __init__(self, source: str, flag: str, cache_dir: str | Path | None = None):
        self.source, self.flag, self.cache_dir = source, flag, cache_dir
        self.not_cached: list[str] = []  # Hub files neither cached nor downloadable (offline / no connection)
        path = Path(source).expanduser()
        self.folder = path if path.is_dir() else None
        if self.folder is None and path.exists():
            raise ValueError(f"{self.where}: is a file; expected a checkpoint folder (config.json + model.safetensors) "
                             "or a Hub id")
        if self.folder is None and looks_like_path(source):
            raise FileNotFoundError(f"{self.where}: no such folder")

    @property
    def where(self) -> str:
        return f"{self.flag} {self.source}"

    def _offline_or_unreachable(self) -> str:
        cache = self.cache_dir or hub_constants.HF_HUB_CACHE
        if hub_constants.is_offline_mode():
            return f"not in the local Hugging Face cache ({cache}) and the Hub is offline (HF_HUB_OFFLINE=1)"
        return f"not in the local Hugging Face cache ({cache}) and the Hub could not be reached"

    def get(self, filename: str, required: bool = True) -> Path | None:
        """Local path of `filename`; None when the checkpoint has no such file (or, from the Hub, it is not cached
        while offline) and `required` is False. Raises FileNotFoundError / OSError / ValueError naming the flag."""
        if self.folder is not None:
            path = self.folder / filename
            if path.is_file():
                return path
            if required:
                raise FileNotFoundError(f"{self.where}: the folder has no {filename}")
            return None
        try:
            return Path(hf_hub_download(self.source, filename, cache_dir=self.cache_dir))
        except HFValidationError:
            raise ValueError(f"{self.where}: neither an existing folder nor a valid Hub id") from None
        except LocalEntryNotFoundError:
            if required:
                raise OSError(f"{self.where}: not a local folder, and {self._offline_or_unreachable()}; run once "
                              "online to cache it, or pass a local folder") from None
            self.not_cached.append(filename)
            return None
        except RepositoryNotFoundError:  # also gated / private repositories without access
            raise OSError(f"{self.where}: not a local folder, and no model of that id on the Hub (or it is private or "
                          "gated: log in with `hf auth login`)") from None
        except EntryNotFoundError:
            if required:
                raise FileNotFoundError(f"{self.where}: the Hub repository has no {filename}") from None
            return None
        except HfHubHTTPError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise OSError(f"{self.where}: the Hub refused {filename}: {first_line}") from None

    def config(self, model_type: str) -> dict:
        """`config.json` as a dict; ValueError unless its `model_type` is `model_type`."""
        path = self.get(CONFIG_NAME)
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"{self.where}: unreadable {CONFIG_NAME} ({error})") from None
        if config.get("model_type") != model_type:
            raise ValueError(f"{self.where}: a {config.get('model_type') or 'untyped'} checkpoint, expected a "
                             f"{model_type} one (model_type {model_type!r} in config.json)")
        return config

    def state_dict(self) -> dict[str, torch.Tensor]:
        """All tensors of the checkpoint (CPU, as stored): `model.safetensors` preferred, else `pytorch_model.bin`
        (read with `torch.load(weights_only=True)`), each also as shards listed by its `.index.json`."""
        for name in WEIGHT_FILES:
            path = self.get(name, required=False)
            if path is None:
                continue
            if not name.endswith(".index.json"):
                return load_state_dict(path, weights_only=True)
            weight_map = json.loads(path.read_text(encoding="utf-8"))["weight_map"]
            state = {}
            for shard in sorted(set(weight_map.values())):
                state.update(load_state_dict(self.get(shard), weights_only=True))
            return state
        if self.folder is None and self.not_cached:
            raise OSError(f"{self.where}: its weights ({SAFE_WEIGHTS_NAME} or {WEIGHTS_NAME}) are "
                          f"{self._offline_or_unreachable()}; run once online to cache them, or pass a local folder")
        raise FileNotFoundError(f"{self.where}: no {SAFE_WEIGHTS_NAME} or {WEIGHTS_NAME}")

    def licence(self) -> str | None:
        """The `license` of the model card's metadata (`README.md`), when there is one to read."""
        try:
            path = self.get("README.md", required=False)
            metadata = metadata_load(path) if path is not None else None
        except Exception:  # noqa: BLE001  (the licence is a record: an unreadable card must not stop training)
            return None
        licence = (metadata or {}).get("license")
        if isinstance(licence, (list, tuple)):
            licence = ", ".join(map(str, licence))
        return str(licence) if licence else None


# ---------------------------------------------------------------------------------------------------------------
# Shared checks and loading
# ---------------------------------------------------------------------------------------------------------------


def _mismatches(checkpoint: dict, model: dict, fields) -> list[str]:
    """`"name ckpt != model's value"` for each of `fields` whose values differ."""
    return [f"{name} {checkpoint[name]!r} != model's {model[name]!r}"
            for name in fields if checkpoint[name] != model[name]]


def _load_into(module: torch.nn.Module, values: dict[str, torch.Tensor], where: str) -> None:
    """Copies `values` (module-relative names) into `module`'s parameters and buffers, keeping their dtype and
    device. Shapes are checked first (one-line ValueError): the config checks should make them agree."""
    state = module.state_dict()
    for name, tensor in values.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise ValueError(f"{where}: {name} has shape {tuple(tensor.shape)} in the checkpoint, "
                             f"{tuple(state[name].shape)} in the model")
    result = module.load_state_dict(values, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys


# ---------------------------------------------------------------------------------------------------------------
# VideoMAE -> recovery model / stage-1b classifier
# ---------------------------------------------------------------------------------------------------------------


def videomae_target_name(checkpoint_name: str) -> str:
    """A VideoMAE checkpoint's tensor name -> the name of the same tensor in a Delocate model.

    * `VideoMAEModel` checkpoints store the encoder without prefix (`embeddings.*`, `encoder.layer.N.*`,
      `layernorm.*`); the heads (`VideoMAEForPreTraining`, `VideoMAEForVideoClassification`) under `videomae.`,
      as Delocate does: both become `videomae.*`.
    * The query / value biases are stored as `attention.attention.q_bias` / `v_bias` (the original VideoMAE names:
      the Hub's checkpoints, and what transformers still writes) and live in `query.bias` / `value.bias` modules
      (transformers' own "videomae" entry of `conversion_mapping.py` renames them the same way).
    * `encoder_to_decoder.weight`, `mask_token`, `decoder.*`, `fc_norm.*`, `classifier.*` keep their names.
    """
    name = re.sub(r"attention\.attention\.q_bias$", "attention.attention.query.bias", checkpoint_name)
    name = re.sub(r"attention\.attention\.v_bias$", "attention.attention.value.bias", name)
    if name.startswith(("embeddings.", "encoder.", "layernorm.")):
        name = "videomae." + name
    return name


def _token_grid(config) -> tuple[int, int, int]:
    """(time, height, width) token grid of a VideoMAE config (dict or config object)."""
    get = config.get if isinstance(config, dict) else lambda key: getattr(config, key)
    side = get("image_size") // get("patch_size")
    return get("num_frames") // get("tubelet_size"), side, side


def init_recovery_from_videomae(model, source: str, flag: str = "--init_videomae", *,
                                cache_dir: str | Path | None = None, target: str | None = None) -> InitReport:
    """Initialises a Delocate stage-1 model from a VideoMAE checkpoint; returns the `InitReport`.

    model: a `DelocateForMaskedRecovery` (encoder `videomae`: `VideoMAEModel`; decoder side `encoder_to_decoder`,
        `mask_token`, `decoder`: `VideoMAEDecoder`) or a `DelocateForVideoClassification` (encoder `videomae`, pooling
        norm `fc_norm`, fake-logit `classifier`); any model whose `videomae` is a `VideoMAEModel` works, and only
        the names above are touched.
    source: a Hub id (e.g. `MCG-NJU/videomae-base`) or a local folder of a `VideoMAEForPreTraining`, `VideoMAEModel`
        or `VideoMAEForVideoClassification` checkpoint (`config.json` + `model.safetensors` or `pytorch_model.bin`).
    flag: the command-line flag that named `source`, quoted by every error.
    cache_dir: the Hugging Face cache to use instead of `HF_HUB_CACHE`.
    target: the report's name for `model` (default: its class name); tensor names are relative to `model`.

    What loads:
    * the encoder, always: patch embedding Conv3d `(hidden, channels, tubelet, patch, patch)`, each layer's
      query / key / value / output `(hidden, hidden)`, MLP `(intermediate, hidden)` / `(hidden, intermediate)`,
      layer norms `(hidden,)`. `num_channels`, `patch_size`, `tubelet_size`, `hidden_size`, `num_hidden_layers`,
      `num_attention_heads`, `intermediate_size`, `hidden_act` and `qv_bias` must equal the model's, else a one-line
      ValueError (`"--init_videomae ID: patch_size 8 != model's 16"`).
    * the decoder side (`encoder_to_decoder` `(decoder_hidden, hidden)`, `mask_token` `(1, 1, decoder_hidden)`,
      the decoder layers, `decoder.norm`, `decoder.head` `(tubelet * patch**2 * channels, decoder_hidden)`) when the
      checkpoint has one and its decoder width, depth, heads, MLP size and `norm_pix_loss` equal the model's; else it
      stays newly initialised, as a whole, and the report's notes say why (`videomae-base`'s decoder, 4 layers of
      384, matches the paper-size `DelocateConfig()`).
    * the encoder's final norm `videomae.layernorm` `(hidden,)` where both have one. VideoMAE's self-supervised
      checkpoints (`videomae-base`, converted with `use_mean_pooling=False`) have it, and their decoder was trained on
      the normalised latents; a model with `use_mean_pooling=True` (the `DelocateConfig` default) has no place for
      it: it is reported unused and a note says so. Build the model with `use_mean_pooling=False` to keep the
      pretrained encoder-decoder whole.
    * `fc_norm` `(hidden,)` of a `VideoMAEForVideoClassification` checkpoint into a classifier's `fc_norm`. A
      checkpoint's `classifier` (its own label set) is never loaded: Delocate's fake-logit head starts fresh.

    `num_frames` and `image_size` may differ from the checkpoint's: no interpolation needed: fixed sin-cos
    positions. VideoMAE's position table is not a parameter and not in the checkpoint; `VideoMAEEmbeddings` (and
    Delocate's decoder) compute it from the model's own config, over the model's own
    `(num_frames / tubelet) * (image_size / patch)**2` tokens. The table is 1-D over the flattened token index, so
    at another grid the pretrained attention sees another token layout than in pretraining (as in VideoMAE's own
    fine-tuning at other sizes); the report notes the two grids.
    """
    encoder = getattr(model, "videomae", None)
    if not isinstance(encoder, VideoMAEModel):
        raise TypeError(f"init_recovery_from_videomae needs a model whose `videomae` is a VideoMAEModel, got "
                        f"{type(model).__name__}")
    files = CheckpointFiles(source, flag, cache_dir)
    where = files.where
    # as transformers reads it: defaults filled in, legacy names (`qkv_bias`) mapped
    checkpoint_config = VideoMAEConfig.from_dict(files.config("videomae")).to_dict()
    model_config = encoder.config.to_dict()
    mismatches = _mismatches(checkpoint_config, model_config, VIDEOMAE_ENCODER_FIELDS)
    if mismatches:
        raise ValueError(f"{where}: {'; '.join(mismatches)}")

    checkpoint = files.state_dict()
    renamed = {videomae_target_name(name): name for name in checkpoint}
    target_state = {name: tensor for name, tensor in model.state_dict().items()
                    if name.startswith(VIDEOMAE_TARGET_PREFIXES)}
    report = InitReport(source=source, target=target or type(model).__name__, licence=files.licence())

    missing_encoder = [name for name in target_state if name.startswith("videomae.")
                       and not name.startswith("videomae.layernorm.") and name not in renamed]
    if missing_encoder:
        raise ValueError(f"{where}: the checkpoint lacks {len(missing_encoder)} of the encoder's tensors "
                         f"(e.g. {missing_encoder[0]})")

    has_decoder_side = any(name.startswith(DECODER_SIDE_PREFIXES) for name in target_state)
    decoder_ok = False
    if has_decoder_side:
        decoder_mismatches = _mismatches(checkpoint_config, model_config, VIDEOMAE_DECODER_FIELDS)
        checkpoint_has_decoder = any(name.startswith("decoder.") for name in renamed)
        decoder_ok = checkpoint_has_decoder and not decoder_mismatches
        if not checkpoint_has_decoder:
            report.notes.append("decoder newly initialised: the checkpoint has none (an encoder-only checkpoint)")
        elif decoder_mismatches:
            report.notes.append(f"decoder newly initialised: {', '.join(decoder_mismatches)}")

    values = {}
    for name, original in renamed.items():
        if name not in target_state or name.startswith("classifier."):
            continue
        if name.startswith(DECODER_SIDE_PREFIXES) and not decoder_ok:
            continue
        if name.startswith("fc_norm.") and tuple(target_state[name].shape) != tuple(checkpoint[original].shape):
            continue
        values[name] = checkpoint[original]
    _load_into(model, values, where)

    report.loaded = [name for name in target_state if name in values]
    report.initialised = [name for name in target_state if name not in values]
    report.unused = [original for name, original in renamed.items() if name not in values]
    checkpoint_norm = any(name.startswith("videomae.layernorm.") for name in renamed)
    model_norm = any(name.startswith("videomae.layernorm.") for name in target_state)
    if checkpoint_norm and not model_norm:
        report.notes.append("the checkpoint's final encoder norm (videomae.layernorm, use_mean_pooling=False) is "
                            "unused: the model has use_mean_pooling=True, no final norm"
                            + (", so its pretrained decoder sees un-normalised latents" if decoder_ok else ""))
    elif model_norm and not checkpoint_norm:
        report.notes.append("videomae.layernorm newly initialised: the checkpoint has no final encoder norm")
    if _token_grid(checkpoint_config) != _token_grid(model_config):
        grid = "x".join(map(str, _token_grid(model_config)))
        checkpoint_grid = "x".join(map(str, _token_grid(checkpoint_config)))
        report.notes.append(f"positions: fixed sin-cos table of the model's {grid} tokens (checkpoint's "
                            f"{checkpoint_grid}), no interpolation needed")
    return report


# ---------------------------------------------------------------------------------------------------------------
# ResNet -> mapping module
# ---------------------------------------------------------------------------------------------------------------


def resnet_target_name(checkpoint_name: str) -> str:
    """A ResNet checkpoint's tensor name -> its name in the mapping module: `resnet.embedder.*` /
    `resnet.encoder.stages.N.*` (`ResNetForImageClassification`) and `embedder.*` / `encoder.stages.N.*`
    (`ResNetModel`) both become `backbone.embedder.*` / `backbone.encoder.stages.N.*`; the classifier
    (`classifier.1.*`) keeps its name (and finds no place)."""
    name = checkpoint_name[len("resnet."):] if checkpoint_name.startswith("resnet.") else checkpoint_name
    return "backbone." + name if name.startswith(("embedder.", "encoder.")) else checkpoint_name


def init_mapping_from_resnet(mapping, source: str, flag: str = "--init_backbone", *,
                             cache_dir: str | Path | None = None, target: str | None = None) -> InitReport:
    """Initialises the mapping module's ResNet backbone from a ResNet checkpoint; returns the `InitReport`.

    mapping: the `DelocateMappingModule` (`DelocateForForgeryLocalization(...).localizer.mapping`); its `backbone`
        is a `ResNetModel` truncated to `mapping_num_stages` stages (paper: the first three of ResNet-18).
    source: a Hub id (e.g. `microsoft/resnet-18`) or a local folder of a `ResNetModel` or
        `ResNetForImageClassification` checkpoint (`config.json` + `model.safetensors` or `pytorch_model.bin`).
    flag: the command-line flag that named `source`, quoted by every error.
    cache_dir: the Hugging Face cache to use instead of `HF_HUB_CACHE`.
    target: the report's name for `mapping` (e.g. "DelocateForForgeryLocalization.localizer.mapping"; default: its
        class name); tensor names are relative to `mapping` (`backbone.embedder...`, `conv1.0.weight`).

    The stem (`embedder`: Conv2d `(embedding_size, channels, 7, 7)` + BatchNorm with its running statistics) and
    stages `0 .. mapping_num_stages - 1` (basic blocks: Conv2d `(out, in, 3, 3)`, BatchNorm, 1x1 shortcut
    `(out, in, 1, 1)` where the width changes) are loaded. The checkpoint's later stages and its classifier
    (`classifier.1.*`) are reported unused; the mapping convolutions (`conv1`, `conv2`, `conv3`) stay newly
    initialised. `num_channels`, `embedding_size`, `layer_type` (ResNet-18/34 are "basic"), `hidden_act`,
    `downsample_in_first_stage` and the used stages' `hidden_sizes` / `depths` must equal the backbone's, else a
    one-line ValueError naming the flag (`"--init_backbone ID: hidden_sizes[:3] [64, 128, 256] != model's [8, 16,
    32]"`). Input size is free (a ResNet is fully convolutional).
    """
    backbone = getattr(mapping, "backbone", None)
    files = CheckpointFiles(source, flag, cache_dir)
    where = files.where
    if not isinstance(backbone, ResNetModel):
        raise ValueError(f"{where}: the mapping module's backbone is {type(backbone).__name__}, not a ResNet; a "
                         "ResNet checkpoint needs the ResNet mapping backbone")
    checkpoint_config = ResNetConfig.from_dict(files.config("resnet")).to_dict()
    model_config = backbone.config.to_dict()
    stages = len(model_config["depths"])
    mismatches = _mismatches(checkpoint_config, model_config, RESNET_FIELDS)
    for name in ("hidden_sizes", "depths"):
        if list(checkpoint_config[name][:stages]) != list(model_config[name]):
            mismatches.append(f"{name}[:{stages}] {list(checkpoint_config[name][:stages])} != model's "
                              f"{list(model_config[name])}")
    if mismatches:
        raise ValueError(f"{where}: {'; '.join(mismatches)}")

    checkpoint = files.state_dict()
    renamed = {resnet_target_name(name): name for name in checkpoint}
    target_state = mapping.state_dict()
    missing = [name for name in target_state if name.startswith("backbone.") and name not in renamed]
    if missing:
        raise ValueError(f"{where}: the checkpoint lacks {len(missing)} of the backbone's tensors (e.g. {missing[0]})")
    values = {name: checkpoint[original] for name, original in renamed.items() if name in target_state}
    _load_into(mapping, values, where)
    return InitReport(
        source=source, target=target or type(mapping).__name__, licence=files.licence(),
        loaded=[name for name in target_state if name in values],
        initialised=[name for name in target_state if name not in values],
        unused=[original for name, original in renamed.items() if name not in values],
    )


__all__ = ["CheckpointFiles", "init_mapping_from_resnet", "init_recovery_from_videomae", "resnet_target_name",
           "videomae_target_name"]
