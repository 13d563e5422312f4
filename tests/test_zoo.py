import pytest

from engine.models.params import count_parameters
from engine.zoo.catalog import load_zoo
from engine.zoo.specs import ModelError

PRETRAIN = '[pretrain.OpenAI]\npairs_m = 400\nsize = "400M"\n'


def write_zoo(tmp_path, models: str):
    path = tmp_path / "zoo.toml"
    path.write_text(PRETRAIN + models)
    return path


def test_entry_becomes_a_typed_record(tmp_path):
    path = write_zoo(
        tmp_path, '[[model]]\nid = "open_clip:RN50/openai"\nname = "n"\nfamily = "CLIP"\npretrain = "OpenAI"'
    )
    (model,) = load_zoo(path)
    assert (model.kind, model.loader, model.role) == ("open_clip", "open_clip:RN50/openai", "main")
    assert (model.pretrain.pairs_m, model.pretrain.high_quality) == (400, False)


def test_models_without_a_loader_have_an_empty_loader_spec(tmp_path):
    (model,) = load_zoo(write_zoo(tmp_path, '[[model]]\nid = "lvlm:x"\nname = "x"\nfamily = "LVLM"'))
    assert model.loader == "" and model.pretrain is None


def test_unknown_pretrain_data_is_named(tmp_path):
    path = write_zoo(tmp_path, '[[model]]\nid = "timm:a"\nname = "a"\nfamily = "ImageNet"\npretrain = "JFT"')
    with pytest.raises(ValueError, match="unknown pretrain 'JFT'"):
        load_zoo(path)


def test_duplicate_ids_are_refused(tmp_path):
    entry = '[[model]]\nid = "timm:a"\nname = "a"\nfamily = "ImageNet"\n'
    with pytest.raises(ValueError, match="duplicate model ids"):
        load_zoo(write_zoo(tmp_path, entry + entry))


def test_timm_models_are_counted_too():
    counts = count_parameters("timm:test_resnet.r160_in1k")
    assert counts.backbone == counts.total > 0


def test_unknown_source_is_refused():
    with pytest.raises(ModelError, match="Unknown model spec"):
        count_parameters("keras:resnet50")
