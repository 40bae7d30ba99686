"""The three scorers against slow one-sequence-at-a-time loops, on tiny random models of
every scoring backend; batching, padding, deduplication and backend agreement."""
import esm
import numpy as np
import pytest
import torch
import transformers
from plmscope.fourier import qary_fft
from plmscope.landscape import Landscape
from plmscope.models import Oracle, load, pll, save_random_model, score_variants
from plmscope.models.batching import run_batches

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
SITES = [3, 10, 24, 41]
SCORERS = ["pllr", "masked_marginal", "wt_marginal"]
KEYS = ["fair-esm", "esm", "bert"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    return {"fair-esm": save_random_model("esm", d / "esm2_tiny.pt", backend="fair-esm", seed=1),
            "esm": save_random_model("esm", d / "esm", seed=1),  # the same weights, converted
            "bert": save_random_model("bert", d / "bert", seed=2)}


@pytest.fixture(scope="module")
def models(checkpoints):
    return {k: load(p) for k, p in checkpoints.items()}


class SlowScorer:
    """The docs/conventions.md formulas with explicit loops, one sequence per forward pass, through the
    raw module and the model's own tokenizer (not plmscope's tokenisation)."""

    def __init__(self, key, path, model):
        self.module = model.module
        self.key = key
        if key == "fair-esm":
            alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
            self.converter = alphabet.get_batch_converter()
            self.mask_id = alphabet.mask_idx
        else:
            self.tok = transformers.AutoTokenizer.from_pretrained(path)
            self.mask_id = self.tok.mask_token_id

    def tokens(self, seq):
        if self.key == "fair-esm":
            return self.converter([("s", seq)])[2]
        text = seq if self.key == "esm" else " ".join(seq)
        return self.tok(text, return_tensors="pt")["input_ids"]

    def log_probs(self, seq, masked=()):
        t = self.tokens(seq)
        for i in masked:
            t[0, 1 + i] = self.mask_id  # every family here has one token before the residues
        with torch.no_grad():
            if self.key == "fair-esm":
                logits = self.module(t)["logits"]
            else:
                logits = self.module(input_ids=t).logits
        return torch.log_softmax(logits[0].double(), dim=-1)

    def pll(self, seq):
        lp, t = self.log_probs(seq), self.tokens(seq)[0]
        total = 0.0
        for i in range(len(seq)):
            total += float(lp[1 + i, t[1 + i]])  # the residue's own position
        return total

    def score(self, scorer, wt, seq):
        if scorer == "pllr":
            return self.pll(seq) - self.pll(wt)
        mutated = [i for i in range(len(wt)) if seq[i] != wt[i]]
        lp = self.log_probs(wt, mutated if scorer == "masked_marginal" else ())
        t_wt, t_mut = self.tokens(wt)[0], self.tokens(seq)[0]
        total = 0.0
        for i in mutated:
            total += float(lp[1 + i, t_mut[1 + i]] - lp[1 + i, t_wt[1 + i]])
        return total


def variants(L, m, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, L.q, size=(m, L.n)).astype(np.uint8)
    x[0] = 0  # the wild type
    x[1] = x[2]  # a duplicate
    x[3] = 0
    x[3, 1] = 5  # a single mutant
    return x


@pytest.fixture(scope="module")
def models64(checkpoints):
    return {k: load(p, dtype="float64") for k, p in checkpoints.items()}


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("scorer", SCORERS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scorer_matches_slow_loop(checkpoints, models, models64, key, scorer, dtype):
    """The batched, deduplicated path equals the slow loop to 1e-9 in float64 and to 1e-5 in
    float32 (log-softmax and sums run in float64 in both; only the forward pass is float32)."""
    model = (models64 if dtype == "float64" else models)[key]
    L = Landscape(GB1, SITES)
    x = variants(L, 16, seed=len(key) + len(scorer))
    got = Oracle(model, L, scorer, batch_size=5)(x)
    slow = SlowScorer(key, checkpoints[key], model)
    want = np.array([slow.score(scorer, GB1, s) for s in L.sequences(x)])
    assert got.dtype == np.float64 and got.shape == (16,)
    tol = 1e-9 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert got[0] == 0.0
    assert np.std(want) > 0.1  # the scores are not trivially constant


@pytest.mark.parametrize("key", ["fair-esm", "bert"])
def test_batched_equals_unbatched(models, key):
    L = Landscape(GB1, [2, 30, 55], q=2, substitutions="AWG")
    x = L.all_variants()
    for scorer in SCORERS:
        one = Oracle(models[key], L, scorer, batch_size=1)(x)
        many = Oracle(models[key], L, scorer, batch_size=3)(x)
        big = Oracle(models[key], L, scorer, batch_size=512)(x)
        np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(one, big, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("key", KEYS)
def test_padding_does_not_change_scores(checkpoints, models, key):
    m = models[key]
    short, long = GB1[:20], GB1 + "MKTAYIAKQR"
    alone = pll(m, [short])
    padded = pll(m, [long, short, GB1[:7]], batch_size=3)
    np.testing.assert_allclose(padded[1], alone[0], rtol=1e-5, atol=1e-5)
    slow = SlowScorer(key, checkpoints[key], m)
    np.testing.assert_allclose(padded, [slow.pll(s) for s in (long, short, GB1[:7])],
                               rtol=1e-5, atol=1e-5)


def test_score_variants_of_full_sequences(models):
    m = models["fair-esm"]
    L = Landscape(GB1, SITES)
    x = variants(L, 12, seed=5)
    for scorer in SCORERS:
        np.testing.assert_allclose(score_variants(m, GB1, L.sequences(x), scorer),
                                   Oracle(m, L, scorer)(x), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="substitutions only"):
        score_variants(m, GB1, [GB1 + "A"], "pllr")
    assert score_variants(m, GB1, [], "pllr").shape == (0,)


@pytest.mark.parametrize("q,sites,subs", [(2, [1, 5, 9, 20, 33], "WWWWW"),
                                          (4, [2, 7, 40], ["ACD", "EFG", "HIK"]),
                                          (20, [4, 50], None)])
def test_wt_marginal_has_no_interactions(models, q, sites, subs):
    L = Landscape(GB1, sites, q, subs)
    x = L.all_variants()
    order = (x > 0).sum(axis=1)  # x doubles as the frequency grid k
    energy = {}
    for scorer in SCORERS:
        F = qary_fft(Oracle(models["fair-esm"], L, scorer)(x), q)
        energy[scorer] = np.sum(np.abs(F[order >= 2]) ** 2) / np.sum(np.abs(F[order >= 1]) ** 2)
    assert energy["wt_marginal"] < 1e-24
    assert energy["pllr"] > 1e-4 and energy["masked_marginal"] > 1e-4  # the contrast is real


def test_backends_agree_on_the_same_weights(checkpoints):
    """fair-esm and transformers (a folder converted from the fair-esm weights, and the .pt
    converted at load time) compute the same network. In float64 they agree to ~2e-6, not
    1e-12: transformers builds its rotary cos/sin tables in float32 whatever the model dtype,
    fair-esm in the model dtype. A wrong parameter mapping would differ by O(1)."""
    fair = load(checkpoints["fair-esm"], dtype="float64")
    hf_folder = load(checkpoints["esm"], dtype="float64")
    hf_pt = load(checkpoints["fair-esm"], backend="transformers", dtype="float64")
    batch = fair.tokenize([GB1, GB1[:30]])
    with torch.no_grad():
        ref = fair.logits(batch.ids, batch.attention_mask)
        for other in (hf_folder, hf_pt):
            torch.testing.assert_close(other.logits(batch.ids, batch.attention_mask), ref,
                                       rtol=0, atol=1e-5)
            for layer in (0, 1, 2):
                torch.testing.assert_close(other.hidden(batch.ids, batch.attention_mask, layer),
                                           fair.hidden(batch.ids, batch.attention_mask, layer),
                                           rtol=0, atol=1e-5)
    L = Landscape(GB1, SITES)
    x = variants(L, 16, seed=9)
    for scorer in SCORERS:
        np.testing.assert_allclose(Oracle(hf_folder, L, scorer)(x), Oracle(fair, L, scorer)(x),
                                   rtol=1e-5, atol=1e-5)


def test_backends_agree_in_float32(models):
    L = Landscape(GB1, SITES)
    x = variants(L, 16, seed=11)
    for scorer in SCORERS:
        np.testing.assert_allclose(Oracle(models["esm"], L, scorer)(x),
                                   Oracle(models["fair-esm"], L, scorer)(x), rtol=1e-4, atol=1e-4)


def test_passes_are_shared_and_deduplicated(models):
    m = models["fair-esm"]
    L = Landscape(GB1, SITES)
    x = variants(L, 40, seed=3)
    x = np.concatenate([x, x[:10]])
    distinct = np.unique(x, axis=0)
    mutated = np.unique(distinct > 0, axis=0)
    o = Oracle(m, L, "masked_marginal")
    o(x)
    assert o.sequences_forwarded == int(mutated.any(axis=1).sum())  # one pass per mask pattern
    again = o(x[::-1])  # later calls reuse the pattern tables
    assert o.sequences_forwarded == int(mutated.any(axis=1).sum())
    np.testing.assert_array_equal(again, Oracle(m, L, "masked_marginal")(x[::-1]))
    o = Oracle(m, L, "pllr")
    o(x)
    assert o.sequences_forwarded == len(distinct)  # distinct non-wild-type variants + the wild type
    o(x[:5])
    assert o.sequences_forwarded == len(distinct) + len(np.unique(x[:5], axis=0)) - 1
    o = Oracle(m, L, "wt_marginal")
    o(x)
    o(x)
    assert o.sequences_forwarded == 1


def test_masked_marginal_single_mutants_match_wt_marginal_formula(models):
    """For one mutated site both marginals read the same log-probabilities except that the
    site is masked; with token dropout ESM rescales, so they differ, but each single mutant's
    masked score must equal its own slow computation (checked above) and the pattern table
    must be shared by all 19 substitutes of a site (one pass)."""
    L = Landscape(GB1, [7])
    o = Oracle(models["fair-esm"], L, "masked_marginal")
    s = o(np.arange(20, dtype=np.uint8)[:, None])
    assert o.sequences_forwarded == 1 and s[0] == 0
    assert len(np.unique(s[1:])) == 19


def test_oom_back_off(models):
    """run_batches halves the batch when a forward pass runs out of memory and remembers it."""
    m = load(models["bert"].source)
    seen, done = [], np.zeros(20, int)

    def step(a, b):
        seen.append(b - a)
        if b - a > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated batch too large)")
        done[a:b] += 1

    run_batches(m, 20, 16, step, progress=False)
    assert seen[:3] == [16, 8, 4] and m.batch_cap == 2
    np.testing.assert_array_equal(done, 1)
    seen.clear()
    run_batches(m, 4, 16, step, progress=False)
    assert seen == [2, 2]

    def always(a, b):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.OutOfMemoryError):
        run_batches(m, 4, 4, always, progress=False)


def test_scorer_errors(checkpoints, models, tmp_path):
    L = Landscape(GB1, SITES)
    with pytest.raises(ValueError, match="scorer must be one of"):
        Oracle(models["bert"], L, "pll")
    t5 = load(save_random_model("t5", tmp_path / "t5"))
    with pytest.raises(ValueError, match="no masked-LM head"):
        Oracle(t5, L, "pllr")
    with pytest.raises(ValueError, match="1100 residues but .* at most 1022"):
        Oracle(models["fair-esm"], Landscape("A" * 1100, [3]), "pllr")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        Oracle(models["bert"], L, "pllr", batch_size=0)
    o = Oracle(models["bert"], L, "pllr")
    assert o(np.zeros((0, 4), np.uint8)).shape == (0,)
    with pytest.raises(ValueError, match="outside"):
        o(np.full((1, 4), 20))


def test_pattern_memo_budget(models, monkeypatch):
    """Past its memory budget the masked-marginal memo drops its oldest tables: scores stay
    the same, passes are repeated."""
    from plmscope.models import scoring

    m = models["fair-esm"]
    L = Landscape(GB1, SITES)
    x = variants(L, 40, seed=3)
    want = Oracle(m, L, "masked_marginal")(x)
    monkeypatch.setattr(scoring, "_PATTERN_MEMO_BYTES", 3 * len(SITES) * m.vocab_size * 8)
    o = Oracle(m, L, "masked_marginal")
    np.testing.assert_array_equal(o(x), want)
    first = o.sequences_forwarded
    assert len(o._scorer._pattern_tables) == 3
    np.testing.assert_array_equal(o(x), want)
    assert o.sequences_forwarded > first
