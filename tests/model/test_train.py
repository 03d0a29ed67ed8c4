"""Training learns, splits by sample, weighs rare tags, and fine-tuning keeps what it knew."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.model.helpers import TAGS, labelled_arrays
from tui_tagger.model.data import Sample, group_key, label_matrix
from tui_tagger.model.metrics import tag_metrics
from tui_tagger.model.nets import create_model
from tui_tagger.model.train import TrainConfig, adapt_head, fit, masked_loss, overfitting, pos_weights, split_groups
from tui_tagger.model.transforms import preprocess, preprocess_config


def _mean_ap(model, x, y):
    with torch.no_grad():
        probs = torch.sigmoid(model.eval()(torch.from_numpy(x.astype(np.float32))[:, None])).numpy()
    return tag_metrics(y, probs, TAGS)["mean_ap"]


@pytest.mark.parametrize("precision", ["auto", "bf16"])
def test_a_tiny_task_is_learned_on_the_cpu(precision):
    images, y = labelled_arrays(96, 64, seed=0)
    cfg = preprocess_config({"size": 64})
    x = np.stack([preprocess(img, None, cfg) for img in images]).astype(np.float16)
    test_images, test_y = labelled_arrays(48, 64, seed=1)
    test_x = np.stack([preprocess(img, None, cfg) for img in test_images])
    torch.manual_seed(0)
    model = create_model("alexnet-tagger", len(TAGS))
    before = _mean_ap(model, test_x, test_y)
    logs = []
    model, summary, thresholds = fit(model, x, y, np.ones_like(y), [str(i) for i in range(len(y))], TAGS,
                                     TrainConfig(epochs=5, batch=16, lr=2e-3, precision=precision), torch.device("cpu"),
                                     logs.append)
    history = summary["history"]
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    after = _mean_ap(model, test_x, test_y)
    assert after > 0.9 and after > before + 0.2
    assert summary["val_frames"] > 0 and summary["val_mean_ap"] > 0.9
    assert set(thresholds) == set(TAGS) and all(0 < t < 1 for t in thresholds.values())
    assert len(logs) == summary["epochs_run"] and not model.training
    assert summary["overfitting"] is None


def test_overfitting_warns_when_validation_falls_far_behind():
    assert "validation falls far behind training" in overfitting(0.95, 0.55, 0.05, 0.40)
    assert "validation falls far behind training" in overfitting(0.9, 0.85, 0.05, 0.60)  # loss 12x
    assert overfitting(0.92, 0.88, 0.20, 0.25) is None


def test_validation_split_never_cuts_a_sample_group():
    groups = [f"g{i // 4}" for i in range(40)]  # 10 samples of 4 frames
    train, val = split_groups(groups, 0.25, seed=3)
    assert {groups[i] for i in train}.isdisjoint({groups[i] for i in val})
    assert 8 <= len(val) <= 12 and len(train) + len(val) == 40
    assert len(split_groups(["one"] * 5, 0.5, 0)[1]) == 0  # one sample: nothing to validate on


@pytest.mark.parametrize("name, key", [
    ("layer_no_nxtal_1200_0480min_th020_spot1_10sec_SAXS", "layer_no_nxtal_1200"),
    ("layer_no_nxtal_1200_4080min_th020_spot3_10sec_SAXS", "layer_no_nxtal_1200"),
    ("layer_no_nxtal_1500_0480min_th020_spot1_10sec_SAXS", "layer_no_nxtal_1500"),
    ("AgBH_10sec_SAXS", "AgBH"),
    ("film3_x-1.500_y0.20_5.00s_00012.edf", "film3"),
    ("PS-PMMA_anneal-2h_th0.12_001.tif", "PS-PMMA_anneal-2h"),
    ("stack_master.h5#7", "stack"),
])
def test_group_key_strips_frame_numbers_and_conditions(tmp_path, name, key):
    assert group_key(str(tmp_path / name)) == str(tmp_path / key)


def test_synthetic_frames_are_each_their_own_group(tmp_path):
    a, b = str(tmp_path / "synth_0001.tif"), str(tmp_path / "synth_0002.tif")
    assert group_key(a, {"Ring: Isotropic": "synthetic"}) != group_key(b, {"Ring: Isotropic": "synthetic"})
    assert group_key(a, {"Ring: Isotropic": "human"}) == group_key(b, {"Ring: Isotropic": "human"})


def test_model_made_tags_are_not_ground_truth():
    samples = [Sample("a", {"Ring: Isotropic": "human", "Vertical streaks": "model"})]
    y, known = label_matrix(samples, TAGS)
    assert y.tolist() == [[1.0, 0.0]] and known.tolist() == [[1.0, 0.0]]


def test_pos_weight_favours_rare_tags_but_is_clipped():
    y = np.zeros((1000, 3), np.float32)
    y[:500, 0] = 1
    y[:10, 1] = 1
    y[:1, 2] = 1
    w = pos_weights(y, np.ones_like(y), clip=20.0)
    assert w[0] == pytest.approx(1.0) and w[1] == 20.0 and w[2] == 20.0


def test_fine_tuning_keeps_the_rows_of_known_tags():
    model = create_model("alexnet-tagger", 2)
    old = model.head.weight.detach().clone()
    model = adapt_head(model, ["a", "b"], ["b", "c", "a"])
    assert model.head.out_features == 3
    assert torch.equal(model.head.weight[0], old[1]) and torch.equal(model.head.weight[2], old[0])


def test_focal_loss_weighs_the_labels_the_model_gets_wrong():
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    y = torch.tensor([[1.0, 0.0]])
    known = torch.ones_like(y)
    sure_right, sure_wrong = torch.tensor([[4.0, -4.0]]), torch.tensor([[-4.0, 4.0]])
    assert masked_loss(bce, sure_right, y, known) == pytest.approx(float(bce(sure_right, y).mean()))
    # focal shrinks the confident right answers far more than the confident wrong ones
    right_share = masked_loss(bce, sure_right, y, known, 2.0) / masked_loss(bce, sure_right, y, known)
    wrong_share = masked_loss(bce, sure_wrong, y, known, 2.0) / masked_loss(bce, sure_wrong, y, known)
    assert right_share < 1e-3 and wrong_share > 0.9
    # unknown labels never count
    assert masked_loss(bce, sure_wrong, y, torch.tensor([[0.0, 0.0]]), 2.0) == 0


def test_an_image_naming_no_experiment_type_is_no_negative_for_one():
    tags = ["AgBH", "TSAXS", "GISAXS"]
    samples = [Sample("a", {"AgBH": "human"}), Sample("b", {"AgBH": "human", "TSAXS": "human"})]
    y, known = label_matrix(samples, tags)
    assert y.tolist() == [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    assert known.tolist() == [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
