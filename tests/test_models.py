"""Model specs and loaders: every spec form, preprocessing recipes, and clear errors."""

import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from engine.models import ModelError, check_local_weights, load_model, parse_spec
from engine.models.checkpoints import CheckpointError
from tests.conftest import TINY_CLIP, TINY_CLIP_CONFIG

CPU = torch.device("cpu")


def test_spec_forms_parse():
    assert parse_spec("open_clip:ViT-B-32/openai").name == "ViT-B-32/openai"
    local = parse_spec("timm:test_vit@/tmp/w.safetensors")
    assert (local.kind, local.name, str(local.file)) == ("timm", "test_vit", "/tmp/w.safetensors")
    folder = parse_spec("open_clip:local-dir:/models/mine")
    assert (folder.name, folder.file) == ("local-dir:/models/mine", None)


def test_a_paper_name_resolves_to_its_zoo_id():
    assert parse_spec("CLIP-OpenAI-ViT/B/32").text == "open_clip:ViT-B-32/openai"


def test_the_papers_lvlms_name_their_weights():
    assert parse_spec("MiniGPT4-Viccuna7B").folder == Path("~/.cache/counteranimal/minigpt4-vicuna-7b").expanduser()
    assert parse_spec("lvlm:llava-1.5-7b").name == "llava-hf/llava-1.5-7b-hf"


def test_unknown_source_is_named():
    with pytest.raises(ModelError, match="Unknown model spec 'keras:resnet'"):
        parse_spec("keras:resnet")


def test_open_clip_file_loads_with_its_preprocessing(tiny_clip):
    model = load_model(f"open_clip:{TINY_CLIP}@{tiny_clip}", CPU)
    assert model.family == "CLIP" and not model.network.training
    assert model.recipe.output_size() == (32, 32)
    assert "Resize(size=32, interpolation=bicubic" in model.recipe.key
    assert model.checkpoint["source"] == str(tiny_clip) and len(model.checkpoint["sha256"]) == 64


def test_recipe_keys_are_stable_across_loads(tiny_clip):
    first, second = (load_model(f"open_clip:{TINY_CLIP}@{tiny_clip}", CPU).recipe.key for _ in range(2))
    assert first == second and "0x" not in first  # no memory addresses in the key


def test_open_clip_hub_folder_loads(tiny_clip, tmp_path):
    folder = tmp_path / "my-clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP_CONFIG, "preprocess_cfg": {}}))
    (folder / "open_clip_pytorch_model.bin").write_bytes(tiny_clip.read_bytes())
    model = load_model(f"open_clip:local-dir:{folder}", CPU)
    assert model.family == "CLIP" and model.text_config == f"local-dir:{folder}"


def test_open_clip_checkpoint_for_another_architecture_is_refused(tiny_clip, tmp_path):
    other = {k: v for k, v in torch.load(tiny_clip, weights_only=True).items() if not k.startswith("visual.")}
    path = tmp_path / "text_only.pt"
    torch.save(other, path)
    with pytest.raises(CheckpointError, match=f"does not fit the {TINY_CLIP} architecture: .* missing keys: visual"):
        load_model(f"open_clip:{TINY_CLIP}@{path}", CPU)


def test_timm_file_loads_with_timm_preprocessing(tiny_timm):
    model = load_model(f"timm:test_resnet@{tiny_timm}", CPU)
    assert model.family == "ImageNet"
    image = model.recipe.steps(Image.new("RGB", (300, 200)))
    assert image.size == model.recipe.output_size()[::-1]


def test_torchvision_file_loads_with_the_default_weights_preprocessing(tmp_path):
    import torchvision

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    model = load_model(f"torchvision:resnet18@{path}", CPU)
    assert model.recipe.output_size() == (224, 224)
    assert model.recipe.mean == pytest.approx((0.485, 0.456, 0.406))


def test_unknown_architecture_is_named():
    with pytest.raises(ModelError, match="open_clip has no architecture 'ViT-Q-99'"):
        load_model("open_clip:ViT-Q-99/openai", CPU)


def test_unknown_pretrained_tag_lists_the_known_ones(tiny_clip):
    with pytest.raises(ModelError, match="no weights 'laion9b' for ViT-B-32; known tags: .*openai"):
        load_model("open_clip:ViT-B-32/laion9b", CPU)


def test_unknown_torchvision_weights_are_named():
    with pytest.raises(ModelError, match="resnet18 has no weights 'IMAGENET9K'"):
        load_model("torchvision:resnet18/IMAGENET9K", CPU)


def test_weights_that_cannot_be_fetched_offline_explain_the_manual_route(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ModelError, match=r"Could not fetch the weights of timm:test_resnet\.r160_in1k.*@/path/to/weights"
    ):
        load_model("timm:test_resnet.r160_in1k", CPU)


def test_steps_whose_repr_hides_a_setting_still_make_other_keys():
    """CenterCropOrPad reprs as "CenterCropOrPad(size=...)" without its fill colour (timm pads with the mean colour,
    open_clip with black): models padding with other colours must not share an image cache or a run identity. Keys
    of steps whose repr says everything stay as they were, so existing runs keep their ids."""
    import subprocess
    import sys

    import timm.data.transforms as timm_transforms
    from open_clip.transform import CenterCropOrPad, image_transform
    from torchvision import transforms as T

    from engine.models.recipes import recipe_from_compose

    def key(*steps) -> str:
        return recipe_from_compose(T.Compose([*steps, T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])).key

    black, white = key(CenterCropOrPad(32, fill=0)), key(CenterCropOrPad(32, fill=255))
    mean_colour = key(timm_transforms.CenterCropOrPad(32, fill=[124, 116, 104]))
    assert len({black, white, mean_colour}) == 3 and black == "CenterCropOrPad(size=(32, 32))"  # as before
    assert recipe_from_compose(image_transform(224, is_train=False)).key == (
        "Resize(size=224, interpolation=bicubic, max_size=None, antialias=True) | CenterCrop(size=(224, 224)) | "
        "MaybeConvertMode()"
    )  # open_clip's usual preprocessing: the key every CLIP run id was made with

    # torchvision's Lambda reprs as "Lambda()": its function's code, defaults and closure tell two apart
    def crop(size):
        return T.Lambda(lambda im: im.crop((0, 0, size, size)))

    gray = T.Lambda(lambda im: im.convert("L") if im.mode in {"RGB", "RGBA"} else im)
    assert len({key(gray), key(crop(16)), key(crop(24))}) == 3 and key(crop(16)) == key(crop(16))
    assert key(T.Lambda(len)) == "Lambda(<built-in function len>)"  # a builtin, no code to digest
    # ... and the same in another process (sets and nested code print differently per process)
    code = (
        "from torchvision import transforms as T; from engine.models.recipes import recipe_from_compose as r; "
        "print(r(T.Compose([T.Lambda(lambda im: [p for p in im] if im.mode in {'RGB', 'L', 'P'} else im), "
        "T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])).key)"
    )
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}  # fmt: skip
    assert len(keys) == 1


def test_recipes_come_without_weights_and_match_the_loaded_model(tiny_clip, tiny_timm):
    from engine.models import model_recipe

    for spec in (
        f"open_clip:{TINY_CLIP}@{tiny_clip}",
        f"timm:test_resnet@{tiny_timm}",
        "torchvision:resnet18/IMAGENET1K_V1",
    ):
        loaded = load_model(spec, CPU, random_weights=True)
        assert model_recipe(spec).key == loaded.recipe.key
        assert loaded.checkpoint == {"source": "random init", "sha256": None}


def test_random_weights_read_no_file(tmp_path):
    missing = tmp_path / "not-there.pt"
    model = load_model(f"timm:test_resnet@{missing}", CPU, random_weights=True)
    assert model.family == "ImageNet"


def test_zoo_clips_run_with_the_activation_their_weights_were_trained_with():
    import open_clip
    from open_clip.transformer import QuickGELU

    from engine.zoo.catalog import load_zoo

    for model in load_zoo():
        if model.kind != "open_clip":
            continue
        arch, tag = model.id.removeprefix("open_clip:").split("/")
        wanted = bool(open_clip.get_pretrained_cfg(arch, tag).get("quick_gelu")) or "quickgelu" in arch
        with torch.device("meta"):
            network = load_model(model.id, torch.device("meta"), random_weights=True).network
        assert any(isinstance(m, QuickGELU) for m in network.modules()) == wanted, model.id


def test_torchvision_pixels_equal_the_weights_own_transform(tmp_path):
    import numpy as np
    import torchvision

    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    recipe = load_model("torchvision:resnet18/IMAGENET1K_V1", CPU, random_weights=True).recipe
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 420, 3), dtype=np.uint8))
    ours = (
        torch.from_numpy(recipe.apply(photo))
        .float()
        .div(255)
        .sub(torch.tensor(recipe.mean))
        .div(torch.tensor(recipe.std))
    )
    assert torch.allclose(ours.permute(2, 0, 1), weights.transforms()(photo), atol=1e-6)


def test_every_model_source_of_the_zoo_has_one_loader():
    from engine.models import LOADERS
    from engine.zoo.catalog import SOURCES

    assert list(LOADERS) == list(SOURCES)


@pytest.mark.parametrize("config", ["{}", '{"model_cfg": {"embed_dim": 32}}', "not json"])
def test_an_open_clip_folder_with_a_broken_config_is_a_model_error(tmp_path, config):
    (tmp_path / "open_clip_config.json").write_text(config)
    with pytest.raises(ModelError, match="does not describe a model open_clip can build"):
        load_model(f"open_clip:local-dir:{tmp_path}", CPU)


@pytest.mark.parametrize(
    "spec", ["open_clip:RN50/openai", "timm:resnet18", "hf:llava-hf/llava-1.5-7b-hf", "MiniGPT4-Viccuna7B"]
)
def test_specs_fetched_by_name_or_checked_as_they_load_are_not_checked_ahead(spec):
    assert check_local_weights(spec) is None  # offline, nothing fetched or read


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("open_clip:local-dir:{missing}", ModelError, "has no open_clip_config.json"),
        ("hf:{missing}", ModelError, "is not a folder"),
        ("timm:resnet18@{missing}/w.pt", CheckpointError, "does not exist"),
        ("timm:resnet18@{tiny_timm}", CheckpointError, "does not fit the resnet18 architecture"),
    ],
)
def test_local_weight_files_and_folders_are_checked_ahead(spec, error, message, tmp_path, tiny_timm):
    with pytest.raises(error, match=message):
        check_local_weights(spec.format(missing=tmp_path / "missing", tiny_timm=tiny_timm))
    check_local_weights(f"timm:test_resnet@{tiny_timm}")  # weights that fit pass
