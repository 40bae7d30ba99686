"""A leaner CPU forward pass for ESM2 (fair-esm or transformers), from the module's own weights.

fair-esm's ESM2 runs in (T, B, E) layout, splits heads with transposed copies, applies the
rotary embedding with a concatenation per call, scales and soft-maxes attention in separate
kernels and spells GELU as erf arithmetic. On a CPU those elementwise kernels cost about as
much as a third of the matrix products. This pass computes the same function in (B, T, E)
layout: one matrix product for Q, K and V, the rotary embedding as one complex multiply
(Q and K rows permuted so each rotated pair sits side by side; a permutation shared by Q and
K leaves every dot product unchanged), ``scaled_dot_product_attention``, and in float32 the
first feed-forward product with its GELU fused on oneDNN (where this torch has that kernel).

Precision: in float32 the logits equal fair-esm's to float32 rounding (the tests bound the
difference). With a bfloat16 compute dtype the matrix products and attention run in
bfloat16 while the residual stream, layer norms and logits stay float32 (what autocast
does), which is about twice as fast on CPUs with AVX512-BF16 or AMX and changes scores by
the amounts ``tests/test_models_esm_forward.py`` states.

Memory: the pass keeps a copy of each layer's Q, K and V weights (a quarter of the layer;
with a bfloat16 compute dtype, every layer weight again at half the size).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

_MASK_RATIO_TRAIN = 0.15 * 0.8  # fair-esm's token-dropout constant


class _Parts:
    """The pieces of an ESM2 network, named the same whichever library holds them."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _fair_esm_parts(module) -> _Parts | None:
    try:
        from esm.model.esm2 import ESM2
    except ImportError:
        return None
    if not isinstance(module, ESM2):
        return None
    attn = [layer.self_attn for layer in module.layers]
    if not all(a.rot_emb is not None and a.bias_k is None and not a.add_zero_attn for a in attn):
        return None
    head = module.lm_head
    return _Parts(
        embed=module.embed_tokens, embed_scale=module.embed_scale, heads=module.attention_heads,
        padding_idx=module.padding_idx, mask_idx=module.mask_idx,
        token_dropout=module.token_dropout,
        layers=[(layer.self_attn_layer_norm, a.q_proj, a.k_proj, a.v_proj, a.out_proj,
                 layer.final_layer_norm, layer.fc1, layer.fc2)
                for layer, a in zip(module.layers, attn)],
        final_norm=module.emb_layer_norm_after, head_dense=head.dense,
        head_norm=head.layer_norm, head_weight=head.weight, head_bias=head.bias)


def _transformers_parts(module) -> _Parts | None:
    try:
        from transformers import EsmForMaskedLM
    except ImportError:
        return None
    if not isinstance(module, EsmForMaskedLM):
        return None
    cfg = module.config
    if (cfg.position_embedding_type != "rotary" or cfg.emb_layer_norm_before
            or getattr(cfg, "is_decoder", False)
            or getattr(module.esm.embeddings, "layer_norm", None) is not None):
        return None
    head = module.lm_head
    return _Parts(
        embed=module.esm.embeddings.word_embeddings, embed_scale=1.0,
        heads=cfg.num_attention_heads, padding_idx=cfg.pad_token_id,
        mask_idx=cfg.mask_token_id, token_dropout=bool(cfg.token_dropout),
        layers=[(layer.attention.LayerNorm, layer.attention.self.query,
                 layer.attention.self.key, layer.attention.self.value,
                 layer.attention.output.dense, layer.LayerNorm, layer.intermediate.dense,
                 layer.output.dense) for layer in module.esm.encoder.layer],
        final_norm=module.esm.encoder.emb_layer_norm_after, head_dense=head.dense,
        head_norm=head.layer_norm, head_weight=head.decoder.weight, head_bias=head.bias)


def _parts(module) -> _Parts | None:
    return _fair_esm_parts(module) or _transformers_parts(module)


def supports(module) -> bool:
    """Whether `module` is an ESM2 this pass reproduces: fair-esm's ESM2 or transformers'
    EsmForMaskedLM, with rotary attention and no extra key/value biases."""
    return _parts(module) is not None


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _onednn_linear():
    """oneDNN's linear with a fused GELU epilogue (the kernel torch.compile's CPU backend
    emits) where this torch has it and it matches F.linear + F.gelu on a probe; else None."""
    op = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
    if op is None or not torch.backends.mkldnn.is_available():
        return None
    gen = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(shape, generator=gen) for shape in ((5, 8), (6, 8), (6,)))
    try:
        with torch.inference_mode():
            ok = (torch.allclose(op(x, w, b, "gelu", [], "none"), F.gelu(F.linear(x, w, b)),
                                 atol=1e-5)
                  and torch.allclose(op(x, w, b, "none", [], ""), F.linear(x, w, b), atol=1e-5))
    except (RuntimeError, TypeError):
        return None
    return op if ok else None


class _Layer:
    __slots__ = ("ln1", "wqkv", "bqkv", "wo", "bo", "ln2", "w1", "b1", "w2", "b2")


class ESM2Forward:
    """Masked-LM logits of an ESM2 module (fair-esm or transformers). Weights are read (and,
    for Q/K/V and a bfloat16 compute dtype, copied) once at construction; build a new one
    after changing the module's weights."""

    def __init__(self, module, compute_dtype: torch.dtype = torch.float32):
        parts = _parts(module)
        if parts is None:
            raise ValueError("ESM2Forward needs an ESM2 with rotary attention (fair-esm ESM2 or "
                             "transformers EsmForMaskedLM)")
        if compute_dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"compute_dtype must be float32 or bfloat16, got {compute_dtype}")
        self.parts = parts
        self.dtype = compute_dtype
        self.attention = "auto"
        # bf16 products already run on oneDNN through F.linear, and fusing GELU gains nothing
        self.onednn = _onednn_linear() if compute_dtype == torch.float32 else None
        self.heads = parts.heads
        self.head_dim = parts.embed.embedding_dim // self.heads
        d = self.head_dim
        # row order within each head that puts rotary pair (j, j + d/2) at (2j, 2j + 1)
        pair = torch.stack([torch.arange(d // 2), torch.arange(d // 2) + d // 2], 1).reshape(-1)
        perm = (torch.arange(self.heads)[:, None] * d + pair[None, :]).reshape(-1)
        self.layers = []
        with torch.no_grad():
            for ln1, q, k, v, o, ln2, fc1, fc2 in parts.layers:
                p = _Layer()
                p.ln1, p.ln2 = ln1, ln2
                p.wqkv = self._cast(torch.cat([q.weight[perm], k.weight[perm], v.weight]))
                p.bqkv = self._cast(torch.cat([q.bias[perm], k.bias[perm], v.bias]))
                p.wo, p.bo = self._cast(o.weight), self._cast(o.bias)
                p.w1, p.b1 = self._cast(fc1.weight), self._cast(fc1.bias)
                p.w2, p.b2 = self._cast(fc2.weight), self._cast(fc2.bias)
                self.layers.append(p)
        # both libraries' rotary frequencies: 1 / 10000^(2j / d)
        self.inv_freq = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
        self._rotary: tuple[int, torch.Tensor] | None = None

    def _cast(self, w: torch.Tensor) -> torch.Tensor:
        w = w.detach()
        return w.to(self.dtype).contiguous() if w.dtype != self.dtype else w.contiguous()

    def _rotation(self, T: int, device) -> torch.Tensor:
        """(T, 1, d/2) complex e^{i t f_j}: fair-esm's rotary angles for positions 0..T-1."""
        if self._rotary is None or self._rotary[0] != T or self._rotary[1].device != device:
            t = torch.arange(T, device=device, dtype=torch.float32)
            angles = torch.outer(t, self.inv_freq.to(device))
            self._rotary = (T, torch.polar(torch.ones_like(angles), angles)[:, None, :])
        return self._rotary[1]

    def _rotate(self, x: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
        """Rotary embedding of x (B, T, H, d), rows already in pair order."""
        B, T, H, d = x.shape
        z = torch.view_as_complex(x.float().reshape(B, T, H, d // 2, 2))
        return torch.view_as_real(z * rot).reshape(B, T, H, d).to(self.dtype)

    def _attention(self, q, k, v, attn_mask):
        """softmax(q k^T / sqrt(d)) v over (B, H, T, d); True in attn_mask = attend."""
        if self.dtype == torch.float32 or self.attention == "sdpa":
            return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        # bfloat16: at protein lengths the CPU flash kernel is slower than two batched
        # products around a float32 softmax (autocast's recipe)
        s = torch.matmul(q, k.transpose(-1, -2)).float() * self.head_dim ** -0.5
        if attn_mask is not None:
            s = s.masked_fill(~attn_mask, float("-inf"))
        return torch.matmul(torch.softmax(s, dim=-1).to(self.dtype), v)

    def _linear(self, x: torch.Tensor, w, b, gelu: bool = False) -> torch.Tensor:
        """x @ w.T + b (then GELU): on oneDNN with the GELU fused where it is available,
        which saves a pass over the largest activation and is a little faster on its own."""
        if self.onednn is None:
            y = F.linear(x, w, b)
            return F.gelu(y) if gelu else y
        flat = x.reshape(-1, x.shape[-1])
        y = (self.onednn(flat, w, b, "gelu", [], "none") if gelu
             else self.onednn(flat, w, b, "none", [], ""))
        return y.view(*x.shape[:-1], w.shape[0])

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T, V) float32 logits of token ids (B, T), as the module's own forward gives
        them (padding read from the padding token, as plmscope pads)."""
        m = self.parts
        B, T = tokens.shape
        H, d = self.heads, self.head_dim
        padding = tokens.eq(m.padding_idx)
        x = m.embed(tokens).float()
        if m.embed_scale != 1:
            x = m.embed_scale * x
        if m.token_dropout:
            masked = tokens.eq(m.mask_idx)
            x = x.masked_fill(masked[..., None], 0.0)
            observed = masked.sum(-1).float() / (~padding).sum(-1)
            x = x * ((1 - _MASK_RATIO_TRAIN) / (1 - observed))[:, None, None]
        attn_mask = None
        if padding.any():
            x = x * (~padding)[..., None].float()
            attn_mask = ~padding[:, None, None, :]  # (B, 1, 1, T): True = attend
        rot = self._rotation(T, tokens.device)
        for p in self.layers:
            h = p.ln1(x).to(self.dtype)
            qkv = self._linear(h, p.wqkv, p.bqkv).view(B, T, 3, H, d)
            q = self._rotate(qkv[:, :, 0], rot).transpose(1, 2)
            k = self._rotate(qkv[:, :, 1], rot).transpose(1, 2)
            v = qkv[:, :, 2].transpose(1, 2)
            o = self._attention(q, k, v, attn_mask)
            o = o.transpose(1, 2).reshape(B, T, H * d)
            x = x + self._linear(o, p.wo, p.bo).float()
            h = self._linear(p.ln2(x).to(self.dtype), p.w1, p.b1, gelu=True)
            x = x + self._linear(h, p.w2, p.b2).float()
        x = m.head_norm(F.gelu(m.head_dense(m.final_norm(x))))
        return F.linear(x, m.head_weight) + m.head_bias
