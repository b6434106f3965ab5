"""The two-stage HybridMED schedule: stage boundaries and terms, parameter groups of a real
model, and stage 2's frozen teacher — no gradient, no optimizer state, unchanged by a step."""

from __future__ import annotations

import pytest
import torch

from pretrain.train.config import TrainConfig
from pretrain.hybridmed.decoder import ImpressionDecoder
from pretrain.hybridmed.schedule import (
    GROUPS,
    TEACHER_GROUPS,
    HybridSchedule,
    apply_stage,
    parameter_group,
)
from pretrain.model.dual_encoder import build_model
from pretrain.train.optim import param_groups


def test_stages_split_the_run_and_say_which_terms_and_groups_train():
    first, second = HybridSchedule(stage1_fraction=0.25).stages(100)
    assert (first.start, first.stop, second.start, second.stop) == (0, 25, 25, 100)
    assert first.weights == {"sum": 1.0} and not first.teacher_frozen
    assert set(second.weights) == {"cg", "cl", "cap", "dis"} and second.teacher_frozen
    schedule = HybridSchedule(stage1_fraction=0.25)
    assert [schedule.stage_at(s, 100).index for s in (0, 24, 25, 99)] == [1, 1, 2, 2]
    assert "dis" not in HybridSchedule(lambda_dis=0.0).stages(10)[1].weights  # λ = 0 switches a term off
    assert HybridSchedule(stage1_fraction=0.0).stage_at(0, 10).index == 2


@pytest.mark.parametrize("bad", [dict(stage1_fraction=1.0), dict(distill_temperature=0.0), dict(lambda_cap=-1.0)])
def test_bad_schedules_are_refused(bad):
    with pytest.raises(ValueError):
        HybridSchedule(**bad)


@pytest.fixture()
def model():
    torch.manual_seed(0)
    config = TrainConfig(image_encoder="tiny-resnet", text_encoder="tiny-bert", embed_dim=16, image_size=64)
    model, tokenizer = build_model(config)
    model.decoder = ImpressionDecoder(
        len(tokenizer), {"caption": model.image_encoder.local_dim, "summary": model.text_encoder.dim},
        pad_id=tokenizer.pad_token_id, bos_id=tokenizer.cls_token_id, eos_id=tokenizer.sep_token_id,
        dim=16, layers=1, heads=2, ffn_dim=32, max_positions=16,
    )
    return model


def test_every_parameter_of_a_real_model_falls_in_a_group(model):
    groups = {parameter_group(name) for name, _ in model.named_parameters()}
    assert groups == set(GROUPS)
    assert parameter_group("decoder.layers.0.self_attn.in_proj_weight") == "decoder_shared"
    assert parameter_group("decoder.layers.0.cross.summary.attn.in_proj_weight") == "summary"
    assert parameter_group("decoder.memory_in.caption.0.weight") == "caption"
    assert parameter_group("log_scale_global") == "heads"
    with pytest.raises(ValueError, match="unwrapped"):
        parameter_group("module.decoder.layers.0.self_attn.in_proj_weight")


def _loss_touching_everything(model) -> torch.Tensor:
    return sum((p.float() ** 2).sum() for p in model.parameters() if p.requires_grad)


def test_stage_two_leaves_the_teacher_out_of_the_optimizer_and_unchanged_by_a_step(model):
    schedule = HybridSchedule(stage1_fraction=0.5)
    names = dict(model.named_parameters())
    teacher = {n for n in names if parameter_group(n) in TEACHER_GROUPS}
    assert teacher and any(".self_attn." in n for n in teacher)  # the shared layers belong to the teacher

    apply_stage(model, schedule.stage_at(0, 10))  # stage 1 leaves gradients on the teacher
    _loss_touching_everything(model).backward()
    assert all(names[n].grad is not None for n in teacher)

    trainable = apply_stage(model, schedule.stage_at(5, 10))
    assert {id(p) for p in trainable} == {id(p) for n, p in names.items() if n not in teacher}
    assert all(names[n].grad is None and not names[n].requires_grad for n in teacher)
    optimizer = torch.optim.AdamW(param_groups(model, TrainConfig()))
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert not in_optimizer & {id(names[n]) for n in teacher}
    assert in_optimizer == {id(p) for p in trainable}

    before = {n: names[n].detach().clone() for n in teacher}
    _loss_touching_everything(model).backward()
    optimizer.step()
    assert all(names[n].grad is None for n in teacher)
    assert not any(id(p) in {id(names[n]) for n in teacher} for p in optimizer.state)
    assert all(torch.equal(before[n], names[n]) for n in teacher)
    assert names["decoder.layers.0.cross.caption.attn.in_proj_weight"] in optimizer.state


def test_stage_one_trains_only_the_summarisation_branch(model):
    trainable = apply_stage(model, HybridSchedule().stage_at(0, 10))
    names = {id(p): n for n, p in model.named_parameters()}
    assert {parameter_group(names[id(p)]) for p in trainable} == {"decoder_shared", "summary"}
