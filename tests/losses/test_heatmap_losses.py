"""The heatmap-volume losses against naive loops and hand-computed cases."""

import math

import torch

from handpose.losses.heatmaps import coordinate_l1_loss, masked_mean, volume_kl_loss


def naive_kl(logits, target, valid, sigma, sigma_z, temperature=1.0):
    b, j, d, h, w = logits.shape
    out = {"xy": [], "z": []}
    for bi in range(b):
        for ji in range(j):
            if not valid[bi, ji]:
                continue
            flat = [float(logits[bi, ji, k, y, x]) / temperature
                    for k in range(d) for y in range(h) for x in range(w)]  # fmt: skip
            m = max(flat)
            z = sum(math.exp(v - m) for v in flat)
            p = [[[math.exp(float(logits[bi, ji, k, y, x]) / temperature - m) / z
                   for x in range(w)] for y in range(h)] for k in range(d)]  # fmt: skip
            tx, ty, tz = (float(v) for v in target[bi, ji])
            gxy = [[math.exp(-((x - tx) ** 2 + (y - ty) ** 2) / (2 * sigma**2)) for x in range(w)]
                   for y in range(h)]  # fmt: skip
            sxy = sum(map(sum, gxy))
            kl = 0.0
            for y in range(h):
                for x in range(w):
                    t = gxy[y][x] / sxy
                    pm = sum(p[k][y][x] for k in range(d))
                    kl += t * (math.log(t) - math.log(pm)) if t > 0 else 0.0
            out["xy"].append(kl)
            gz = [math.exp(-((k - tz) ** 2) / (2 * sigma_z**2)) for k in range(d)]
            sz = sum(gz)
            kl = 0.0
            for k in range(d):
                t = gz[k] / sz
                pm = sum(p[k][y][x] for y in range(h) for x in range(w))
                kl += t * (math.log(t) - math.log(pm))
            out["z"].append(kl)
    return {k: sum(v) / len(v) for k, v in out.items()}


def test_volume_kl_matches_a_naive_loop():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, 6, dtype=torch.float64) * 2
    target = torch.tensor(
        [[[1.2, 3.1, 0.4], [4.9, 0.2, 2.5], [2.0, 2.0, 3.0]],
         [[0.0, 4.0, 1.0], [5.5, 4.4, 0.1], [3.3, 1.7, 2.2]]], dtype=torch.float64
    )  # fmt: skip
    valid = torch.tensor([[True, True, False], [True, False, True]])
    got = volume_kl_loss(logits, target, valid, sigma=1.3, sigma_z=0.8, temperature=0.7)
    want = naive_kl(logits, target, valid, 1.3, 0.8, 0.7)
    for k in ("xy", "z"):
        assert abs(float(got[k]) - want[k]) < 1e-10, k


def test_volume_kl_is_zero_at_the_target_and_pulls_towards_it():
    from handpose.models.heads import gaussian_heatmaps_3d

    target = torch.tensor([[[3.0, 2.0, 1.0]]])
    g = gaussian_heatmaps_3d(target, (4, 6, 7), sigma=1.0, sigma_z=1.0)
    zero = volume_kl_loss(torch.log(g), target, torch.ones(1, 1, dtype=torch.bool))
    assert abs(float(zero["xy"])) < 1e-5 and abs(float(zero["z"])) < 1e-5
    logits = torch.zeros(1, 1, 4, 6, 7, requires_grad=True)  # uniform: KL = log(cells) − H(t)
    kl = volume_kl_loss(logits, target, torch.ones(1, 1, dtype=torch.bool))
    (kl["xy"] + kl["z"]).backward()
    grad = logits.grad[0, 0]
    assert grad[1, 2, 3] < 0 and grad[1, 2, 3] == grad.min()  # the target cell gains mass
    assert grad[3, 0, 6] > 0


def test_targets_outside_the_map_and_invalid_joints_are_left_out():
    logits = torch.randn(1, 2, 3, 4, 4)
    inside = torch.tensor([[[1.0, 1.0, 1.0], [1.5, 2.0, 1.0]]])
    far = inside.clone()
    far[0, 1, :2] = 100.0  # no Gaussian mass on the map
    both = torch.ones(1, 2, dtype=torch.bool)
    first = torch.tensor([[True, False]])
    a = volume_kl_loss(logits, far, both)
    b = volume_kl_loss(logits, inside, first)
    torch.testing.assert_close(a["xy"], b["xy"])


def test_coordinate_l1_by_hand():
    pred = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]])
    target = torch.tensor([[[2.0, 0.0, 3.5], [9.0, 9.0, 9.0]]])
    valid = torch.tensor([[True, False]])
    # |1|/4 + |2|/8 + |0.5|/2 = 0.25 + 0.25 + 0.25
    assert float(coordinate_l1_loss(pred, target, valid, (4, 8, 2))) == 0.75
    assert float(masked_mean(torch.tensor([1.0, 3.0]), torch.tensor([False, False]))) == 0.0
