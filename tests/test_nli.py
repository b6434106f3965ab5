"""The NLI harness on the hand-written fixture with a tiny, randomly initialised BERT."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pretrain.evaluation.nli import NLI_LABELS, NLIConfig, NLIError, fine_tune_nli, load_nli

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT with a word-level vocabulary built from the fixture, saved like the
    trainer's export (save_pretrained), so no hub access is needed."""
    from transformers import BertConfig, BertModel, BertTokenizer

    words = set()
    for name in ("nli_train.jsonl", "nli_test.jsonl"):
        for line in (FIXTURES / name).read_text().splitlines():
            row = json.loads(line)
            words.update(re.findall(r"\w+|[^\w\s]", (row["premise"] + " " + row["hypothesis"]).lower()))
    directory = tmp_path_factory.mktemp("tiny_bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]
    BertTokenizer(vocab={word: i for i, word in enumerate(vocab)}).save_pretrained(directory)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    return directory


def test_fixture_is_balanced_and_valid():
    train, rejects = load_nli(FIXTURES / "nli_train.jsonl")
    test, test_rejects = load_nli(FIXTURES / "nli_test.jsonl")
    assert (len(train), rejects, len(test), test_rejects) == (30, 0, 12, 0)
    assert sorted({p.label for p in train}) == [0, 1, 2]
    assert [sum(p.label == i for p in train) for i in range(3)] == [10, 10, 10]


def test_bad_rows_are_counted_and_mednli_fields_accepted(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join([
            json.dumps({"sentence1": "Effusion.", "sentence2": "Fluid.", "gold_label": "Entailment"}),
            "{not json",
            json.dumps({"premise": "A", "hypothesis": "", "label": "neutral"}),
            json.dumps({"premise": "A", "hypothesis": "B", "label": "maybe"}),
            json.dumps(["premise", "hypothesis"]),
            "",
        ])
    )
    pairs, rejects = load_nli(path)
    assert rejects == 4
    assert [(p.premise, p.label) for p in pairs] == [("Effusion.", NLI_LABELS.index("entailment"))]


def test_missing_or_empty_files_are_one_line_errors(tmp_path):
    with pytest.raises(NLIError, match="not found"):
        load_nli(tmp_path / "nope.jsonl")
    (tmp_path / "bad.jsonl").write_text("{}\n")
    with pytest.raises(NLIError, match=r"no valid NLI pairs .* \(1 rejected rows\)"):
        load_nli(tmp_path / "bad.jsonl")
    with pytest.raises(NLIError, match="no config.json"):
        fine_tune_nli(tmp_path, [], [])


def test_fine_tuning_lowers_the_loss_and_scores_the_test_set(tiny_bert):
    train, _ = load_nli(FIXTURES / "nli_train.jsonl")
    test, _ = load_nli(FIXTURES / "nli_test.jsonl")
    config = NLIConfig(epochs=12, lr=5e-3, batch_size=10, warmup_fraction=0.0, seed=0)
    result = fine_tune_nli(tiny_bert, train, test, config)
    assert len(result.losses) == 12 * 3
    first, last = sum(result.losses[:3]) / 3, sum(result.losses[-3:]) / 3
    assert last < 0.5 * first
    assert result.accuracy > 1 / 3  # above chance on pairs it never saw
    assert sum(map(sum, result.confusion)) == result.n_test == 12
    assert 0.0 <= result.accuracy <= 1.0 and set(result.per_class_f1) == set(NLI_LABELS)
    again = fine_tune_nli(tiny_bert, train, test, config)
    assert again.losses == result.losses


def test_cli_writes_metrics_and_loss_plot(tiny_bert, tmp_path):
    from typer.testing import CliRunner

    from cli.app import app

    out = tmp_path / "nli"
    args = ["evaluate-nli", str(tiny_bert), "--train", str(FIXTURES / "nli_train.jsonl"),
            "--test", str(FIXTURES / "nli_test.jsonl"), "--out", str(out), "--epochs", "1",
            "--lr", "1e-3", "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout
    record = json.loads((out / "nli.json").read_text())
    assert record["n_train"] == 30 and record["rejected_rows"] == {"train": 0, "test": 0}
    assert len(record["losses"]) == 2  # 30 pairs, batches of 16
    assert (out / "nli_loss.png").read_bytes().startswith(b"\x89PNG")
    bad = CliRunner().invoke(app, [*args[:2], "--train", str(tmp_path / "none.jsonl"), *args[4:]])
    assert bad.exit_code == 1 and bad.stderr.strip() == (
        f"radperturb evaluate-nli: error: NLI file not found: {tmp_path / 'none.jsonl'}")
