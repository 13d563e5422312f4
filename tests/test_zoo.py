import pytest

from engine.models.params import count_parameters
from engine.zoo.catalog import load_zoo
from engine.zoo.specs import ModelError

PRETRAIN = '[pretrain.OpenAI]\npairs_m = 400\nsize = "400M"\npairs_source = "CLIP paper"\n'


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


def test_a_pair_count_without_its_source_is_refused(tmp_path):
    path = tmp_path / "zoo.toml"
    path.write_text('[pretrain.X]\npairs_m = 5\nsize = "5M"\n[[model]]\nid = "timm:a"\nname = "a"\nfamily = "CLIP"\n')
    with pytest.raises(ValueError, match="pretrain 'X': pairs_m = 5 needs a pairs_source"):
        load_zoo(path)


def test_every_pre_training_size_is_pairs_trained_on_with_its_source():
    data = {m.pretrain.name: m.pretrain for m in load_zoo() if m.pretrain and m.pretrain.pairs_m is not None}
    assert all(d.pairs_source.strip() for d in data.values())
    # One definition for all: DataComp-1B (1.4B filtered pairs) is more data than the smaller scales' filtered
    # subsets (DataComp-L was once sized by its 1.28B candidate pool, above DataComp-1B's nominal 1B).
    sizes = [data[n].pairs_m for n in ("DataComp1B", "DataComp-L", "DataComp-M", "DataComp-S")]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 1400
    assert data["DataComp-L"].pairs_m < data["OpenAI"].pairs_m < data["LAION2B"].pairs_m
