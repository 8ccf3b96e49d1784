"""MotionBERT DSTformer: exact structure (parameter formula), fusion init, attention axes."""

import pytest
import torch
import torch.nn.functional as F

from handpose.models.dstformer import (
    Attention,
    Block,
    DSTformer,
    drop_path,
    dstformer_num_params,
)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def small(**kw):
    cfg = dict(dim_in=3, dim_out=3, dim_feat=16, dim_rep=24, depth=2, num_heads=4, mlp_ratio=2.0,
               num_joints=5, maxlen=9)  # fmt: skip
    cfg.update(kw)
    return DSTformer(**cfg)


# mgdhand.md §1.7: the totals derived from MotionBERT's code and checked against its checkpoints.
@pytest.mark.parametrize(
    "cfg, total",
    [
        (dict(dim_in=3, dim_out=3, dim_feat=256, dim_rep=512, mlp_ratio=4, num_joints=17,
              maxlen=243), 16_001_549),  # MB_lite
        (dict(dim_in=3, dim_out=3, dim_feat=512, dim_rep=512, mlp_ratio=2, num_joints=17,
              maxlen=243), 42_466_317),  # MB_pretrain
        (dict(dim_in=12, dim_out=3, dim_feat=256, dim_rep=512, mlp_ratio=4, num_joints=7,
              maxlen=81), 15_959_821),  # Lite, 7 IMU tokens, T = 81
    ],
)  # fmt: skip
def test_parameter_count_matches_motionbert(cfg, total):
    with torch.device("meta"):  # no memory, no init cost
        model = DSTformer(depth=5, num_heads=8, **cfg)
    assert n_params(model) == total
    assert dstformer_num_params(depth=5, **cfg) == total


@pytest.mark.parametrize("d, r", [(16, 2.0), (32, 4.0), (24, 1.0)])
def test_block_parameter_formula(d, r):
    block = Block(d, num_heads=4, mlp_ratio=r)
    assert n_params(block) == int((8 + 4 * r) * d * d + (18 + 2 * r) * d)


def test_fusion_starts_at_equal_split_and_is_learnable():
    torch.manual_seed(0)
    model = small()
    for lin in model.ts_attn:
        assert torch.all(lin.weight == 0) and torch.all(lin.bias == 0.5)
    x_st, x_ts = torch.randn(2, 9, 5, 16), torch.randn(2, 9, 5, 16)
    alpha = model.fusion_weights(0, x_st, x_ts)
    assert torch.allclose(alpha, torch.full_like(alpha, 0.5))
    # Per token: a changed weight gives different α at different tokens.
    with torch.no_grad():
        model.ts_attn[0].weight.normal_()
    alpha = model.fusion_weights(0, x_st, x_ts)
    assert torch.allclose(alpha.sum(-1), torch.ones(2, 9, 5))
    assert alpha[..., 0].std() > 0


def test_fusion_at_init_equals_plain_average():
    torch.manual_seed(0)
    fused = small()
    avg = small(att_fuse=False)
    avg.load_state_dict({k: v for k, v in fused.state_dict().items() if "ts_attn" not in k})
    x = torch.randn(2, 9, 5, 3)
    assert torch.allclose(fused(x), avg(x), atol=1e-6)


def test_init_is_trunc_normal_and_layernorm_identity():
    torch.manual_seed(0)
    model = small(dim_feat=64, num_heads=8)
    w = model.blocks_st[0].attn_s.qkv.weight
    # timm-style trunc_normal_(std=0.02) cuts at ±2 absolute: effectively N(0, 0.02²).
    assert 0.019 < w.std() < 0.021 and w.abs().max() < 0.15
    assert torch.all(model.blocks_st[0].attn_s.qkv.bias == 0)
    assert torch.all(model.norm.weight == 1) and torch.all(model.norm.bias == 0)
    assert model.norm.eps == 1e-6


def test_attention_matches_scaled_dot_product_reference():
    torch.manual_seed(0)
    attn = Attention(16, num_heads=4)
    x = torch.randn(3, 7, 16)
    q, k, v = attn.qkv(x).reshape(3, 7, 3, 4, 4).permute(2, 0, 3, 1, 4)
    ref = F.scaled_dot_product_attention(q, k, v)
    ref = attn.proj(ref.transpose(1, 2).reshape(3, 7, 16))
    out, maps = attn(x, return_attention=True)
    assert torch.allclose(out, ref, atol=1e-5)
    assert maps.shape == (3, 4, 7, 7)
    assert torch.allclose(maps.sum(-1), torch.ones(3, 4, 7))


def _changed(block_fn, x, where):
    y0 = block_fn(x)
    x2 = x.clone()
    x2[where] += torch.randn(x.shape[-1])  # not a constant: LayerNorm would remove it
    return (block_fn(x2) - y0).abs().amax(dim=-1) > 1e-6  # (B, F, J)


def test_spatial_attention_mixes_the_tokens_of_one_frame_only():
    torch.manual_seed(0)
    block = Block(16, 4, 2.0).eval()
    changed = _changed(block.spatial, torch.randn(1, 6, 5, 16), (0, 2, 1))
    assert changed[0, 2].all()  # every token of frame 2
    changed[0, 2] = False
    assert not changed.any()  # nothing in other frames


def test_temporal_attention_mixes_the_frames_of_one_token_only():
    torch.manual_seed(0)
    block = Block(16, 4, 2.0).eval()
    changed = _changed(block.temporal, torch.randn(1, 6, 5, 16), (0, 2, 1))
    assert changed[0, :, 1].all()  # token 1 in every frame
    changed[0, :, 1] = False
    assert not changed.any()


def test_stage_order_st_vs_ts():
    torch.manual_seed(0)
    st = Block(16, 4, 2.0, st_mode="stage_st")
    ts = Block(16, 4, 2.0, st_mode="stage_ts")
    ts.load_state_dict(st.state_dict())
    x = torch.randn(2, 4, 3, 16)
    assert torch.allclose(st(x), st.temporal(st.spatial(x)))
    assert torch.allclose(ts(x), st.spatial(st.temporal(x)))
    assert not torch.allclose(st(x), ts(x))
    with pytest.raises(ValueError):
        Block(16, 4, st_mode="parallel")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_representation_and_dtype(dtype):
    torch.manual_seed(0)
    model = small().to(dtype)
    x = torch.randn(2, 7, 5, 3, dtype=dtype)  # any F ≤ maxlen
    assert model(x).shape == (2, 7, 5, 3)
    rep = model.get_representation(x)
    assert rep.shape == (2, 7, 5, 24) and rep.dtype == dtype
    assert rep.abs().max() <= 1.0  # Tanh
    feats = model.encode(model.embed(x))
    assert feats.shape == (2, 7, 5, 16)
    # The trunk is token-count agnostic (the teacher shares it between 16 and N tokens).
    assert model.encode(torch.randn(2, 7, 3, 16, dtype=dtype)).shape == (2, 7, 3, 16)


def test_heads_can_be_dropped():
    torch.manual_seed(0)
    model = small(dim_rep=None, dim_out=None)
    x = torch.randn(1, 4, 5, 3)
    assert torch.equal(model(x), model.encode(model.embed(x)))
    assert dstformer_num_params(3, 3, 16, 24, 2, 2.0, 5, 9) - n_params(model) == (
        16 * 24 + 24 + 24 * 3 + 3
    )


def test_embed_rejects_wrong_sizes_and_masks_with_token():
    torch.manual_seed(0)
    model = small()
    with pytest.raises(ValueError, match="maxlen"):
        model(torch.randn(1, 10, 5, 3))
    with pytest.raises(ValueError, match="tokens"):
        model(torch.randn(1, 4, 6, 3))
    x = torch.randn(1, 4, 5, 3)
    mask = torch.zeros(1, 4, 5, dtype=torch.bool)
    mask[0, 1, 2] = True
    token = torch.randn(16)
    h = model.embed(x, mask, token)
    expected = token + model.pos_embed[0, 2] + model.temp_embed[0, 1, 0]
    assert torch.allclose(h[0, 1, 2], expected)
    assert torch.allclose(h[~mask], model.embed(x)[~mask])
    with pytest.raises(ValueError, match="mask_token"):
        model.embed(x, mask)


def test_drop_path_is_identity_in_eval_and_unbiased_in_training():
    x = torch.ones(20000, 3)
    assert torch.equal(drop_path(x, 0.3, training=False), x)
    torch.manual_seed(0)
    y = drop_path(x, 0.3, training=True)
    kept = y[:, 0] > 0
    assert torch.all((y[kept] - 1 / 0.7).abs() < 1e-6)  # whole samples scaled by 1/(1-p)
    assert abs(y.mean().item() - 1.0) < 0.03


@pytest.mark.parametrize("att_fuse", [True, False])
def test_lockstep_encoder_equals_encode(att_fuse):
    """The inference path's two streams side by side compute what encode computes."""
    from handpose.models.dstformer import LockstepEncoder

    torch.manual_seed(0)
    net = DSTformer(dim_in=12, dim_out=None, dim_rep=None, dim_feat=16, depth=2, num_heads=4,
                    mlp_ratio=1.25, num_joints=5, maxlen=9, att_fuse=att_fuse).eval()  # fmt: skip
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))  # the fusion away from 0.5/0.5
        h = net.embed(torch.randn(3, 9, 5, 12))
        ref = net.encode(h)
        out = LockstepEncoder(net)(h)
        assert out.shape == ref.shape
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
        lock = LockstepEncoder(net)
        w = net.blocks_ts[1].mlp_t.fc2.weight
        w.add_(torch.randn_like(w))  # copies: later changes do not reach it
        torch.testing.assert_close(lock(h), out, rtol=0, atol=0)
        assert not torch.allclose(net.encode(h), ref, atol=1e-3)
