"""Loss terms: the config builds the three built-ins, a term left off owns no parameter and an
inactive one trains none, the objective sums the weighted terms and logs each by name, and a
term may read raw features, own a module and have the collator add what it needs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pretrain.model.dual_encoder import build_model
from pretrain.model.text import tokenize_reports
from pretrain.train.collator import PerturbationCollator
from pretrain.train.config import ConfigError, TrainConfig
from pretrain.train.objective import Objective
from pretrain.train.terms import TERMS, LossTerm, TermOutput, build_terms, register_term

TINY = dict(image_encoder="tiny-resnet", text_encoder="tiny-bert", embed_dim=16, image_size=32)
TEXTS = ["Mild cardiomegaly.", "Heart size mild cardiomegaly.", "The lungs are clear.", "Clear are the lungs.",
         "Small left effusion.", "Left small effusion."]


@pytest.fixture
def model_and_tokenizer():
    torch.manual_seed(0)
    return build_model(TrainConfig(**TINY))


def _batch(tokenizer) -> dict:
    """Three images, each with its report and one perturbed twin."""
    encoded = tokenize_reports(tokenizer, TEXTS, 32)
    return {"images": torch.randn(3, 3, 32, 32), **{k: v.view(3, 2, -1) for k, v in encoded.items()},
            "neg_valid": torch.ones(3, 2, dtype=torch.bool)}


def _trainable(objective: Objective) -> set[str]:
    return {name for name, p in objective.named_parameters() if p.requires_grad and "_encoder." not in name}


def test_the_config_builds_the_built_in_terms_in_order_with_their_weights():
    terms = build_terms(TrainConfig(alpha=0.25, beta=0.5))
    assert [(t.name, t.weight) for t in terms] == [("global", 1.0), ("local", 0.25), ("pert", 0.5)]
    assert [t.name for t in build_terms(TrainConfig(use_local=False))] == ["global", "pert"]


def test_a_term_left_off_owns_no_parameter_and_an_inactive_one_trains_none(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    objective = Objective(model, build_terms(TrainConfig(use_pert=False, **TINY)))
    assert not any(name.startswith("terms.pert.") for name, _ in objective.named_parameters())
    assert _trainable(objective) == {"terms.global.log_scale", *(
        f"model.{head}.{p}" for head in ("image_global_head", "image_local_head", "text_global_head",
                                         "text_local_head") for p in ("weight", "bias"))}
    objective.activate(["local"])
    assert _trainable(objective) == {f"model.{head}.{p}" for head in ("image_local_head", "text_local_head")
                                     for p in ("weight", "bias")}
    assert set(objective(_batch(tokenizer))) == {"loss", "local"}
    objective.activate(["global", "local"])
    assert "terms.global.log_scale" in _trainable(objective)


def test_the_loss_is_the_weighted_sum_of_the_terms_each_logged_by_name(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    model.eval()
    objective = Objective(model, build_terms(TrainConfig(alpha=0.3, beta=0.7, **TINY)))
    with torch.no_grad():
        out = objective(_batch(tokenizer))
    assert list(out) == ["loss", "global", "local", "pert", "pert_acc"]
    torch.testing.assert_close(out["loss"], out["global"] + 0.3 * out["local"] + 0.7 * out["pert"])
    assert objective.logged() == {"temp_global": pytest.approx(0.07), "temp_pert": pytest.approx(0.07)}


def tagged_words(items, reports, tokenizer) -> dict:
    """A batch part: the number of words of each original report (made in the workers)."""
    return {"n_words": torch.tensor([len(report.text.split()) for report in reports], dtype=torch.float32)}


class RawLengthTerm(LossTerm):
    """A toy term with a module of its own that reads the encoders' raw features and a batch
    entry that its batch part adds."""

    name = "raw_length"
    features = frozenset({"image_regions", "text_tokens"})
    batch_keys = ("n_words",)
    collate = staticmethod(tagged_words)

    def __init__(self, model) -> None:
        super().__init__(weight=0.5)
        self.probe = nn.Linear(model.image_encoder.local_dim + model.text_encoder.dim, 1)

    def forward(self, features, batch, model) -> TermOutput:
        pooled = torch.cat([features["image_regions"].mean(1), features["text_tokens"][:, 0].mean(1)], dim=1)
        return TermOutput((self.probe(pooled).squeeze(1) - batch["n_words"]).square().mean())


def test_a_term_reads_raw_features_owns_a_module_and_gets_its_batch_entries(model_and_tokenizer, parser):
    model, tokenizer = model_and_tokenizer
    parses = {f"r{i}": parser.parse(text) for i, text in enumerate(TEXTS[::2])}
    collate = PerturbationCollator(tokenizer, lambda key, _text: parses[key], k_negatives=1,
                                   kinds="shuffle_all_words", parts=[RawLengthTerm.collate])
    batch = collate([{"id": f"r{i}", "image": torch.randn(3, 32, 32), "text": text, "tags": []}
                     for i, text in enumerate(TEXTS[::2])])
    assert batch["n_words"].tolist() == [2.0, 4.0, 3.0]
    term = RawLengthTerm(model)
    objective = Objective(model, [*build_terms(TrainConfig(use_local=False, **TINY)), term])
    out = objective(batch)
    out["loss"].backward()
    assert set(out) == {"loss", "global", "pert", "pert_acc", "raw_length"}
    assert term.probe.weight.grad is not None
    assert model.image_encoder.backbone.embedder.embedder.convolution.weight.grad is not None


def test_a_term_that_reads_what_nobody_gives_is_a_one_line_error(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer

    class Wrong(RawLengthTerm):
        name = "wrong"
        features = frozenset({"image_pixels"})

    with pytest.raises(ConfigError, match="loss term 'wrong' reads image_pixels, which the model does not give"):
        Objective(model, [Wrong(model)])
    with pytest.raises(ConfigError, match="loss term 'raw_length' needs batch entries n_words"):
        Objective(model, [RawLengthTerm(model)])(_batch(tokenizer))


def test_a_user_term_registers_like_a_perturbation_and_names_are_unique():
    class Constant(LossTerm):
        name = "constant"

        @classmethod
        def from_config(cls, config):
            return cls(weight=2.0) if config.use_global else None

        def forward(self, features, batch, model):
            return TermOutput(features["image_global"].sum() * 0)

    try:
        register_term(Constant)
        assert [t.name for t in build_terms(TrainConfig())][-1] == "constant"
        assert "constant" not in [t.name for t in build_terms(TrainConfig(use_global=False))]
        with pytest.raises(ValueError, match="already registered"):
            register_term(Constant)
    finally:
        TERMS.pop("constant", None)


def test_the_terms_parameters_come_first_as_the_temperatures_did_in_the_model(model_and_tokenizer):
    """Clipping sums the gradient norm in parameter order and the optimizer's state is matched by
    position, so the order must be the one older checkpoints were written in."""
    model, _ = model_and_tokenizer
    names = [name for name, _ in Objective(model, build_terms(TrainConfig(**TINY))).named_parameters()]
    assert names[:3] == ["terms.global.log_scale", "terms.pert.log_scale",
                         "model.image_encoder.backbone.embedder.embedder.convolution.weight"]
