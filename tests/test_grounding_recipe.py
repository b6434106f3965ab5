"""What the grounding recipe adds: a shortened / partly frozen text encoder, the image encoder's
own learning rate, batch keys for identical tag sets, tag-set retrieval and the
macro AUROC over labels with enough positives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pretrain.train.config import ConfigError, TrainConfig
from pretrain.model.encoders import EncoderError, freeze_lower_layers, keep_lower_layers
from pretrain.evaluation.classification import MIN_POSITIVES, zero_shot_report
from pretrain.evaluation.retrieval import chance_recall_at_k, retrieval_report
from pretrain.model.dual_encoder import build_model
from pretrain.train.optim import param_groups


def _tiny(**settings) -> TrainConfig:
    return TrainConfig(image_encoder="tiny-resnet", text_encoder="tiny-bert", embed_dim=16, image_size=64, **settings)


def _bert(layers: int = 3):
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=layers, num_attention_heads=2,
                                intermediate_size=16), add_pooling_layer=False)


# --- text encoder: keep the lower layers, freeze some ---------------------------------------


def test_keep_lower_layers_cuts_the_stack_and_its_config(tmp_path):
    backbone = _bert(3)
    first = backbone.encoder.layer[0]
    keep_lower_layers(backbone, 2)
    assert len(backbone.encoder.layer) == backbone.config.num_hidden_layers == 2
    assert backbone.encoder.layer[0] is first
    backbone.save_pretrained(tmp_path)
    from transformers import AutoModel

    assert len(AutoModel.from_pretrained(tmp_path).encoder.layer) == 2  # the export is the short model
    keep_lower_layers(backbone, 0)
    assert len(backbone.encoder.layer) == 2
    with pytest.raises(EncoderError, match="between 0 and 2"):
        keep_lower_layers(backbone, 3)


def test_frozen_layers_get_no_gradient_and_no_optimizer_slot():
    config = _tiny(text_frozen_layers=1)
    model, _ = build_model(config)
    text = model.text_encoder.backbone
    assert not any(p.requires_grad for p in text.embeddings.parameters())
    assert not any(p.requires_grad for p in text.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in text.encoder.layer[1].parameters())
    in_optimizer = {id(p) for group in param_groups(model, config) for p in group["params"]}
    assert not any(id(p) in in_optimizer for p in text.embeddings.parameters())
    ids = torch.randint(5, 50, (2, 6))
    model.text_encoder(ids, torch.ones_like(ids)).sum().backward()
    assert text.encoder.layer[0].attention.self.query.weight.grad is None
    assert text.encoder.layer[1].attention.self.query.weight.grad is not None


def test_freeze_lower_layers_checks_its_range():
    with pytest.raises(EncoderError, match="text_frozen_layers"):
        freeze_lower_layers(_bert(2), 3)


# --- optimizer groups -------------------------------------------------------------------------


def test_image_encoder_gets_its_own_learning_rate():
    model, _ = build_model(_tiny())
    rates = {g["name"]: g["lr"] for g in param_groups(model, _tiny(lr_encoders=1e-5, lr_heads=1e-3))}
    assert rates == {"image_encoder": 1e-5, "text_encoder": 1e-5, "heads": 1e-3}
    rates = {g["name"]: g["lr"] for g in param_groups(model, _tiny(lr_encoders=1e-5, lr_image_encoder=2e-3))}
    assert rates["image_encoder"] == 2e-3 and rates["text_encoder"] == 1e-5
    names = {g["name"] for g in param_groups(model, _tiny())}
    grouped = sum(len(g["params"]) for g in param_groups(model, _tiny()))
    assert names == {"image_encoder", "text_encoder", "heads"} and grouped == len(list(model.parameters()))


def test_new_settings_round_trip_and_validate(tmp_path):
    config = _tiny(lr_image_encoder=1e-3, text_layers=2, text_frozen_layers=1, positives="tags")
    config.save(tmp_path / "c.toml")
    assert TrainConfig.load(tmp_path / "c.toml") == config
    assert TrainConfig.from_dict({"lr_image_encoder": 1}).lr_image_encoder == 1.0
    for bad in ({"positives": "copies"}, {"lr_image_encoder": -1.0}, {"text_layers": -1}):
        with pytest.raises(ConfigError):
            TrainConfig.from_dict(bad).validate()


# --- batch keys -------------------------------------------------------------------------------


def test_tag_positives_make_the_collator_key_identical_tag_sets():
    from pretrain.train.terms import GlobalTerm

    assert GlobalTerm.from_config(_tiny()).collate is None  # CLIP's pairs need no key
    term = GlobalTerm.from_config(_tiny(positives="tags"))
    assert term.batch_keys == ("tags_key",)
    image = torch.zeros(1, 8, 8)
    items = [
        {"id": "a", "image": image, "text": "No acute disease.", "tags": ["normal"]},
        {"id": "b", "image": image, "text": "No acute disease.", "tags": ["normal"]},
        {"id": "c", "image": image, "text": "The lungs are clear.", "tags": ["normal"]},
        {"id": "d", "image": image, "text": "Small left effusion.", "tags": ["Pleural Effusion/left", "Opacity"]},
        {"id": "e", "image": image, "text": "Small left effusion.", "tags": ["Opacity", "Pleural Effusion/left"]},
    ]
    batch = term.collate(items, [], None)  # the part the collator calls with the batch's parses
    tags = batch["tags_key"].tolist()
    assert tags[0] == tags[1] == tags[2] and tags[3] == tags[4] != tags[0]  # tag order does not matter
    assert batch["tags_key"].dtype == torch.long and min(tags) >= 0


# --- evaluation -------------------------------------------------------------------------------


def test_tag_set_retrieval_counts_any_report_of_the_same_findings():
    images = np.eye(4)
    texts = ["normal one", "normal two", "effusion", "nodule"]
    tags = [["normal"], ["normal"], ["Pleural Effusion"], ["Nodule"]]
    # image 0 is closest to report 1: another wording of the same (normal) findings
    reports = np.array([[0.0, 1, 0, 0], [1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
    result = retrieval_report(images, reports, texts, ks=(1,), tags=tags)
    assert result["image_to_report"]["R@1"] == 0.5
    assert result["tag_set"]["image_to_report"]["R@1"] == 1.0
    assert result["tag_set"]["chance"] == chance_recall_at_k((4, 4), (1,), [0, 0, 1, 2], [0, 0, 1, 2])
    assert "tag_set" not in retrieval_report(images, reports, texts, ks=(1,))


def test_tag_sets_compare_as_sets():
    images = np.eye(2)
    result = retrieval_report(images, images[::-1], ["x", "y"], ks=(1,), tags=[["A", "B"], ["B", "A"]])
    assert result["tag_set"]["image_to_report"]["R@1"] == 1.0


def test_macro_auroc_min10_leaves_out_rare_labels():
    rng = np.random.default_rng(0)
    n = 40
    frequent = np.array([1] * MIN_POSITIVES + [0] * (n - MIN_POSITIVES))
    rare = np.array([1] * (MIN_POSITIVES - 1) + [0] * (n - MIN_POSITIVES + 1))
    images = rng.normal(size=(n, 4))

    def embed(texts):
        return np.array([np.eye(4)[0] if t.startswith(("No", "There is no")) else np.eye(4)[1] for t in texts])

    report = zero_shot_report(images, {"effusion": frequent, "nodule": rare}, embed)
    assert report["labels_min10"] == ["effusion"]
    assert report["macro_auroc_min10"] == report["per_label"]["effusion"]["auroc"]
    assert report["n_labels"] == 2


# --- the recipes --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["paper", "bench-cpu", "bench-gpu"])
def test_shipped_configs_load_and_validate(name):
    from pathlib import Path

    TrainConfig.load(Path(__file__).resolve().parent.parent / "configs" / f"{name}.toml").validate()


def test_cpu_recipe_builds_the_measured_model():
    from pathlib import Path

    config = TrainConfig.load(Path(__file__).resolve().parent.parent / "configs" / "bench-cpu.toml")
    model, _ = build_model(config)
    text = model.text_encoder.backbone
    assert len(text.encoder.layer) == 2 and model.text_encoder.last_layers == 2
    assert [any(p.requires_grad for p in layer.parameters()) for layer in text.encoder.layer] == [False, True]
    image_parameters = sum(p.numel() for p in model.image_encoder.parameters())
    assert 2_500_000 < image_parameters < 3_000_000


def test_ablation_takes_the_recipe_as_c_like_pretrain():
    import re

    from typer.testing import CliRunner

    from cli.app import app

    for command in (["pretrain"], ["benchmark", "ablation"]):
        result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
        assert result.exit_code == 0 and re.search(r"--config\s+-c\s", result.stdout), command
